"""Every real-time event: group names, payloads, builders and publishing, defined once.

REST answers with the same serializers, so a message looks identical over HTTP and the socket.
An event's "type" maps to a consumer handler by Channels' rule ("message.new" -> message_new);
the consumer forwards `event["text"]`, which is serialized once here for every receiver.

Handlers a consumer needs: message_new, message_edited, message_deleted, message_preview, reaction_added,
reaction_removed, read, room_updated, room_invited, member_joined, member_updated, member_left,
typing, presence, blocks_changed and session_close; for the lobby (rooms.lobby) lobby_counts,
match_found and match_ended.
Member events also reach `user_group(user_id)` with the room id, so that person's sockets can
join or drop the room's group; the channel-layer message carries the group it was sent to and,
for member and typing events, `room_id` and `user_id`, so a consumer acts without decoding text.
"""

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import CharField, Func
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User

REPLY_PREVIEW_CHARS = 100


def moment(value: datetime | None) -> str | None:
    """A time as the API writes every time: ISO 8601 in UTC ("...Z"), as DRF's DateTimeField does
    with TIME_ZONE = "UTC", without its per-value look-up of the active time zone (a fifth of a
    500-room list's time). Tests hold the payloads built with it equal to DRF's own.
    """
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class Moment(Func):
    """A time column as `moment` writes it, written by the database, for lists read as rows: turning
    every time into a datetime and back to text was a third of a 500-room list's time. Tests hold
    the two equal (whole seconds have no fraction, as in isoformat). The SQL reads its argument once."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template=moment_sql("%(expressions)s"), **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores times there as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return self.as_sql(compiler, connection, template="replace(%(expressions)s, ' ', 'T') || 'Z'", **extra_context)


def moment_sql(column: str, *, quoted: bool = False) -> str:
    """PostgreSQL writing a time column as `moment` does (Moment's SQL, for statements written out);
    `quoted`: as a JSON string (a null stays null).

    One to_char with the microseconds, whose ".000000" a whole second then drops, as isoformat does
    (".000000Z" can only be the end); a CASE comparing date_trunc's second and a second to_char cost
    about 0.1 ms more in a list of 500 rooms (2,000 times)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    quote = '\\"' if quoted else ""  # to_char writes a backslashed quote as a quote
    return f"""replace(to_char({utc}, '{quote}YYYY-MM-DD"T"HH24:MI:SS.US"Z"{quote}'), '.000000Z', 'Z')"""


# Groups


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def lobby_group() -> str:
    """The sockets of lobby pages: live counts of people online and waiting, and of public rooms' members."""
    return "lobby"


# Payloads (also the REST representations)


class UserPayload(serializers.Serializer):
    id = serializers.IntegerField()
    handle = serializers.CharField()
    display_name = serializers.CharField()
    avatar_thumbnail_url = serializers.SerializerMethodField()

    def get_avatar_thumbnail_url(self, user) -> str | None:
        return user.avatar_thumbnail.url if user.avatar_thumbnail else None

    def to_representation(self, user) -> dict:
        # Built directly (the fields above document it): every message of every page and event has
        # one, and DRF's field-by-field walk cost more than the rest of the page. Tests hold the two equal.
        return user_summary(user.pk, user.handle, user.display_name, user.avatar_thumbnail.name)


def user_summary(user_id: int, handle: str, display_name: str, thumbnail: str | None) -> dict:
    """UserPayload's JSON from a person's columns (chat.selectors.USER_SUMMARY_FIELDS, in that order),
    for lists read as rows rather than as model instances."""
    url = avatar_url(thumbnail)
    return {"id": user_id, "handle": handle, "display_name": display_name, "avatar_thumbnail_url": url}


def avatar_url(thumbnail: str | None) -> str | None:
    """The URL of an avatar's thumbnail from its stored name (None for none)."""
    return User._meta.get_field("avatar_thumbnail").storage.url(thumbnail) if thumbnail else None


class ReplyPreviewPayload(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    author = serializers.SerializerMethodField(help_text="Handle of the replied-to author, null if gone.")
    body = serializers.SerializerMethodField(help_text=f"The first {REPLY_PREVIEW_CHARS} characters.")
    deleted = serializers.SerializerMethodField()
    removal_reason = serializers.SerializerMethodField(
        help_text="Why a moderator removed the replied-to message; null unless a moderator removed it."
    )

    def get_author(self, message) -> str | None:
        return message.author.handle if message.author else None

    def get_body(self, message) -> str:
        return message.body[:REPLY_PREVIEW_CHARS]

    def get_removal_reason(self, message) -> str | None:
        return message.removal_reason or None

    def get_deleted(self, message) -> bool:
        return message.is_deleted

    def to_representation(self, message) -> dict:
        author = message.author.handle if message.author else None
        return reply_preview(message.pk, message.seq, author, message.body, message.is_deleted, message.removal_reason)


def reply_preview(message_id: int, seq: int, author: str | None, body: str, deleted: bool, reason: str) -> dict:
    """ReplyPreviewPayload's JSON from the replied-to message's columns (its author's handle),
    for instances and rows alike."""
    return {
        "id": message_id,
        "seq": seq,
        "author": author,
        "body": body[:REPLY_PREVIEW_CHARS],
        "deleted": deleted,
        "removal_reason": reason or None,
    }


class ReactionSummaryPayload(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    user_ids = serializers.ListField(child=serializers.IntegerField())


def reaction_summary(reactions: Iterable[tuple[str, int]]) -> list[dict]:
    """ReactionSummaryPayload's JSON from a message's (emoji, user id) pairs, oldest reaction first:
    one entry per emoji, in the order each was first used."""
    summary: dict[str, dict] = {}
    for emoji, user_id in reactions:
        entry = summary.setdefault(emoji, {"emoji": emoji, "count": 0, "user_ids": []})
        entry["count"] += 1
        entry["user_ids"].append(user_id)
    return list(summary.values())


def reactions_seen_by(summary: list[dict], viewer_id: int) -> list[dict]:
    """A reaction summary as one person's history shows it: with whether they reacted (`mine`)."""
    return [{**entry, "mine": viewer_id in entry["user_ids"]} for entry in summary]


_URL_SENTINEL = "987654321"


@cache
def _url_parts(name: str) -> tuple[str, str]:
    before, after = reverse(name, args=[_URL_SENTINEL]).split(_URL_SENTINEL)
    return before, after


def _url_of(name: str, pk: int) -> str:
    """reverse(name, args=[pk]), built from the route's two halves: reverse() takes about 0.1 ms, and a
    page of 50 messages with files asks for two URLs per file."""
    before, after = _url_parts(name)
    return f"{before}{pk}{after}"


class AttachmentPayload(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The file's name, cleaned; only what it is called when downloaded.")
    size = serializers.IntegerField(help_text="In bytes.")
    content_type = serializers.CharField(
        help_text="What the bytes are (sniffed by the server, not the client's claim)."
    )
    width = serializers.IntegerField(allow_null=True, help_text="Images only: upright width in pixels.")
    height = serializers.IntegerField(allow_null=True, help_text="Images only: upright height in pixels.")
    url = serializers.SerializerMethodField(help_text="The file, for members of the room (or its uploader).")
    preview_url = serializers.SerializerMethodField(help_text="Images only: a re-encoded WebP of at most 1280 px.")

    def get_url(self, attachment) -> str:
        return _url_of("api-attachment-file", attachment.pk)

    def get_preview_url(self, attachment) -> str | None:
        return _url_of("api-attachment-preview", attachment.pk) if attachment.preview_name else None

    def to_representation(self, attachment) -> dict:
        return attachment_summary(
            attachment.pk,
            attachment.name,
            attachment.size,
            attachment.content_type,
            attachment.width,
            attachment.height,
            attachment.preview_name,
        )


def attachment_summary(
    attachment_id: int, name: str, size: int, content_type: str, width: int | None, height: int | None, preview: str
) -> dict:
    """AttachmentPayload's JSON from a file's columns (chat.selectors.ATTACHMENT_ROW_COLUMNS' order after
    the message id), for instances and rows alike."""
    return {
        "id": attachment_id,
        "name": name,
        "size": size,
        "content_type": content_type,
        "width": width,
        "height": height,
        "url": _url_of("api-attachment-file", attachment_id),
        "preview_url": _url_of("api-attachment-preview", attachment_id) if preview else None,
    }


class LinkPreviewPayload(serializers.Serializer):
    url = serializers.CharField(help_text="The link, normalized (http or https).")
    title = serializers.CharField()
    description = serializers.CharField()
    image_url = serializers.CharField(allow_null=True, help_text="An http(s) URL on the linked site's side, or null.")
    site_name = serializers.CharField()

    def to_representation(self, preview) -> dict:
        return link_card(preview.url, preview.title, preview.description, preview.image_url, preview.site_name)


def link_card(url: str, title: str, description: str, image_url: str, site_name: str) -> dict:
    """LinkPreviewPayload's JSON from a card's columns, for instances and rows alike."""
    return {
        "url": url,
        "title": title,
        "description": description,
        "image_url": image_url or None,
        "site_name": site_name,
    }


class MessagePayload(serializers.Serializer):
    id = serializers.IntegerField()
    room = serializers.IntegerField(source="room_id")
    seq = serializers.IntegerField()
    author = UserPayload(allow_null=True)
    body = serializers.CharField()
    reply_to = ReplyPreviewPayload(allow_null=True)
    client_id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField(source="is_deleted")
    removal_reason = serializers.SerializerMethodField(
        help_text="Null, unless a moderator removed the message (then `deleted` is true too): the reason members "
        'are shown, as "Removed by a moderator: <reason>".'
    )
    attachments = serializers.SerializerMethodField()
    reactions = serializers.SerializerMethodField()
    preview = LinkPreviewPayload(
        allow_null=True, help_text="The card of the first link; null until fetched, and for a deleted message."
    )

    def to_representation(self, message) -> dict:
        # Built directly, like UserPayload's; tests hold it equal to the fields' own walk.
        author, reply = message.author, message.reply_to
        # A tombstone shows no card (message_summary's rule): its row is not even looked at.
        card = message.preview_id is not None and not message.is_deleted
        return message_summary(
            message.pk,
            message.room_id,
            message.seq,
            None if author is None else self.fields["author"].to_representation(author),
            message.body,
            None if reply is None else self.fields["reply_to"].to_representation(reply),
            message.client_id,
            moment(message.created_at),
            moment(message.edited_at),
            message.is_deleted,
            message.removal_reason,
            self.get_attachments(message),
            self.get_reactions(message),
            link_preview_payload(message.preview) if card else None,
        )

    def get_removal_reason(self, message) -> str | None:
        return message.removal_reason or None

    @extend_schema_field(AttachmentPayload(many=True))
    def get_attachments(self, message) -> list[dict]:
        # Like reactions: selectors prefetch them, message_send sets the ones it linked.
        attachments = getattr(message, "prefetched_attachments", None)
        if attachments is None:
            attachments = message.attachments.order_by("id")
        return [attachment_payload(attachment) for attachment in attachments]

    @extend_schema_field(ReactionSummaryPayload(many=True))
    def get_reactions(self, message) -> list[dict]:
        # Selectors attach `prefetched_reactions` (and message_send sets it to [] on a new message);
        # only a bare instance costs a query here.
        reactions = getattr(message, "prefetched_reactions", None)
        if reactions is None:
            reactions = message.reactions.order_by("created_at", "id")
        return reaction_summary((reaction.emoji, reaction.user_id) for reaction in reactions)


def message_summary(
    message_id: int,
    room_id: int,
    seq: int,
    author: dict | None,
    body: str,
    reply_to: dict | None,
    client_id,
    created_at: str,
    edited_at: str | None,
    deleted: bool,
    removal_reason: str,
    attachments: list[dict],
    reactions: list[dict],
    card: dict | None,
) -> dict:
    """MessagePayload's JSON, the one place that lays it out: from a model instance (MessagePayload, every
    socket event) or from a history page's rows (chat.api.history_payload). Times as `moment` writes them,
    the parts already in their payloads' shape."""
    return {
        "id": message_id,
        "room": room_id,
        "seq": seq,
        "author": author,
        "body": body,
        "reply_to": reply_to,
        "client_id": str(client_id),
        "created_at": created_at,
        "edited_at": edited_at,
        "deleted": deleted,
        "removal_reason": removal_reason or None,
        "attachments": attachments,
        "reactions": reactions,
        "preview": None if deleted else card,  # A tombstone shows no card.
    }


def message_row_payload(row) -> dict:
    """MessagePayload's JSON from a chat.selectors.MessageRow: what an instance of the same message gives."""
    (message_id, room_id, seq, author_id, handle, display_name, thumbnail, body,
     reply_id, reply_seq, reply_author, reply_body, reply_deleted, reply_reason,
     client_id, created_at, edited_at, deleted, removal_reason,
     card_id, *card) = row.columns  # fmt: skip
    return message_summary(
        message_id,
        room_id,
        seq,
        None if author_id is None else user_summary(author_id, handle, display_name, thumbnail),
        body,
        None
        if reply_id is None
        else reply_preview(reply_id, reply_seq, reply_author, reply_body, reply_deleted, reply_reason),
        client_id,
        created_at,
        edited_at,
        deleted,
        removal_reason,
        [attachment_summary(*attachment) for attachment in row.attachments],
        reaction_summary(row.reactions),
        None if card_id is None else link_card(*card),
    )


class RoomPayload(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    is_public = serializers.BooleanField()
    creator = serializers.IntegerField(source="creator_id", allow_null=True)
    created_at = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField(allow_null=True)
    last_seq = serializers.IntegerField()
    closed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the room became read-only (it then refuses messages, edits and reactions): a lobby chat "
        "ended, or moderators archived a group room. Null for every open room.",
    )


class MemberPayload(serializers.Serializer):
    user = UserPayload()
    role = serializers.CharField()
    joined_at = serializers.DateTimeField()


class InvitePayload(serializers.Serializer):
    id = serializers.IntegerField()
    room = RoomPayload()
    invited_by = UserPayload(allow_null=True)
    created_at = serializers.DateTimeField()


class NotificationPayload(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="friend_request, friend_accepted, mention, dm or room_invite.")
    actor = UserPayload(allow_null=True, help_text="Who caused it; null when they are gone.")
    room = serializers.IntegerField(source="room_id", allow_null=True)
    room_title = serializers.SerializerMethodField(help_text="A group room's title; empty for direct rooms.")
    message = serializers.IntegerField(source="message_id", allow_null=True)
    preview = serializers.SerializerMethodField(help_text=f"The first {REPLY_PREVIEW_CHARS} characters of the message.")
    url = serializers.CharField(source="target_url", help_text="The page it leads to.")
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)

    def get_room_title(self, notification) -> str | None:
        return notification.room.title if notification.room_id is not None else None

    def get_preview(self, notification) -> str:
        message = notification.message if notification.message_id is not None else None
        return message.body[:REPLY_PREVIEW_CHARS] if message is not None else ""


# One instance of each, reused: DRF deep-copies a serializer's fields for every new instance,
# which cost more than the serializing itself on the path of every message. to_representation
# keeps no state between calls, so the database threads can share them.
attachment_payload = AttachmentPayload().to_representation
message_payload = MessagePayload().to_representation
link_preview_payload = LinkPreviewPayload().to_representation
room_payload = RoomPayload().to_representation
member_payload = MemberPayload().to_representation
invite_payload = InvitePayload().to_representation
notification_payload = NotificationPayload().to_representation


# Event builders


def message_new(message) -> dict:
    return {"type": "message.new", "message": message_payload(message)}


def message_ack(message, *, client_id) -> dict:
    """Only for the sender's socket; everyone (the sender too) also gets message.new."""
    return {"type": "message.ack", "client_id": str(client_id), "message": message_payload(message)}


def message_edited(message) -> dict:
    return {"type": "message.edited", "message": message_payload(message)}


def message_deleted(message) -> dict:
    """A message was deleted by its author or the room's managers, or removed by a moderator
    (`removal_reason` set): the payload is the tombstone, with no text, files, reactions or card."""
    return {"type": "message.deleted", "message": message_payload(message)}


def message_preview(message) -> dict:
    """The card of the message's first link, fetched after it was sent or edited (chat.previews)."""
    return {
        "type": "message.preview",
        "room": message.room_id,
        "message_id": message.pk,
        "seq": message.seq,
        "preview": link_preview_payload(message.preview),
    }


def reaction_added(reaction) -> dict:
    return _reaction_event("reaction.added", reaction)


def reaction_removed(reaction) -> dict:
    return _reaction_event("reaction.removed", reaction)


def _reaction_event(event_type: str, reaction) -> dict:
    message = reaction.message
    return {
        "type": event_type,
        "room": message.room_id,
        "message": message.pk,
        "seq": message.seq,
        "emoji": reaction.emoji,
        "user": reaction.user_id,
    }


def read(membership) -> dict:
    return {"type": "read", "room": membership.room_id, "user": membership.user_id, "seq": membership.last_read_seq}


def room_updated(room) -> dict:
    return {"type": "room.updated", "room": room_payload(room)}


def room_invited(invite) -> dict:
    return {"type": "room.invited", "invite": invite_payload(invite)}


def member_joined(membership) -> dict:
    return {"type": "member.joined", "room": membership.room_id, "member": member_payload(membership)}


def member_updated(membership) -> dict:
    return {"type": "member.updated", "room": membership.room_id, "member": member_payload(membership)}


def member_left(*, room_id: int, user_id: int, kicked_by: int | None = None) -> dict:
    return {"type": "member.left", "room": room_id, "user": user_id, "kicked": kicked_by is not None, "by": kicked_by}


def hello(*, user, room_ids: list[int]) -> dict:
    """The first event on a signed-in socket: who you are, and the rooms this socket now follows."""
    return {"type": "hello", "user": UserPayload(user).data, "rooms": room_ids}


def typing(*, user, room_id: int) -> dict:
    """Someone is typing in a room. Never stored; senders are throttled by the consumer."""
    return {"type": "typing", "room": room_id, "user": {"id": user.pk, "handle": user.handle}}


def presence(*, user_id: int, online: bool) -> dict:
    """A person's first socket opened (online) or their last one closed or expired (offline)."""
    return {"type": "presence", "user": user_id, "online": online}


def presence_snapshot(*, room_id: int, online: list[int]) -> dict:
    """The answer to presence.query: which members of the room are online now."""
    return {"type": "presence.snapshot", "room": room_id, "online": online}


def blocks_changed() -> dict:
    """To both people of a block or unblock: their sockets reload whom to hide. Never forwarded."""
    return {"type": "blocks.changed"}


def session_close() -> dict:
    """Tells every socket of a person to close: they logged out, changed password or were deactivated."""
    return {"type": "session.close"}


# Notifications: on the recipient's own group only; consumers need notification_new and notification_read.


def notification_new(notification, *, unread: int) -> dict:
    """To the recipient's own group: one more notification, and the badge's new count."""
    return {"type": "notification.new", "notification": notification_payload(notification), "unread": unread}


def notification_read(*, unread: int, ids: list[int] | None = None) -> dict:
    """To the recipient's own group: these notifications (all, when `ids` is null) were read."""
    return {"type": "notification.read", "unread": unread, "ids": ids}


# The lobby (rooms.lobby): counts on lobby_group(), matches on each person's own group.


class LobbyRoomCountPayload(serializers.Serializer):
    id = serializers.IntegerField()
    members = serializers.IntegerField()


class LobbyCountsPayload(serializers.Serializer):
    online = serializers.IntegerField(help_text="People with at least one open socket.")
    waiting = serializers.IntegerField(help_text="People in the queue to talk to a stranger.")
    rooms = LobbyRoomCountPayload(many=True, help_text="The largest public rooms and their member counts.")


def lobby_counts(*, online: int, waiting: int, rooms: list[dict]) -> dict:
    """Pushed to the lobby group when a count changed (at most once per LOBBY_TICK_SECONDS)."""
    return {"type": "lobby.counts", "online": online, "waiting": waiting, "rooms": rooms}


def lobby_queued(*, tags: list[str]) -> dict:
    """To the socket that joined: it waits in the queue (a match.found follows when someone fits)."""
    return {"type": "lobby.queued", "tags": tags}


def lobby_left() -> dict:
    """To the socket that asked: it is out of the queue, and any lobby chat of its person is closed."""
    return {"type": "lobby.left"}


def match_found(*, room, peer) -> dict:
    """To each of the two people paired, on their own group: the new random room and who is in it."""
    return {"type": "match.found", "room": room_payload(room), "peer": UserPayload(peer).data}


def match_ended(*, room_id: int, by: int) -> dict:
    """To both people of a lobby chat: one of them (`by`) left it, and it is read-only from now on."""
    return {"type": "match.ended", "room": room_id, "by": by}


# Publishing


def publish(group: str | Iterable[str], event: dict) -> None:
    """Send one event to one group or several; the JSON text is built once for all receivers."""
    _send_all_now(_addressed(group, event))


def publish_each(items: list[tuple[str, Callable[[], dict]]]) -> None:
    """Build many events, each for its group, and publish them in order: the payloads are built here
    (off the event loop, which delivers every copy), then one round trip to Redis."""
    _send_all_now([item for group, build in items for item in _addressed(group, build())])


async def apublish(group: str | Iterable[str], event: dict) -> None:
    """publish() for async code (consumers)."""
    await _send_all(_addressed(group, event))


def _addressed(group: str | Iterable[str], event: dict) -> list[tuple[str, dict]]:
    """(group, channel-layer message) for each group: the text serialized once for all of them."""
    message = _layer_message(event)
    return [(name, {**message, "group": name}) for name in ([group] if isinstance(group, str) else group)]


def _layer_message(event: dict) -> dict:
    return {"type": event["type"], "text": dumps(event), **_routing(event)}


def _send_all_now(items: list[tuple[str, dict]]) -> None:
    """_send_all for code outside the event loop: the Redis layer publishes from this thread, with no
    hop to the loop (chat.layers); other layers (the in-memory one of embedded mode) need the loop."""
    layer = get_channel_layer()
    # On the type: channels_redis's pub/sub layer hands unknown attributes to a per-loop layer, which
    # needs a running loop, so asking the instance would raise in this thread instead of answering.
    if not hasattr(type(layer), "group_send_many_now") or not layer.group_send_many_now(items):
        async_to_sync(_send_all)(items)


async def _send_all(items: list[tuple[str, dict]]) -> None:
    """In order. The Redis layer (chat.layers) pipelines them: a batch of sends waited for one
    round trip per message, each behind the event loop's deliveries, before its acks could go."""
    layer = get_channel_layer()
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:
        await send_many(items)
        return
    for group, message in items:
        await layer.group_send(group, message)


def dumps(event: dict) -> str:
    return json.dumps(event, cls=DjangoJSONEncoder, separators=(",", ":"))


def _routing(event: dict) -> dict:
    """What a consumer acts on besides forwarding the text: which room and person the event is about."""
    kind = event["type"]
    if kind == "member.joined":
        return {"room_id": event["room"], "user_id": event["member"]["user"]["id"]}
    if kind == "member.left":
        return {"room_id": event["room"], "user_id": event["user"]}
    if kind == "typing":
        return {"room_id": event["room"], "user_id": event["user"]["id"]}
    if kind == "presence":
        return {"user_id": event["user"]}
    if kind == "read":
        return {"room_id": event["room"], "user_id": event["user"]}
    if kind == "room.updated":
        return {"room_id": event["room"]["id"]}
    return {}


def user_sockets_close(user_id: int) -> None:
    """Close every open socket of this person, in every process (the consumer closes with 4001)."""
    publish(user_group(user_id), session_close())


def publish_on_commit(group: str | Iterable[str], build: Callable[[], dict]) -> None:
    """Build and publish an event once the surrounding transaction commits.

    Nothing is announced that may still roll back, and the payload is built after commit, outside
    the row locks a service holds (message_send holds its room's lock; serializing there would
    make every sender to that room wait for it). Robust: the rows are committed when this runs,
    so a channel layer outage is logged, not turned into a failed request; clients catch up from
    PostgreSQL when they resume.
    """
    groups = [group] if isinstance(group, str) else list(group)
    transaction.on_commit(lambda: publish(groups, build()), robust=True)
