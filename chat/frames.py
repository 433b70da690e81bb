"""Text frames written straight to daphne's socket: the hot path of a group event's delivery.

A room of 1,000 turns one event into 1,000 frames. Through the stack each copy went Channels'
send (a message dict) → Channels' session wrapper (until chat.socket_auth replaced
AuthMiddlewareStack) → daphne's reply coroutine → autobahn, which
built the same frame header again and formatted a debug line it then threw away (`autobahn.util.hl`,
through click) → Twisted, which registered the socket with epoll to write it on the next turn
of the loop and unregistered it afterwards (two `epoll_ctl` calls and a callback per copy, the
biggest single cost in profiles). Here the frame is built once per text and, when nothing is
queued before it, handed to the kernel at once, as asyncio's own transports do.

Whatever is unusual goes the ordinary way, so that every behaviour stays autobahn's and Twisted's:
a socket not open (closing, closed: autobahn raises as before), frames autobahn would compress,
fragment, mask, log or refuse as too big, anything already queued (autobahn's or Twisted's: the
frame must go behind it), TLS, and whatever the kernel did not take at once (Twisted buffers it,
pauses producers, and meets a broken connection as usual). Only autobahn's traffic counters,
which daphne never reads, do not count these frames.
"""

import functools
import struct

from autobahn.websocket.protocol import WebSocketProtocol
from daphne.server import Server
from twisted.internet import tcp, unix

OPCODE_TEXT_FINAL = 0x81  # FIN bit and opcode 1 (text); server frames are not masked.
PLAIN_SOCKETS = (tcp.Server, unix.Server)  # daphne's connections on a TCP port or a Unix socket


@functools.lru_cache(maxsize=1)
def text_frame(text: str) -> tuple[bytes, int]:
    """One unfragmented, unmasked text frame, and the size of its payload. Cached for the one text
    being fanned out: its 1,000 copies share one frame, keyed by the text itself."""
    payload = text.encode()
    size = len(payload)
    if size <= 125:
        header = bytes((OPCODE_TEXT_FINAL, size))
    elif size <= 0xFFFF:
        header = struct.pack("!BBH", OPCODE_TEXT_FINAL, 126, size)
    else:
        header = struct.pack("!BBQ", OPCODE_TEXT_FINAL, 127, size)
    return header + payload, size


def daphne_protocol(send):
    """The daphne WebSocket protocol behind an ASGI `send`, through any of Channels' wrappers (each
    keeps the next as `real_send`: SessionMiddleware's, should config.asgi use it again); None under
    any other server (tests' communicators, another ASGI server)."""
    while send is not None:
        if isinstance(send, functools.partial) and getattr(send.func, "__func__", None) is Server.handle_reply:
            protocol = send.args[0]
            return protocol if isinstance(protocol, WebSocketProtocol) else None
        send = getattr(getattr(send, "__self__", None), "real_send", None)
    return None


def write_text(protocol, text: str) -> bool:
    """Write `text` as one frame on `protocol`'s socket; False (nothing written) when it must go the
    ordinary way."""
    frame, payload_size = text_frame(text)
    if not _plain(protocol, payload_size):
        return False
    transport = protocol.transport
    if _idle(transport):
        try:
            sent = transport.socket.send(frame)
        except OSError:  # Full (EAGAIN) or broken: Twisted's write retries, or finds the loss itself.
            sent = 0
        frame = frame[sent:]
    if frame:
        transport.write(frame)
    return True


def _plain(protocol, payload_size: int) -> bool:
    """Open, and a frame autobahn would write as it is: not compressed, fragmented, masked, logged,
    timed or refused, with nothing of autobahn's queued before it."""
    return (
        protocol.state == WebSocketProtocol.STATE_OPEN
        and protocol._perMessageCompress is None
        and not protocol.autoFragmentSize
        and not protocol.maskServerFrames
        and not (protocol.logFrames or protocol.logOctets or protocol.trackedTimings)
        and not 0 < protocol.maxMessagePayloadSize < payload_size
        and not protocol.send_queue
    )


def _idle(transport) -> bool:
    """A plain TCP or Unix socket with nothing in Twisted's buffers: what is sent now cannot overtake.

    The transport's type is checked, not its TLS flag: daphne's own TLS (an `ssl:` endpoint) puts a
    TLSMemoryBIOProtocol in front of the socket, which has no flag of its own and hands every
    attribute it lacks (TLS, socket, buffers) on to the plain transport behind it. Its frames are
    written through it (transport.write), encrypted.
    """
    return (
        type(transport) in PLAIN_SOCKETS
        and not transport.TLS  # startTLS on the socket itself
        and transport.connected
        and not transport.disconnecting
        and not transport._tempDataBuffer
        and transport.offset == len(transport.dataBuffer)
    )
