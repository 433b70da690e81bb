"""The person behind a socket's session cookie: Channels' AuthMiddlewareStack in one layer.

AuthMiddlewareStack is three middlewares (cookies, session, user), each of which copies the scope
and keeps its copy and its coroutine frame for as long as the socket is open, with the cookies
and the session's store and decoded data in them: about 5 KB of every idle socket. The consumer
reads only the user, and a socket never writes its session (Channels saves one only on an HTTP
response). Here the session is read once, the user found by Channels' own get_user (the session's
auth hash checked, the session flushed when it fails), and only the user goes on in the scope.
"""

from importlib import import_module

from channels.auth import get_user
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie


class SessionAuth:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        return await self.inner({**scope, "user": await user_of(scope)}, receive, send)


async def user_of(scope) -> object:
    """The signed-in user of the scope's session cookie, else an AnonymousUser."""
    session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser()
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return await get_user({"session": session})


def _cookie(scope, name: str) -> str | None:
    # As Channels' CookieMiddleware reads them: the first Cookie header.
    for header, value in scope["headers"]:
        if header == b"cookie":
            return parse_cookie(value.decode("latin1")).get(name)
    return None
