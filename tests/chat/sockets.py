"""Real sockets on the real ASGI application (origin check, session middleware, channel layer)."""

import asyncio
import json
from contextlib import asynccontextmanager

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from config.asgi import application

ORIGIN = b"http://127.0.0.1:8000"
# Presence and the server's pings arrive whenever someone connects or a beat passes; most tests
# are about something else and skip them.
BACKGROUND = frozenset({"presence", "ping"})
WAIT = 5


def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def session_cookie(user) -> str:
    client = await database_sync_to_async(logged_in_client)(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class Socket:
    def __init__(self, communicator: WebsocketCommunicator, *, skip=BACKGROUND):
        self.communicator = communicator
        self.skip = skip

    async def send(self, event_type: str, **fields) -> None:
        await self.communicator.send_to(text_data=json.dumps({"type": event_type, **fields}))

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self) -> dict:
        """The next event that is not skipped; fails after WAIT seconds, or if the server closed."""
        while True:
            output = await self.communicator.receive_output(WAIT)
            assert output["type"] == "websocket.send", f"expected an event, got {output}"
            event = json.loads(output["text"])
            if event["type"] not in self.skip:
                return event

    async def expect(self, event_type: str) -> dict:
        event = await self.receive()
        assert event["type"] == event_type, event
        return event

    async def expect_each(self, *event_types: str) -> dict[str, dict]:
        """The next events, one of each type, in whatever order they come: a send's message.ack
        (from the socket's own handler) and message.new (from the room) travel separate paths.
        """
        events: dict[str, dict] = {}
        for _ in event_types:
            event = await self.receive()
            assert event["type"] in event_types and event["type"] not in events, event
            events[event["type"]] = event
        return events

    async def request(self, event_type: str, **fields) -> dict:
        await self.send(event_type, **fields)
        return await self.receive()

    async def nothing(self, seconds: float = 0.3) -> bool:
        """True when no event (other than skipped ones) arrives within `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            await self.communicator.receive_nothing(deadline - loop.time())
            while not self.communicator.output_queue.empty():
                output = self.communicator.output_queue.get_nowait()
                if output["type"] != "websocket.send" or json.loads(output["text"])["type"] not in self.skip:
                    raise AssertionError(f"expected nothing, got {output}")
        return True

    async def closed(self) -> int:
        """Wait for the server to close this socket, skipping events on the way; returns the code."""
        while True:
            output = await self.communicator.receive_output(WAIT)
            if output["type"] == "websocket.close":
                return output.get("code", 1000)


def communicator(*, cookie: str | None = None, origin: bytes | None = ORIGIN) -> WebsocketCommunicator:
    headers = []
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/", headers=headers)


@asynccontextmanager
async def connected(user=None, *, cookie: str | None = None, skip=BACKGROUND, hello: bool = True):
    """A signed-in socket (session cookie of `user`, or the given cookie), its hello already read."""
    if cookie is None and user is not None:
        cookie = await session_cookie(user)
    ws = communicator(cookie=cookie)
    accepted, code = await ws.connect(WAIT)
    assert accepted, f"refused with {code}"
    socket = Socket(ws, skip=skip)
    try:
        if hello:
            await socket.expect("hello")
        yield socket
    finally:
        await ws.disconnect()
        # Let presence and last_seen updates of the closing socket finish before the next step.
        await asyncio.sleep(0)
