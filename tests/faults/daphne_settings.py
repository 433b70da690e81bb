"""Settings of the daphne processes fault tests start: the fast-heartbeat test settings, with the
per-person send rate raised so that a burst of test traffic measures the faults, not the policy."""

from tests.chat.daphne_settings import *  # noqa: F403

MESSAGE_RATE_BURST = 100_000
MESSAGE_RATE_PER_SECOND = 100_000.0
