"""A WebSocket client (RFC 6455) as light as a load generator needs: an asyncio.Protocol that does the
HTTP/1.1 upgrade itself and parses the server's frames in bulk, several per read.

bench/ws_fanout.py's load generator receives tens of thousands of frames a second on one core; the
`websockets` library spends about 16 µs of CPU on each (a task wake-up, a queue and a decode per
frame), which left too little of the machine's two cores for the servers it measures. Here a read
of the socket is one call, its frames are sliced out of the bytes received and handed over
undecoded, and each read is timestamped once (every frame in it reached the process at that moment).

What a load generator needs and no more: no extensions (no compression), no subprotocol, no TLS.
Client frames are masked, as the RFC requires, with a random key per frame (os.urandom): the
cost is nothing at the rates the load generator sends. Fragmented messages are joined. A ping is
answered with a pong; a close is answered with a close, and the server then ends the connection.

The load generator runs it on uvloop (run() below). libuv polls and reads in C, into one buffer of
the loop's, and hands each read over as bytes of its own size: one Python call a read. asyncio's
selector loop spent Python on every read around the system call, and its plain Protocol's read was
a new 256 KiB bytes object each time (an mmap and a page fault), which is why this client was an
asyncio.BufferedProtocol there; under uvloop that costs two Python calls a read more than this does.
User CPU per copy at 70,000 copies a second (1,000 sockets): 3.5-4.2 µs on asyncio, 2.3-2.4 µs here;
the kernel's part, 3.5-4.3 µs a copy, is the floor of any client reading one frame per system call.
"""

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL_CLOSURE = 1000
MAX_HEADER = 65536  # bytes of an upgrade response: more is not a WebSocket server answering


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The load generator's event loop (tests/bench/conftest.py runs the client's tests on it too)."""
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on the load generator's loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


class HandshakeError(Exception):
    """The server did not switch protocols (refused origin, no such path, not a WebSocket server)."""


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def upgrade_request(host: str, path: str, key: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def check_upgrade(head: bytes, key: bytes) -> None:
    """Raise HandshakeError unless `head` (the response up to its blank line) accepts `key`."""
    status, *lines = head.decode("latin-1").split("\r\n")
    parts = status.split(" ", 2)
    if len(parts) < 2 or parts[1] != "101":
        raise HandshakeError(f"server answered {status!r}")
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("sec-websocket-accept", "").encode() != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept")


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte key repeated: one big-integer operation, not a Python loop over bytes."""
    n = len(payload)
    if not n:
        return payload
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked frame."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + mask(payload, key)


class WebSocket(asyncio.Protocol):
    """One connection. `on_message(payload, received_at)` gets each text (or binary) message's bytes.

    `opened` resolves once the server accepted the upgrade (or fails with the reason); `closed`
    once the TCP connection is gone. `close_code` is the code of the server's close frame, if any.
    """

    def __init__(self, host: str, path: str, headers: dict[str, str], on_message: Callable[[bytes, float], None]):
        self.host, self.path, self.headers, self.on_message = host, path, headers, on_message
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self.buffer = b""
        self.handshaken = False
        self.fragments: list[bytes] = []
        self.close_sent = False
        self.close_code: int | None = None
        self.pings = 0  # control pings answered: tests see the server's keepalive reached us

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(upgrade_request(self.host, self.path, self.key, self.headers))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.handshaken:
            data = self.handshake(data)
            if not data:
                return
        buf = self.buffer + data if self.buffer else data
        self.buffer = buf[self.frames(buf, now) :]

    def connection_lost(self, exc) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or HandshakeError("connection closed during the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)

    # Receiving

    def handshake(self, data: bytes) -> bytes:
        """Collect the upgrade response; return what came after it (the first frames), if accepted."""
        head = self.buffer + data
        end = head.find(b"\r\n\r\n")
        if end < 0:
            self.buffer = head
            if len(head) > MAX_HEADER:
                self.fail(HandshakeError("upgrade response too long"))
            return b""
        self.buffer = b""
        try:
            check_upgrade(head[:end], self.key)
        except HandshakeError as error:
            self.fail(error)
            return b""
        self.handshaken = True
        self.opened.set_result(None)
        return head[end + 4 :]

    def frames(self, buf: bytes, now: float) -> int:
        """Hand every complete frame in `buf` on; return where the incomplete rest starts.

        The hot path of the load generator: a text frame of under 64 KiB costs a few byte reads and
        one slice. A server's frames are never masked (RFC 6455 5.1), so the payload is as sent.
        """
        pos, end = 0, len(buf)
        on_message = self.on_message
        while end - pos >= 2:
            first, length = buf[pos], buf[pos + 1]
            if length & 0x80:
                self.fail(ConnectionError("the server masked a frame"))
                return end
            start = pos + 2
            if length == 126:
                start += 2
                length = int.from_bytes(buf[pos + 2 : start], "big")
            elif length == 127:
                start += 8
                length = int.from_bytes(buf[pos + 2 : start], "big")
            stop = start + length
            if stop > end:  # also when the extended length itself is not all here yet
                break
            if first == 0x80 | TEXT:
                on_message(buf[start:stop], now)
            else:
                self.other_frame(first, buf[start:stop], now)
            pos = stop
        return pos

    def other_frame(self, first: int, payload: bytes, now: float) -> None:
        """Control frames, fragments and binary messages: rare, so kept off frames()' path."""
        opcode, final = first & 0x0F, first & 0x80
        if opcode == PING:
            self.pings += 1
            self.send_frame(PONG, payload)
        elif opcode == PONG:
            pass
        elif opcode == CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            if not self.close_sent:  # echo the code; the server then ends the TCP connection
                self.send_frame(CLOSE, payload[:2])
                self.close_sent = True
        elif opcode in (TEXT, BINARY, CONTINUATION):
            self.fragments.append(payload)
            if final:
                message, self.fragments = b"".join(self.fragments), []
                self.on_message(message, now)
        else:
            self.fail(ConnectionError(f"unknown opcode {opcode}"))

    def fail(self, error: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(error)
        if self.transport is not None:
            self.transport.abort()

    # Sending

    def send_frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def send(self, text: str) -> None:
        """One text message (written now; the transport buffers what the socket does not take)."""
        if not self.close_sent:
            self.send_frame(TEXT, text.encode())

    async def close(self, timeout: float = 10.0) -> None:
        """Close handshake: send a close frame, wait for the server to end the connection."""
        if not self.close_sent:
            self.send_frame(CLOSE, NORMAL_CLOSURE.to_bytes(2, "big"))
            self.close_sent = True
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()


async def connect(
    host: str,
    port: int,
    path: str,
    on_message: Callable[[bytes, float], None],
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> WebSocket:
    """Open a connection and wait for the upgrade; HandshakeError, OSError or TimeoutError if it fails."""
    loop = asyncio.get_running_loop()
    protocol = WebSocket(f"{host}:{port}", path, headers or {}, on_message)

    async def opening():
        await loop.create_connection(lambda: protocol, host, port)
        await protocol.opened

    try:
        await asyncio.wait_for(opening(), timeout)
    except BaseException:
        if protocol.transport is not None:
            protocol.transport.abort()
        raise
    return protocol
