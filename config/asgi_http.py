"""HTTP under ASGI in one thread hop per request, on a bounded pool of reused threads.

Django's `ASGIHandler` makes a new thread per request (`ThreadSensitiveContext`) and crosses to it
three times: `request_started` (its database receiver is sync), the middleware and the view, and
`response.close()` (`request_finished`). Starting a thread and each crossing cost about a quarter
to three quarters of a millisecond: a third of `GET /api/me/`.

Here the body is read on the event loop (same size limits: the request object enforces them), then
one call on a pool thread does what Django's synchronous (WSGI) handler does: `request_started`,
the request, `settings.MIDDLEWARE` built with `load_middleware(is_async=False)`, the view, and for
an ordinary response `close()` (`request_finished`: the thread's database connection goes back to
psycopg's pool before the response is even sent). The event loop then sends the bytes, in one message.

A streaming response (a file, an attachment) is consumed and closed as Django does it, in a
`ThreadSensitiveContext` of its own: its thread-sensitive calls (`__aiter__` reading a sync
iterator, `close()`) run on a thread of this response's, one after the other. Without the context
they would all go to asgiref's one thread for the whole process, where Channels signs WebSockets in
(its `get_user`, called by chat.socket_auth) and SQLite mode runs their database work: one download
read there holds up every sign-in. The view's thread hands its database connection back first, since iterating and
closing happen on that other thread.

A task cannot stop work it started in a thread, and `SyncToAsync` returns as soon as its task is
cancelled (daphne cancels an application 10 s after its client left, then every second until it
ends): the body is closed and a streaming response closed only once the work in a thread ended.
"""

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from asgiref.sync import SyncToAsync, ThreadSensitiveContext
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


async def _wait_out(awaitable) -> bool:
    """Await `awaitable` to its end even if this task is cancelled meanwhile; True if it was.

    What follows a call into a thread must not run beside it (closing the body the view still
    reads), nor be dropped (a `close()` cancelled while queued behind a read never runs).
    """
    future = asyncio.ensure_future(awaitable)
    cancelled = False
    while not future.done():
        try:
            await asyncio.wait([future])
        except asyncio.CancelledError:
            cancelled = True
    return cancelled


class OneHopASGIHandler(ASGIHandler):
    def __init__(self):
        BaseHandler.__init__(self)  # not ASGIHandler's: it builds the async middleware chain
        self.load_middleware(is_async=False)
        self._serve_in_thread = in_http_thread(self._serve)

    @classmethod
    def chunk_bytes(cls, data):
        """The whole body in one ASGI message. Django slices it into 64 KB copies, each a message
        through daphne to Twisted, which joins them again into one buffer before writing."""
        yield data, True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # No ThreadSensitiveContext (a thread) per request: only a streaming response gets one (handle).
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        serving = asyncio.ensure_future(self._serve_in_thread(scope, body_file))
        cancelled = await _wait_out(serving)
        body_file.close()  # only now: the view may read it until it returns
        response = serving.result()  # what its thread raised, if anything
        if cancelled:  # the client left long ago: nothing to send
            if response.streaming:
                await _wait_out(in_http_thread(response.close)())  # request_finished
            raise asyncio.CancelledError
        if response.streaming:
            async with ThreadSensitiveContext():  # the response's own thread (module docstring)
                await self._stream(response, receive, send)
        else:
            # The client left while the bytes went out: as Django does, nothing more to do.
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)

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
            for task in tasks:
                task.cancel()  # left running when this task was cancelled (done ones ignore it)
            # On the thread that iterated a sync iterator (thread-sensitive, in the request's
            # context), after the read, so that request_finished releases its database connection.
            if await _wait_out(SyncToAsync(response.close, thread_sensitive=True)()):
                raise asyncio.CancelledError
