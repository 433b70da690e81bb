"""The middleware after this one, and the view, in one thread hop under ASGI.

Django builds an ASGI request's middleware chain asynchronously from the view outwards as long
as each middleware can be async: each `MiddlewareMixin` then runs its `process_request` and
`process_response` through their own `sync_to_async` hop, the first sync-only one (WhiteNoise)
adds an `async_to_sync` back to the event loop, and the (sync) view is one more hop: about
fifteen thread switches per API request, a quarter to a third of `GET /api/me/`'s CPU time.

This middleware is sync-only, so Django runs it, and everything before it, in one hop to the
thread it keeps for sync code (`thread_sensitive`). There it calls the rest of
`settings.MIDDLEWARE` and the view as Django's synchronous (WSGI) handler would, in the same
thread, instead of the async chain Django built after it (never called: those middleware are
instantiated twice at start-up, which costs nothing per request). Every
middleware of this project is synchronous code and every view a sync view; an async view would
still work (Django's sync handler runs it with `async_to_sync`).
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils.module_loading import import_string

PATH = f"{__name__}.OneThreadHop"


class OneThreadHop:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.rest = SyncStack(settings.MIDDLEWARE[settings.MIDDLEWARE.index(PATH) + 1 :])

    def __call__(self, request):
        return self.rest.respond(request)


class SyncStack(BaseHandler):
    """Django's synchronous handler for these middleware: what `load_middleware(is_async=False)`
    builds, for a list other than `settings.MIDDLEWARE`."""

    def __init__(self, middleware: list[str]):
        super().__init__()
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(middleware):
            factory = import_string(path)
            if not getattr(factory, "sync_capable", True):
                raise ImproperlyConfigured(f"{path} is async-only: list it before {PATH} in MIDDLEWARE.")
            try:
                instance = factory(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    def respond(self, request):
        # Not get_response(): the outer (async) handler sets the URLconf, adds the closers and logs errors.
        return self._middleware_chain(request)
