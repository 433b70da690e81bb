"""The one WebSocket of a browser tab (or API client): typed JSON events in, typed JSON events out.

Handlers only translate between the socket and services, selectors and chat.events; checks of
shape live in chat.protocol, presence in chat.presence, tickets in chat.tickets.
"""

import asyncio
import contextlib
import functools
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Collection
from functools import cached_property

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError
from django_guid import set_guid
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from accounts.selectors import blocked_ids
from chat import events, protocol, selectors, services, tickets
from chat.backlog import Backlog
from chat.batching import batcher
from chat.db import in_db_thread
from chat.fanout import fanout
from chat.frames import daphne_protocol, write_text
from chat.heartbeat import heart
from chat.limits import RateLimited
from chat.presence import connection_alive, connection_gone, is_online
from chat.protocol import BadEvent
from rooms import matching
from rooms.selectors import RoomNotVisible, room_ids_of_user, room_presence_ids
from rooms.ticker import ticker

logger = logging.getLogger(__name__)

CLOSE_SESSION_ENDED = 4001
CLOSE_UNAUTHENTICATED = 4401
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TOO_FAR_BEHIND = 4413
# 1012 (Service Restart) is the standard code, but daphne accepts only 1000 and 3000-4999 from apps.
CLOSE_SERVICE_RESTART = 4012
# An API client has this long after the handshake to send its ticket.
DEFAULT_AUTH_SECONDS = 10
TYPING_INTERVAL_SECONDS = 2
# PostgreSQL or Redis away (restarting, failing over). A send may even have been stored just before
# the connection broke: the client sends it again with the same client_id, which stores it at most once.
SERVICE_AWAY = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
UNAVAILABLE_RETRY_SECONDS = 1


async def _announce_offline(user_id: int) -> None:
    """For people whose last sockets died with their process (see chat.presence). Gone for a presence
    TTL already, longer than the lobby's grace: their lobby chats end now."""
    await in_db_thread(matching.lobby_gone)(user_id=user_id)
    await in_db_thread(matching.lobby_offline)(user_id=user_id)
    room_ids = await in_db_thread(room_ids_of_user)(user_id=user_id)
    if room_ids:
        await events.apublish(
            [events.room_group(room_id) for room_id in room_ids], events.presence(user_id=user_id, online=False)
        )


_graces: set[asyncio.Task] = set()  # Held here: the loop keeps only weak references to tasks.


def _lobby_grace(user_id: int) -> None:
    """The person's last socket closed: unless one opens again within the grace (the lobby page
    handing over to the room page), their open lobby chats end (rooms.matching.lobby_offline)."""

    async def check() -> None:
        await asyncio.sleep(matching.disconnect_grace_seconds())
        try:
            if not await is_online(user_id=user_id):
                await in_db_thread(matching.lobby_offline)(user_id=user_id)
        except Exception:  # Best effort, like presence: the partner can still leave, the purge ends it.
            logger.exception("Ending the lobby chats of someone gone failed")

    task = asyncio.create_task(check())
    _graces.add(task)
    task.add_done_callback(_graces.discard)


