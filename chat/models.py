from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.urls import reverse
from django.utils import timezone

from rooms.models import Room

# The text search configuration of message search: 'simple' lowercases words without stemming or
# stop words, the same for every language (chat/search.py says why).
SEARCH_CONFIG = "simple"


class BodyWords(models.Func):
    """The words of a text for full-text search: to_tsvector(SEARCH_CONFIG, text) on PostgreSQL.
    NULL on SQLite, which has no full-text search (search uses a contains-match there)."""

    template = f"to_tsvector('{SEARCH_CONFIG}'::regconfig, %(expressions)s)"
    output_field = SearchVectorField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return "NULL", []


class Message(models.Model):
    # No separate index on room: (room, seq) is unique and serves every per-room lookup.
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages", db_index=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    seq = models.BigIntegerField()
    body = models.TextField(blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    # Chosen by the client per send: a retry carries the same one and gets the original back.
    client_id = models.UUIDField()
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Soft delete: the body is blanked but the row stays, so seqs stay gapless and replies keep a target.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Set when staff removed the message (chat.services.message_remove): members see it as "removed by a
    # moderator" with this reason. Who removed it, and its text, are in the audit log (accounts.ModerationAction).
    # db_default too: the send paths insert with raw SQL that names only the columns a new message sets.
    removal_reason = models.CharField(max_length=500, blank=True, default="", db_default="")
    # The card of the body's first link, set by a Celery task once fetched (chat.previews); only ok ones.
    # No plain index on the hottest table: the partial one below holds only messages that have a card.
    preview = models.ForeignKey(
        "LinkPreview", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # Stored, so that search matches and ranks without parsing bodies again: filtering a million
    # messages newest first by the expression cost a parse per message read (chat/search.py).
    # PostgreSQL keeps it in step with body on every insert and edit; chat/0006 indexes it with GIN.
    search_vector = models.GeneratedField(
        expression=BodyWords("body"), output_field=SearchVectorField(), db_persist=True
    )

    # Not a column: True on the instance message_send returns for a retried client_id.
    replayed = False

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_room_seq_unique"),
            models.UniqueConstraint(fields=["room", "author", "client_id"], name="message_room_author_client_unique"),
        ]
        # No extra (room, -seq) index: PostgreSQL walks the unique (room, seq) index backwards for
        # "newest first", and a second index on the hottest table would only slow every insert.
        indexes = [
            # Deleting a preview sets its messages' link to null: found through this, not a table scan.
            models.Index(fields=["preview"], condition=models.Q(preview__isnull=False), name="message_preview"),
        ]

    def __str__(self):
        return f"message {self.room_id}#{self.seq}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_removed(self) -> bool:
        """Deleted by a moderator rather than by its author or the room's managers."""
        return bool(self.removal_reason)


class Reaction(models.Model):
    # No separate index on message: the unique (message, user, emoji) index starts with it.
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="reaction_message_user_emoji_unique")
        ]

    def __str__(self):
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class Notification(models.Model):
    """Something that happened to a person: shown in the app, and mailed when they are away (chat.notifications)."""

    class Kind(models.TextChoices):
        FRIEND_REQUEST = "friend_request", "Friend request"
        FRIEND_ACCEPTED = "friend_accepted", "Friend request accepted"
        MENTION = "mention", "Mention"
        DM = "dm", "Direct message while away"
        ROOM_INVITE = "room_invite", "Room invite"

    # No separate index on user: the (user, -id) index starts with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker mails it; a claim older than NOTIFICATION_MAIL_LEASE died with its worker.
    mail_claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A retried mention task or two overlapping away-scans cannot notify twice about one message.
            models.UniqueConstraint(
                fields=["user", "kind", "message"],
                condition=models.Q(message__isnull=False),
                name="notification_once_per_message",
            ),
        ]
        indexes = [
            # The list, newest first, is a keyset walk over this index.
            models.Index(fields=["user", "-id"], name="notification_user_newest"),
            # The badge counts only unread rows, which stay few however long the history grows.
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="notification_user_unread"),
        ]

    def __str__(self):
        return f"{self.kind} for {self.user_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def target_url(self) -> str:
        """Where the notification leads: the message in its room, the friends page, or the rooms page."""
        if self.message_id is not None:
            return f"{reverse('room', args=[self.room_id])}?around={self.message_id}"
        if self.kind in (self.Kind.FRIEND_REQUEST, self.Kind.FRIEND_ACCEPTED):
            # A literal: the friends page is being built in accounts and may not be routed yet.
            return "/friends/"
        if self.kind == self.Kind.ROOM_INVITE:
            return reverse("rooms")
        return reverse("notifications")


class Attachment(models.Model):
    """A file uploaded for a message: unsent (message null) until the message that carries it is stored.

    Stored under a random name (`storage_name`), never under anything the uploader chose; `name` is
    only what the file is called when downloaded. `content_type` is what the bytes are, sniffed by
    chat.attachments, not what the client said.
    """

    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    storage_name = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    # Images only: the upright dimensions (so pages reserve the space), and the re-encoded preview shown inline.
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    preview_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The daily purge looks for old uploads never sent; sent ones are reached through their message.
            models.Index(fields=["created_at"], condition=models.Q(message__isnull=True), name="attachment_unsent"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_image(self) -> bool:
        return bool(self.preview_name)


class LinkPreview(models.Model):
    """What a link's page says about itself (OpenGraph, Twitter card or <title>), cached by URL.

    One row per normalized URL, shared by every message that links to it; a failed fetch is kept
    too, so that a dead or refused link is not fetched again before LINK_PREVIEW_FAILURE_TTL.
    Messages only ever point at rows whose status is ok.
    """

    class Status(models.TextChoices):
        OK = "ok", "Fetched"
        FAILED = "failed", "Failed or refused"

    url = models.TextField()
    # URLs can outgrow what a B-tree index entry holds: uniqueness is on their SHA-256.
    url_hash = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=300, blank=True)
    description = models.CharField(max_length=1000, blank=True)
    image_url = models.TextField(blank=True)
    site_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    fetched_at = models.DateTimeField(default=timezone.now)
    # Until then the row is the answer for its URL: LINK_PREVIEW_TTL after a fetch, LINK_PREVIEW_FAILURE_TTL
    # after a failure (a card that worked before is kept through a failed refresh).
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"{self.status} preview of {self.url}"

    @property
    def is_fresh(self) -> bool:
        return self.expires_at > timezone.now()

    @property
    def is_ok(self) -> bool:
        return self.status == self.Status.OK
