"""Settings of the daphne processes that tests start: the project's, with a fast heartbeat."""

import os

from config.settings import *  # noqa: F403

WS_HEARTBEAT_SECONDS = float(os.environ.get("WS_HEARTBEAT_SECONDS", "20"))