class ChatConsumer(AsyncWebsocketConsumer):
    # No channel per socket: group events arrive through chat.fanout, one channel per process.
    channel_layer = None
    user = None
    hidden: frozenset[int] | set[int] = frozenset()  # People this person blocked or was blocked by.
    timer = None  # The ticket deadline of a socket signing in with a ticket.
    gone = False
    in_lobby = False  # Follows the lobby's counts (lobby.subscribe).
    queued = False  # Put its person in the lobby's queue: closing it takes them out.
    behind = False  # Its client stopped reading: closing, nothing more is sent (chat.backlog).

    async def __call__(self, scope, receive, send):
        # Channels' loop (await_many_dispatch) reads every source in a task of its own and waits on
        # them with asyncio.wait: for a socket whose only source is the client, a task, its future
        # and a wait set held by every idle socket. The client's frames are awaited directly.
        self.scope, self.base_send = scope, send
        with contextlib.suppress(StopConsumer):
            while True:
                await self.dispatch(await receive())

    async def dispatch(self, message):
        # Channels' dispatch first runs close_old_connections in the one sync thread, for every event
        # a socket receives: with a room of 1,000, every message queued 1,000 thread hops, most of
        # the server's time. This consumer touches the database only through chat.db (database_sync_to_async),
        # which closes stale connections itself, so the hop is dropped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        set_guid(self.request_id)  # LOGGING: see request_id.
        await handler(message)

    @cached_property
    def request_id(self) -> str:
        """The id on every log line (and Celery task queued) while this socket's events are handled:
        the handshake's X-Request-ID (nginx sets one), else a new one. Set per event, not once, because
        group events reach this socket from the fan-out's task, whose context is not the socket's.
        """
        sent = dict(self.scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        return sent[:64] if sent.isprintable() and sent else uuid.uuid4().hex

    # Connection

    async def connect(self):
        self.connection = uuid.uuid4().hex
        self.flood = protocol.FloodGuard()
        self.backlog = Backlog(limit=settings.WS_SEND_BACKLOG_BYTES)
        self.room_ids: set[int] = set()
        self.last_heard = time.monotonic()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            if not (user.is_active and user.is_verified):
                await self.close()  # Before accept(): the handshake is refused (HTTP 403).
                return
            await self.accept()
            await self.start(user)
        else:
            # No session: an API client, which must send {"type": "auth", "ticket": ...} first.
            await self.accept()
            self.timer = asyncio.create_task(self.auth_deadline())

    async def start(self, user) -> None:
        self.user = user
        # The person's group first: a room joined while the rooms are being read still arrives.
        await self.listen(events.user_group(user.pk))
        self.room_ids = set(await in_db_thread(room_ids_of_user)(user_id=user.pk))
        self.hidden = await in_db_thread(blocked_ids)(user_id=user.pk) or frozenset()
        for room_id in self.room_ids:
            await self.listen(events.room_group(room_id))
        await self.send_event(events.hello(user=user, room_ids=sorted(self.room_ids)))
        await self.mark_alive()
        heart(_announce_offline).join(self)

    async def disconnect(self, code):
        self.gone = True
        if self.timer is not None:
            self.timer.cancel()
        for group in self.groups_listened():
            await self.unlisten(group)
        if self.user is not None:
            heart(_announce_offline).leave(self)
            ticker().leave(self)
            if self.queued:
                await self.guarded(in_db_thread(matching.lobby_gone)(user_id=self.user.pk))
            if await self.guarded(connection_gone(user_id=self.user.pk, connection=self.connection)):
                await self.announce_presence(online=False)
                _lobby_grace(self.user.pk)
            await in_db_thread(services.user_touch_last_seen)(user_id=self.user.pk)

    async def listen(self, group: str) -> None:
        await fanout().join(group, self)
        if self.gone:  # Disconnected while joining (a room event's handler runs beside disconnect).
            await fanout().leave(group, self)

    async def unlisten(self, group: str) -> None:
        await fanout().leave(group, self)

    def groups_listened(self) -> list[str]:
        if self.user is None:
            return []
        lobby = [events.lobby_group()] if self.in_lobby else []
        return [events.user_group(self.user.pk), *lobby, *(events.room_group(room_id) for room_id in self.room_ids)]

    async def deliver(self, message: dict) -> None:
        """A group event, handed over by this process's chat.fanout."""
        await self.dispatch(message)

    def deliver_now(self, message: dict, listening: Collection) -> Awaitable[None] | None:
        """chat.fanout's way in for each copy of a group event: an event this socket only forwards is
        written here and now, without `dispatch`'s coroutines, handler look-up and `set_guid` (only the
        backlog's close logs a line: it sets this socket's id first), and with the `listening` the
        fan-out read for the event rather than a look-up of the fan-out per copy: most of a big room's
        deliveries. What is left to await (the backlog's ping or close), or the whole event when it goes
        the ordinary way, is returned.
        """
        if not only_forwarded(message["type"]) or self.daphne is None:
            return self.deliver(message)
        if self.behind or self not in listening:  # As `forward` drops them.
            return None
        text = message["text"]
        if not write_text(self.daphne, text):
            return self.deliver(message)
        self.backlog.wrote(len(text))
        if not self.backlog.wants_attention():
            return None
        set_guid(self.request_id)  # LOGGING: mind_backlog's warning is this socket's.
        return self.mind_backlog()

    # Presence (chat.heartbeat pings the socket and refreshes its entry every interval)

    async def auth_deadline(self) -> None:
        await asyncio.sleep(getattr(settings, "WS_AUTH_SECONDS", DEFAULT_AUTH_SECONDS))
        if self.user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def mark_alive(self) -> None:
        if await self.guarded(connection_alive(user_id=self.user.pk, connection=self.connection)):
            await self.announce_presence(online=True)

    async def announce_presence(self, *, online: bool) -> None:
        groups = [events.room_group(room_id) for room_id in self.room_ids]
        if groups:
            await self.guarded(events.apublish(groups, events.presence(user_id=self.user.pk, online=online)))

    async def guarded(self, work):
        """Presence is best effort: Redis being away must not take the socket down."""
        try:
            return await work
        except Exception:
            logger.exception("Presence update failed")
            return False

    # Frames from the client

    async def receive(self, text_data=None, bytes_data=None):
        if protocol.frame_too_big(text_data if text_data is not None else bytes_data or b""):
            await self.close(code=CLOSE_TOO_BIG)
            return
        if self.flood.flooding():
            await self.close(code=CLOSE_POLICY)
            return
        self.last_heard = time.monotonic()
        event = None
        try:
            if text_data is None:
                raise BadEvent("Send JSON text frames.", code="bad_frame")
            event = protocol.parse(text_data)
            await (self.dispatch_event(event) if self.user else self.authenticate(event))
        except Exception as error:  # Whatever a frame does, the socket survives it (once signed in).
            await self.reply_error(error, request_id=protocol.request_id(event) if event else None)
            if self.user is None:
                await self.close(code=CLOSE_UNAUTHENTICATED)

    async def dispatch_event(self, event: dict) -> None:
        data = protocol.clean(event)
        if event["type"] == "auth":
            raise BadEvent("This socket is signed in already.", code="bad_event")
        await getattr(self, "on_" + event["type"].replace(".", "_"))(data)

    async def authenticate(self, event: dict) -> None:
        if event["type"] != "auth":
            raise BadEvent('Send {"type": "auth", "ticket": "..."} first.', code="unauthenticated")
        ticket = protocol.clean(event)["ticket"]
        user = await in_db_thread(tickets.ticket_redeem)(ticket=ticket)
        if user is None:
            raise BadEvent("This ticket is unknown, expired or used already.", code="unauthenticated")
        self.timer.cancel()
        await self.start(user)

    async def reply_error(self, error: Exception, *, request_id) -> None:
        extra = {}
        if isinstance(error, BadEvent):
            code = error.code
        elif isinstance(error, RateLimited):
            code, extra = "rate_limited", {"retry_after": math.ceil(error.retry_after)}
        elif isinstance(error, RoomNotVisible):
            code = "not_found"
        elif isinstance(error, PermissionDenied):
            code = "forbidden"
        elif isinstance(error, ValidationError):
            code = "invalid"
            extra = {"fields": error.message_dict} if hasattr(error, "error_dict") else {}
            error = " ".join(error.messages)
        elif isinstance(error, SERVICE_AWAY):
            logger.warning("WebSocket event failed: a service is away (%s)", error)
            code, extra = "unavailable", {"retry_after": UNAVAILABLE_RETRY_SECONDS}
            error = "The server is briefly unavailable. Try again."
        else:
            logger.exception("WebSocket event failed", exc_info=error)
            code, error = "internal", "Something went wrong on our side."
        await self.send_error(code, str(error), request_id=request_id, **extra)

    async def send(self, text_data=None, bytes_data=None, close=False):
        self.backlog.wrote(len(text_data or bytes_data or ""))
        if text_data is not None and not close and self.daphne is not None and write_text(self.daphne, text_data):
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    @cached_property
    def daphne(self):
        """This socket's daphne protocol, which chat.frames writes to directly (a group event's copies
        were most of a big room's cost); None under other servers, where every frame goes through
        Channels."""
        return daphne_protocol(self.base_send)

    async def send_event(self, event: dict) -> None:
        await self.send(text_data=events.dumps(event))

    async def ping(self) -> None:
        """chat.heartbeat's ping, and chat.backlog's: the client echoes the id in its pong."""
        await self.send_event({"type": "ping", "id": self.backlog.ping()})

    async def send_error(self, code: str, message: str, *, request_id=None, **extra) -> None:
        await self.send_event({"type": "error", "code": code, "message": message, "id": request_id, **extra})

    # Client events: each calls one service or selector

    async def on_ping(self, data):
        await self.send_event({"type": "pong", "id": data["id"]})

    async def on_pong(self, data):
        # Receiving any frame already counted as a sign of life; the id tells what the client has read.
        self.backlog.answered(data["id"])

    async def on_message_send(self, data):
        fields = {"room_id": data["room"], "body": data["body"], "client_id": data["client_id"]}
        request = services.SendRequest(
            author=self.user, **fields, reply_to_id=data["reply_to"], attachment_ids=data["attachments"]
        )
        message = await batcher().send(request)
        await self.send_event(events.message_ack(message, client_id=message.client_id))

    async def on_message_edit(self, data):
        await self.as_user(services.message_edit, message_id=data["message"], body=data["body"])

    async def on_message_delete(self, data):
        await self.as_user(services.message_delete, message_id=data["message"])

    async def on_reaction_add(self, data):
        await self.as_user(services.reaction_add, message_id=data["message"], emoji=data["emoji"])

    async def on_reaction_remove(self, data):
        await self.as_user(services.reaction_remove, message_id=data["message"], emoji=data["emoji"])

    async def on_read(self, data):
        await self.as_user(services.read_mark, room_id=data["room"], seq=data["seq"])

    async def on_typing(self, data):
        room_id = data["room"]
        if room_id not in self.room_ids:
            raise RoomNotVisible()
        # Shared by all of the person's sockets and processes; extra typing events are dropped silently.
        if await cache.aadd(f"typing:{self.user.pk}:{room_id}", 1, timeout=TYPING_INTERVAL_SECONDS):
            await events.apublish(events.room_group(room_id), events.typing(user=self.user, room_id=room_id))

    async def on_presence_query(self, data):
        # A page's snapshot of who is online is taken before its socket listens; whoever came
        # online in between is only in this answer.
        online = await self.as_user(_online_in_room, room_id=data["room"])
        await self.send_event(events.presence_snapshot(room_id=data["room"], online=online))

    async def on_resume(self, data):
        for text in await self.as_user(_resume, positions=data["rooms"]):
            await self.send(text_data=text)

    # The lobby (rooms.matching): counts for lobby pages, the queue, and lobby chats

    async def on_lobby_subscribe(self, data):
        self.in_lobby = True
        ticker().join(self)
        await self.listen(events.lobby_group())
        await self.send_event(events.lobby_counts(**await in_db_thread(matching.lobby_counts)()))

    async def on_lobby_join(self, data):
        # Marked before the join (a close while it runs must still take the person out), and put
        # back when the join is refused: closing this socket must not end a wait another tab began.
        was_queued, self.queued = self.queued, True
        ticker().join(self)  # Someone waiting for a shared tag needs the tick's fallback.
        try:
            joined = await self.as_user(matching.lobby_join, tags=data["tags"])
        except BaseException:
            self.queued = was_queued
            raise
        if joined.room is None:
            await self.send_event(events.lobby_queued(tags=joined.tags))
        else:
            self.queued = False

    on_lobby_next = on_lobby_join  # Joining closes the person's open lobby chat first.

    async def on_lobby_leave(self, data):
        self.queued = False
        await self.as_user(matching.lobby_leave)
        await self.send_event(events.lobby_left())

    async def as_user(self, function, **fields):
        """Run a service (or a sync helper below) in a database thread, on behalf of this socket's person."""
        return await in_db_thread(function)(user=self.user, **fields)

    # Group events: the text was serialized once, upstream, for every receiver

    async def forward(self, message: dict) -> None:
        # A room left a moment ago may still have an event on its way to this socket: drop it. So is
        # everything for a socket being closed because its client stopped reading (chat.backlog).
        if self.behind or not fanout().has(message.get("group"), self):
            return
        await self.send(text_data=message["text"])
        await self.mind_backlog()

    async def mind_backlog(self) -> None:
        """Close a socket whose client stopped reading, or ask it how far it has read (chat.backlog)."""
        if self.backlog.over():
            self.behind = True
            logger.warning("Closing a socket whose client left %d bytes unread", self.backlog.unread)
            await self.close(code=CLOSE_TOO_FAR_BEHIND)
        elif self.backlog.wants_ping():
            await self.ping()

    message_new = message_edited = message_deleted = reaction_added = reaction_removed = forward
    message_preview = forward
    room_invited = member_updated = forward
    notification_new = notification_read = forward
    lobby_counts = forward

    async def room_updated(self, message: dict) -> None:
        await self.forward(message)
        # On this person's own group it is a room unarchived (rooms.services.room_unarchive): open
        # again, so this socket follows it again, as after a join.
        if message.get("group") == events.user_group(self.user.pk):
            self.room_ids.add(message["room_id"])
            await self.listen(events.room_group(message["room_id"]))

    async def match_ended(self, message: dict) -> None:
        await self.forward(message)
        # Read-only now, and the strangers parted: no more presence or typing either way.
        room_id = json.loads(message["text"])["room"]
        self.room_ids.discard(room_id)
        await self.unlisten(events.room_group(room_id))

    async def match_found(self, message: dict) -> None:
        self.queued = False  # Out of the queue now: closing this socket must not take a new wait out.
        await self.forward(message)

    async def typing(self, message: dict) -> None:
        if message["user_id"] != self.user.pk and message["user_id"] not in self.hidden:
            await self.forward(message)

    async def read(self, message: dict) -> None:
        # A direct room's read positions reach both of its people (the "Seen" mark), but not across a block.
        if message["user_id"] not in self.hidden:
            await self.forward(message)

    async def presence(self, message: dict) -> None:
        # People in a block with this person (either way) do not see each other come and go.
        if message["user_id"] not in self.hidden:
            await self.forward(message)

    async def blocks_changed(self, message: dict) -> None:
        """Not forwarded: the blocked person is not told. Only what this socket hides changes."""
        self.hidden = await in_db_thread(blocked_ids)(user_id=self.user.pk) or frozenset()

    async def member_joined(self, message: dict) -> None:
        if await self.membership_changed(message):
            self.room_ids.add(message["room_id"])
            await self.listen(events.room_group(message["room_id"]))

    async def member_left(self, message: dict) -> None:
        if await self.membership_changed(message):
            self.room_ids.discard(message["room_id"])
            await self.unlisten(events.room_group(message["room_id"]))

    async def membership_changed(self, message: dict) -> bool:
        """Forward a member event; True when it is this person's own, arriving on their own group.

        Their own event is also sent to the room's group; only the copy on their group is forwarded.
        """
        own = message["user_id"] == self.user.pk
        mine = message.get("group") == events.user_group(self.user.pk)
        if own == mine:
            await self.forward(message)
        return own and mine

    async def session_close(self, message: dict) -> None:
        await self.send(text_data=message["text"])
        await self.close(code=CLOSE_SESSION_ENDED)

    async def transport_reset(self, message: dict) -> None:
        # Redis came back after an outage (chat.layers): what was published meanwhile never reached
        # this socket, but it is in PostgreSQL. Closing makes the client reconnect and resume.
        await self.close(code=CLOSE_SERVICE_RESTART)


@functools.lru_cache(maxsize=64)
def only_forwarded(event_type: str) -> bool:
    """Whether the consumer's handler of this group event only forwards its text (`deliver_now` then
    writes it on the spot). Asked for every copy: cached by type."""
    return getattr(ChatConsumer, get_handler_name({"type": event_type}), None) is ChatConsumer.forward


# The synchronous halves, run in a database thread: a service call and the payload it answers with.


def _online_in_room(*, user, room_id: int) -> list[int]:
    members = room_presence_ids(user=user, room_id=room_id)
    return sorted(selectors.online_visible_to(viewer_id=user.pk, user_ids=members))


def _resume(*, user, positions: dict[int, int]) -> list[str]:
    texts = []
    for room_id, messages in selectors.resume_batches(user=user, positions=positions):
        if messages is None:
            texts.append(events.dumps({"type": "resync", "room": room_id}))
        else:
            texts.extend(events.dumps(events.message_new(message)) for message in messages)
    return texts
