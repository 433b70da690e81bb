"""The reference peer: the Channels tutorial chat with library defaults, no database, no auth.

CHANNEL_LAYERS is the tutorial's: channels_redis.core.RedisChannelLayer with default options
(capacity 100, expiry 60 s). BENCH_REFERENCE_LAYER=pubsub switches to the pub/sub layer that
Parley uses, to separate the cost of the layer from the cost of the application;
BENCH_REFERENCE_LAYER=memory to Channels' in-process layer, for the load generator's own test
(tests/bench/test_wsclient.py), which then runs without Redis.
"""

import os

SECRET_KEY = "bench-reference-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["daphne", "channels"]
ASGI_APPLICATION = "bench.reference.asgi.application"
DATABASES = {}
USE_TZ = True

_REDIS = os.environ.get("BENCH_REFERENCE_REDIS", "redis://127.0.0.1:6379/14")
_PREFIX = os.environ.get("BENCH_REFERENCE_PREFIX", "benchref")
_LAYER = os.environ.get("BENCH_REFERENCE_LAYER", "core")
if _LAYER == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
elif _LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_REDIS], "prefix": _PREFIX},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_REDIS], "prefix": _PREFIX},
        }
    }
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
