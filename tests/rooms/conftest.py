import os

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # make_user hashes a password per person; the production hasher would make each test seconds long.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_channel_prefix(settings):
    # Redis pub/sub ignores the database number: another test run on the same Redis would otherwise
    # hear this run's "room.1" events (and this run theirs).
    layer = settings.CHANNEL_LAYERS["default"]
    if "prefix" in layer.get("CONFIG", {}):
        settings.CHANNEL_LAYERS = {
            "default": {**layer, "CONFIG": {**layer["CONFIG"], "prefix": f"{layer['CONFIG']['prefix']}-{os.getpid()}"}}
        }
