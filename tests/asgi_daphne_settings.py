"""Settings of the daphne that tests/test_asgi_stack.py starts: the test daphne's, plus that file's views."""

from tests.chat.daphne_settings import *  # noqa: F403

ROOT_URLCONF = "tests.test_asgi_stack"
