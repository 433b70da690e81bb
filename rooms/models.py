from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Room(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"
        RANDOM = "random", "Random"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=80, blank=True)
    description = models.TextField(max_length=500, blank=True)
    category = models.CharField(max_length=40, blank=True)
    is_public = models.BooleanField(default=False, help_text="Anyone verified may find and join it.")
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_rooms"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The seq of the newest message. Incremented under a row lock, so seqs are gapless per room.
    last_seq = models.BigIntegerField(default=0)
    # "<lower user id>:<higher user id>": the unique index makes a pair's direct room exist once,
    # even when both people open it at the same moment.
    direct_key = models.CharField(max_length=41, unique=True, null=True, blank=True, editable=False)
    # A lobby (random) room closes when either person leaves it: read-only from then on, and deleted
    # LOBBY_ROOM_TTL later unless the two became friends (rooms.services.random_room_keep).
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="direct", direct_key__isnull=False) | (~Q(kind="direct") & Q(direct_key__isnull=True)),
                name="room_direct_key_iff_direct",
            ),
        ]
        # The purge of lobby rooms looks for old random rooms only; every other room is outside this index.
        indexes = [models.Index(fields=["created_at"], condition=Q(kind="random"), name="room_random_created")]

    def __str__(self):
        if self.kind == self.Kind.DIRECT:
            return f"direct {self.direct_key}"
        return self.title or f"{self.kind} room {self.pk}"

    @staticmethod
    def direct_key_for(first_id: int, second_id: int) -> str:
        low, high = sorted((first_id, second_id))
        return f"{low}:{high}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    class Notify(models.TextChoices):
        ALL = "all", "All messages"
        MENTIONS = "mentions", "Mentions only"
        NOTHING = "nothing", "Nothing"

    # No separate index on room: the unique (room, user) index already starts with it.
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)
    last_read_seq = models.BigIntegerField(default=0)

    class Request(models.TextChoices):
        PENDING = "pending", "Message request, waiting"
        IGNORED = "ignored", "Message request, ignored"

    notification_level = models.CharField(max_length=10, choices=Notify.choices, default=Notify.ALL)
    # Set on the recipient's membership of a direct room that a non-friend opened while the recipient
    # takes strangers' messages as requests; empty for every other membership. Until it is accepted
    # (emptied) the room is not among the person's rooms, and nothing in it notifies or mails them.
    request = models.CharField(max_length=10, choices=Request.choices, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="membership_room_user_unique")]
        # The requests waiting for a person are few, and so is this index.
        indexes = [
            models.Index(fields=["user"], condition=Q(request="pending"), name="membership_request_pending"),
        ]

    def __str__(self):
        return f"{self.user_id} in {self.room_id} ({self.role})"

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class RoomInvite(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invites")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_invites")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["room", "user"], condition=Q(accepted_at__isnull=True), name="roominvite_one_pending"
            ),
        ]

    def __str__(self):
        return f"invite of {self.user_id} to {self.room_id}"
