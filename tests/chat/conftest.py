# The same isolation as the room tests: fast hashing and a channel-layer prefix of this run's own.
from tests.rooms.conftest import _fast_password_hashing, _private_channel_prefix  # noqa: F401
