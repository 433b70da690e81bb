"""Parley's own settings, with the per-person send rate raised so the server is measured, not the policy.

The limiter still runs on every send (its Redis round trips are part of the cost); only its
numbers change. Nothing else differs from config.settings.
"""

from config.settings import *  # noqa: F403

MESSAGE_RATE_BURST = 100_000
MESSAGE_RATE_PER_SECOND = 100_000.0
