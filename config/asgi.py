import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models (consumers, auth middleware).
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from chat.socket_auth import SessionAuth  # noqa: E402
from config.asgi_http import OneHopASGIHandler  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": OneHopASGIHandler(),  # one thread hop per request, not a thread
        # Origin check first: a page on another site must never ride a user's session cookie.
        "websocket": AllowedHostsOriginValidator(SessionAuth(URLRouter(websocket_urlpatterns))),
    }
)

# Everything loaded so far (Django, the URL conf, the apps) lives as long as the process: frozen,
# the garbage collector stops scanning it on every full collection. With a thousand sockets those
# scans were the long tail of delivery latency (room of 1,000 at half rate: p99 120 ms, not 213).
gc.freeze()
