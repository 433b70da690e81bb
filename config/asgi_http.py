"""HTTP under ASGI in one thread hop per request, on a bounded pool of reused threads.

Django's `ASGIHandler` makes a new thread per request (`ThreadSensitiveContext`) and crosses to it
three times: `request_started` (its database receiver is sync), the middleware and the view, and
`response.close()` (`request_finished`). Starting a thread and each crossing cost about a quarter
to three quarters of a millisecond: a third of `GET /api/me/`.

Here the body is read on the event loop (same size limits: the request object enforces them), then
one call on a pool thread does what Django's synchronous (WSGI) handler does: `request_started`,
the request, `settings.MIDDLEWARE` built with `load_middleware(is_async=False)`, the view, and for
an ordinary response `close()` (`request_finished`: the thread's database connection goes back to
psycopg's pool before the response is even sent). The event loop then sends the bytes.

A streaming response (a file, an attachment) is consumed and closed as Django does it, after
sending; its view's thread hands its database connection back first, since iterating and closing
happen in other threads.
"""

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections
from django.http import FileResponse
from django.urls import set_script_prefix


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.HTTP_THREADS, thread_name_prefix="parley-http")


def in_http_thread(function):
    """`function` as a coroutine function that runs it on one of the pool's threads."""
    return SyncToAsync(function, thread_sensitive=False, executor=_executor())


class OneHopASGIHandler(ASGIHandler):
    def __init__(self):
        BaseHandler.__init__(self)  # not ASGIHandler's: it builds the async middleware chain
        self.load_middleware(is_async=False)
        self._serve_in_thread = in_http_thread(self._serve)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)  # no ThreadSensitiveContext: no thread per request

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await self._serve_in_thread(scope, body_file)
            if response.streaming:
                await self._stream(response, receive, send)
            else:
                # The client left while the bytes went out: as Django does, nothing more to do.
                with contextlib.suppress(asyncio.CancelledError):
                    await self.send_response(response, send)
        finally:
            body_file.close()

    def _serve(self, scope, body_file):
        """Everything synchronous about one request, in one pool thread."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)  # middleware errors become responses in there
            response._handler_class = self.__class__
        except BaseException:
            signals.request_finished.send(sender=self.__class__)
            raise
        if response.streaming:
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size  # the server chunks: fewer, larger reads
            close_old_connections()  # the iteration and close() run on other threads
        else:
            response.close()  # request_finished; the content is already bytes
        return response

    async def _stream(self, response, receive, send):
        """Send a streaming response while listening for a disconnect, then close it (Django's way)."""
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(self.send_response(response, send)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                    await task
        finally:
            # Where Django's response iterated a sync iterator (thread_sensitive), so that
            # request_finished releases that thread's database connection.
            await SyncToAsync(response.close, thread_sensitive=True)()
