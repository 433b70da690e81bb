"""A chat client for fault tests that behaves as the room page's script does, and remembers what it saw.

- Every send carries a client_id and stays pending until its message.ack; pending sends go again
  after a reconnect and after an error the server may recover from (the database away), so a
  send is retried until it is acknowledged, and the server's (room, author, client_id) rule makes
  the retries harmless.
- It reconnects when the socket drops (to the next server in its list when one refuses), then
  resumes each room from the last seq of its unbroken run, and asks again when a gap stays open.
- What it saw is kept per room as {seq: message id}; a seq seen with two different ids, or a
  refused send, is recorded as a problem for the test to report.

`freeze()` stops it reading its socket (and so answering pings) without closing it: a frozen tab.
"""

import asyncio
import contextlib
import json
import random
import uuid
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ORIGIN = "http://127.0.0.1:8000"
SESSION_COOKIE = "sessionid"
GAP_WAIT_SECONDS = 1.0
# Errors a retry may cure: the database or Redis away, the sender too fast.
RETRIED_ERRORS = {"unavailable", "rate_limited"}


@dataclass
class Pending:
    room: int
    body: str
    client_id: str


@dataclass
class RoomView:
    messages: dict[int, int] = field(default_factory=dict)  # seq -> message id
    last_seq: int = 0  # The end of the unbroken run from seq 1.

    def add(self, seq: int, message_id: int, problems: list[str]) -> None:
        known = self.messages.setdefault(seq, message_id)
        if known != message_id:
            problems.append(f"seq {seq} arrived as message {known} and as message {message_id}")
        while self.last_seq + 1 in self.messages:
            self.last_seq += 1


class ChatClient:
    def __init__(self, name: str, *, ports: list[int], cookie: str, rooms: list[int]):
        self.name, self.ports, self.cookie = name, list(ports), cookie
        self.views = {room: RoomView() for room in rooms}
        self.pending: dict[str, Pending] = {}
        self.acked: dict[str, tuple[int, int]] = {}  # client_id -> (room, seq)
        self.arrivals: dict[int, list[int]] = {}  # room -> seqs of its message.new events, as they came
        self.problems: list[str] = []
        self.refusals = 0  # Errors answered to sends that a retry then cured.
        self.closes: list[int | None] = []  # Close codes of the sockets it lost (None: no close frame).
        self.connections = 0
        self.socket = None
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.connected = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.gap_task: asyncio.Task | None = None

    # Driving it

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"client {self.name}")

    async def stop(self) -> None:
        for task in (self.task, self.gap_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()

    async def send(self, room: int, body: str) -> str:
        """Queue a message; it goes now if the socket is open, else on the next connect."""
        item = Pending(room=room, body=body, client_id=str(uuid.uuid4()))
        self.pending[item.client_id] = item
        await self._transmit(item)
        return item.client_id

    def freeze(self) -> None:
        self.thawed.clear()

    def thaw(self) -> None:
        self.thawed.set()

    async def settle(self, expected: dict[int, list[int]], *, timeout: float = 30.0) -> None:
        """Wait until nothing is pending and every room's view holds exactly `expected` {room: [seq]}."""
        try:
            async with asyncio.timeout(timeout):
                while self.pending or any(sorted(self.views[r].messages) != seqs for r, seqs in expected.items()):
                    await asyncio.sleep(0.1)
        except TimeoutError:
            return  # The comparison that follows says what is missing.

    # The connection

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            port = self.ports[0]
            try:
                async with connect(
                    f"ws://127.0.0.1:{port}/ws/",
                    origin=ORIGIN,
                    additional_headers=[("Cookie", f"{SESSION_COOKIE}={self.cookie}")],
                    open_timeout=5,
                    ping_interval=None,
                    max_queue=4,
                ) as socket:
                    await self._session(socket)
                    backoff = 0.1
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except Exception:  # Refused, reset or timed out: try the next server, as a load balancer would.
                self.ports.append(self.ports.pop(0))
            finally:
                self.socket = None
                self.connected.clear()
            await asyncio.sleep(backoff * (1 + random.random()))  # Jitter, as socket.js does.
            backoff = min(backoff * 2, 1.0)

    async def _session(self, socket) -> None:
        hello = json.loads(await socket.recv())
        if hello.get("type") != "hello":
            raise ConnectionClosed(None, None)
        self.socket = socket
        self.connections += 1
        self.connected.set()
        await self._emit({"type": "resume", "rooms": {str(room): view.last_seq for room, view in self.views.items()}})
        for item in list(self.pending.values()):
            await self._transmit(item)
        while True:
            await self.thawed.wait()
            event = json.loads(await socket.recv())
            await self._handle(event)

    async def _emit(self, event: dict) -> None:
        socket = self.socket
        if socket is None:
            return
        with contextlib.suppress(ConnectionClosed):
            await socket.send(json.dumps(event))

    async def _transmit(self, item: Pending) -> None:
        await self._emit(
            {
                "type": "message.send",
                "id": item.client_id,
                "room": item.room,
                "body": item.body,
                "client_id": item.client_id,
            }
        )

    # Events from the server

    async def _handle(self, event: dict) -> None:
        kind = event["type"]
        if kind == "ping":
            await self._emit({"type": "pong", "id": event.get("id")})
        elif kind == "message.new":
            self.arrivals.setdefault(event["message"]["room"], []).append(event["message"]["seq"])
            self._saw(event["message"])
        elif kind == "message.ack":
            message = event["message"]
            self.pending.pop(event["client_id"], None)
            self.acked[event["client_id"]] = (message["room"], message["seq"])
            self._saw(message)
        elif kind == "resync":
            self.problems.append(f"told to reload room {event['room']}")
        elif kind == "error":
            await self._refused(event)

    def _saw(self, message: dict) -> None:
        view = self.views.get(message["room"])
        if view is None:
            return
        view.add(message["seq"], message["id"], self.problems)
        if len(view.messages) > view.last_seq and (self.gap_task is None or self.gap_task.done()):
            self.gap_task = asyncio.create_task(self._close_gap())

    async def _close_gap(self) -> None:
        # Messages sent at the same moment may arrive out of order; a gap that stays asks for the rest.
        await asyncio.sleep(GAP_WAIT_SECONDS)
        behind = {str(room): view.last_seq for room, view in self.views.items() if len(view.messages) > view.last_seq}
        if behind:
            await self._emit({"type": "resume", "rooms": behind})

    def _retry(self, item: Pending) -> None:
        if item.client_id in self.pending:
            asyncio.ensure_future(self._transmit(item))

    async def _refused(self, event: dict) -> None:
        item = self.pending.get(event.get("id"))
        if item is None:
            self.problems.append(f"error {event}")
        elif event["code"] in RETRIED_ERRORS:
            self.refusals += 1
            asyncio.get_running_loop().call_later(max(0.3, event.get("retry_after", 0)), self._retry, item)
        else:
            self.pending.pop(item.client_id)
            self.problems.append(f"send refused: {event}")
