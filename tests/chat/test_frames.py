"""chat.frames against the real daphne, autobahn and Twisted objects, over a real socket pair.

The daphne server and its reactor do not run here: the protocol is made open by hand (as after its
handshake) and Twisted's buffered writes are flushed by calling its doWrite, as the reactor would.
"""

import socket
from functools import partial

import pytest
from channels.sessions import InstanceSessionWrapper
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory
from twisted.internet import reactor, ssl, tcp
from twisted.protocols.tls import TLSMemoryBIOFactory

from chat import frames
from chat.backlog import Backlog
from chat.consumers import ChatConsumer
from tests.chat.web import tls_server_context

TEXTS = ["hello", "x" * 125, "x" * 126, "é" * 200, "x" * 0xFFFF, "x" * 0x10000]


class Wire:
    """A daphne WebSocket protocol on a real TCP transport; `peer` is the client's end. With
    `tls_pem` (a certificate and its key), behind Twisted's TLS as daphne's `ssl:` endpoint puts it."""

    def __init__(self, tls_pem: bytes | None = None):
        ours, self.peer = socket.socketpair()
        ours.setblocking(False)
        self.peer.setblocking(False)
        factory = WebSocketFactory(None)
        if tls_pem:
            factory = TLSMemoryBIOFactory(ssl.PrivateCertificate.loadPEM(tls_pem).options(), False, factory)
        outermost = factory.buildProtocol(None)
        self.protocol = getattr(outermost, "wrappedProtocol", outermost)
        self.transport = tcp.Server(ours, outermost, ("127.0.0.1", 1), None, 0, reactor)
        outermost.makeConnection(self.transport)
        self.protocol.state = self.protocol.STATE_OPEN
        self.protocol.client_addr = ("127.0.0.1", 1)  # Set by daphne's handshake, logged by its sends.

    def received(self) -> bytes:
        """What reached the client so far, without letting Twisted write what it holds."""
        chunks = []
        while True:
            try:
                chunk = self.peer.recv(1 << 20)
            except BlockingIOError:
                return b"".join(chunks)
            chunks.append(chunk)

    def flushed(self) -> bytes:
        """Everything, Twisted's buffer included (what the reactor's next turns would write)."""
        data = self.received()
        while self.transport.dataBuffer[self.transport.offset :] or self.transport._tempDataBuffer:
            self.transport.doWrite()
            data += self.received()
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        # Out of the reactor's selector before the socket closes: its number is soon another socket's.
        self.transport.stopReading()
        self.transport.stopWriting()
        self.transport.socket.close()
        self.peer.close()


@pytest.fixture
def wire():
    with Wire() as made:
        yield made


@pytest.fixture
def other_wire():
    with Wire() as made:
        yield made


@pytest.mark.parametrize("text", TEXTS, ids=lambda text: f"{len(text.encode())} bytes")
def test_a_frame_is_the_one_autobahn_writes(wire, other_wire, text):
    other_wire.protocol.sendMessage(text.encode())

    assert frames.write_text(wire.protocol, text)

    assert wire.flushed() == other_wire.flushed()


def test_a_frame_reaches_the_socket_at_once_when_nothing_is_queued(wire):
    assert frames.write_text(wire.protocol, "hello")

    assert wire.received() == b"\x81\x05hello"


def test_a_frame_goes_behind_what_twisted_still_holds(wire):
    wire.transport.write(b"earlier")

    assert frames.write_text(wire.protocol, "hello")

    assert wire.received() == b""
    assert wire.flushed() == b"earlier\x81\x05hello"


def test_what_the_kernel_does_not_take_at_once_is_left_to_twisted(wire):
    text = "x" * 4_000_000  # More than a socket pair's buffers hold.

    assert frames.write_text(wire.protocol, text)

    assert wire.transport._tempDataBuffer  # The rest, written by the reactor's next turns.
    assert wire.flushed() == b"\x81\x7f" + len(text).to_bytes(8, "big") + text.encode()


def test_under_daphne_s_own_tls_a_frame_is_written_through_it_never_in_the_clear(tmp_path):
    tls_server_context(tmp_path, ca_name="Test CA", server_name="localhost")
    with Wire(tls_pem=(tmp_path / "server.pem").read_bytes()) as wire:
        assert frames.write_text(wire.protocol, "a secret")

        assert b"a secret" not in wire.flushed()  # held by TLS until the client's handshake


def test_frames_autobahn_must_handle_go_the_ordinary_way(wire):
    wire.protocol.maxMessagePayloadSize = 10
    assert not frames.write_text(wire.protocol, "x" * 11)  # autobahn refuses it (and says so)
    wire.protocol.maxMessagePayloadSize = 0

    wire.protocol.send_queue.append((b"queued", True))
    assert not frames.write_text(wire.protocol, "hello")  # behind autobahn's own queue
    wire.protocol.send_queue.clear()

    wire.protocol.state = wire.protocol.STATE_CLOSING
    assert not frames.write_text(wire.protocol, "hello")  # autobahn raises, as before

    assert wire.flushed() == b""


def test_the_protocol_is_found_behind_channels_session_wrapper(wire):
    send = partial(Server(application=None, endpoints=["tcp:port=0"]).handle_reply, wire.protocol)
    wrapped = InstanceSessionWrapper({"type": "websocket", "cookies": {}}, send)

    assert frames.daphne_protocol(wrapped.send) is wire.protocol
    assert frames.daphne_protocol(send) is wire.protocol


def test_no_protocol_is_found_under_another_server():
    async def send(message):
        pass

    assert frames.daphne_protocol(send) is None


async def consumer_on(wire) -> ChatConsumer:
    """A consumer handed the `send` it gets under daphne and chat.socket_auth: daphne's own."""
    server = Server(application=None, endpoints=["tcp:port=0"])
    server.connections = {wire.protocol: {}}  # What its run() would hold for this socket.
    consumer = ChatConsumer()
    consumer.base_send = partial(server.handle_reply, wire.protocol)
    consumer.backlog = Backlog(limit=1_000_000)
    return consumer


async def test_a_consumer_under_daphne_writes_its_text_frames_at_once_and_counts_them(wire):
    consumer = await consumer_on(wire)

    await consumer.send(text_data="hello")

    assert wire.received() == b"\x81\x05hello"  # Through Channels and autobahn it would wait for the reactor.
    assert consumer.backlog.written == 5


async def test_a_consumer_s_binary_frames_go_through_channels(wire):
    consumer = await consumer_on(wire)

    await consumer.send(bytes_data=b"\x00\x01")

    assert wire.received() == b""
    assert wire.flushed() == b"\x82\x02\x00\x01"
