"""What a client may send on the socket: frame limits, and each event type's fields checked.

Checks here are about shape (types, presence); rules about content (length, membership, rate)
belong to the services, which the REST API shares.

The protocol in short (for docs/API.md):
- Sign in with the session cookie, or send {"type": "auth", "ticket": ...} first (POST /api/ws-ticket/).
  The server then sends {"type": "hello", "user": {...}, "rooms": [ids]}.
- Client events (an optional "id" is echoed in errors and pongs): see EVENTS below. message.send
  is answered with message.ack; everything else shows up as the group event it causes.
- Server events: message.new|edited|deleted, reaction.added|removed, read, typing, presence,
  room.updated, room.invited, member.joined|updated|left, resync {room}, ping {id} (answer with pong {id}),
  session.close, lobby.counts|queued|left, match.found|ended, and error {code, message, id,
  retry_after?, fields?}.
- Close codes: 4001 session ended (logout, new password, deactivated), 4401 not signed in,
  4408 no pong for two heartbeats, 4413 too far behind in reading (chat.backlog), 4012 Redis came
  back (reconnect and resume), 1008 flood, 1009 frame over 64 KB.
"""

import json
import time
from collections.abc import Callable

from chat.db import BIGINT_MAX

MAX_FRAME_BYTES = 64 * 1024
# A person typing fast sends a few frames a second; 60 in 5 s from one socket is a script.
FLOOD_FRAMES = 60
FLOOD_SECONDS = 5.0
MAX_RESUME_ROOMS = 1000
MAX_TEXT_CHARS = 16_000
MAX_BIGINT = BIGINT_MAX  # Ids and seqs: anything larger could only fail in the database.
MAX_IDS = 100


class BadEvent(Exception):
    def __init__(self, message: str, *, code: str = "invalid"):
        self.code = code
        super().__init__(message)


def frame_too_big(frame: str | bytes) -> bool:
    if len(frame) > MAX_FRAME_BYTES:
        return True
    # A character is at most 4 bytes in UTF-8: only encode when the length alone cannot decide.
    return isinstance(frame, str) and len(frame) * 4 > MAX_FRAME_BYTES and len(frame.encode()) > MAX_FRAME_BYTES


class FloodGuard:
    """More than FLOOD_FRAMES frames within FLOOD_SECONDS?

    A sliding window estimated from this window's count and the previous window's (weighted by how
    much of it still overlaps): three numbers per socket rather than a timestamp per frame, which
    an idle socket answering pings for hours would otherwise keep sixty of.
    """

    __slots__ = ("window", "count", "previous")

    def __init__(self):
        self.window = self.count = self.previous = 0

    def flooding(self) -> bool:
        position = time.monotonic() / FLOOD_SECONDS
        window = int(position)
        if window != self.window:
            self.previous = self.count if window == self.window + 1 else 0
            self.window, self.count = window, 0
        self.count += 1
        return self.previous * (1 - (position - window)) + self.count > FLOOD_FRAMES


def parse(text: str) -> dict:
    """A frame decoded into an event: a JSON object with a string `type`."""
    try:
        event = json.loads(text)
    except ValueError:
        raise BadEvent("This frame is not valid JSON.", code="bad_json")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise BadEvent("An event is a JSON object with a string `type`.", code="bad_event")
    return event


def request_id(event: dict):
    """The client's `id` of a request, echoed in errors; only short strings and integers."""
    value = event.get("id")
    if isinstance(value, str) and len(value) <= 100 or isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


# Field checks: each takes a value and returns it, or raises ValueError saying what is expected.


def _id(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_BIGINT:
        raise ValueError("a positive integer id")
    return value


def _seq(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BIGINT:
        raise ValueError("a seq (an integer, 0 or more)")
    return value


def _text(value):
    # PostgreSQL text cannot hold NUL; the REST API's serializers refuse it the same way.
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS or "\x00" in value:
        raise ValueError("a string (without NUL characters)")
    return value


def _ids(value):
    # Only the shape; how many a message may carry is the service's rule (ATTACHMENT_MAX_PER_MESSAGE).
    if not isinstance(value, list) or len(value) > MAX_IDS:
        raise ValueError(f"a list of at most {MAX_IDS} ids")
    return [_id(item) for item in value]


def _optional(check: Callable):
    def optional(value):
        return None if value is None else check(value)

    optional.optional = True
    return optional


def _tags(value):
    strings = isinstance(value, list) and all(isinstance(tag, str) and len(tag) <= 100 for tag in value)
    if not strings or len(value) > 20:
        raise ValueError('a list of strings, like ["chess", "music"]')
    return value


def _positions(value):
    """{"<room id>": last seen seq, ...} -> {room id: seq}."""
    if not isinstance(value, dict) or len(value) > MAX_RESUME_ROOMS:
        raise ValueError(f'an object like {{"12": 40}} of at most {MAX_RESUME_ROOMS} rooms')
    positions = {}
    for key, seq in value.items():
        if not (isinstance(key, str) and key.isdigit() and key.isascii()):
            raise ValueError('an object whose keys are room ids, like {"12": 40}')
        positions[_id(int(key))] = _seq(seq)
    return positions


EVENTS: dict[str, dict[str, Callable]] = {
    "auth": {"ticket": _text},
    "ping": {},
    "pong": {},
    "message.send": {
        "room": _id,
        "body": _text,
        "client_id": _text,
        "reply_to": _optional(_id),
        "attachments": _optional(_ids),
    },
    "message.edit": {"message": _id, "body": _text},
    "message.delete": {"message": _id},
    "reaction.add": {"message": _id, "emoji": _text},
    "reaction.remove": {"message": _id, "emoji": _text},
    "read": {"room": _id, "seq": _seq},
    "typing": {"room": _id},
    "presence.query": {"room": _id},
    "resume": {"rooms": _positions},
    "lobby.subscribe": {},
    "lobby.join": {"tags": _optional(_tags)},
    "lobby.next": {"tags": _optional(_tags)},
    "lobby.leave": {},
}


def clean(event: dict) -> dict:
    """The event's fields checked, and its request `id`; BadEvent for an unknown type or a bad field."""
    fields = EVENTS.get(event["type"])
    if fields is None:
        raise BadEvent(f"Unknown event type {event['type'][:40]!r}.", code="unknown_type")
    data = {"id": request_id(event)}
    for name, check in fields.items():
        if name not in event and not getattr(check, "optional", False):
            raise BadEvent(f"`{name}` is missing.")
        try:
            data[name] = check(event.get(name))
        except ValueError as error:
            raise BadEvent(f"`{name}` must be {error}.")
    return data
