from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

HANDLE_PATTERN = r"^[A-Za-z0-9_]{3,30}$"
handle_validator = RegexValidator(
    HANDLE_PATTERN, "A handle is 3 to 30 letters, digits or underscores.", code="invalid_handle"
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        # Logging in must not depend on how the person capitalised their address.
        return self.get(email__iexact=email)

    def create_user(self, email, password=None, *, handle, **extra):
        user = self.model(email=self.normalize_email(email), handle=handle, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, *, handle, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("email_verified_at", timezone.now())
        return self.create_user(email, password, handle=handle, **extra)


class DmPolicy(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    FRIENDS = "friends", "Friends only"
    # Anyone may write, but a conversation a non-friend starts waits among my message requests
    # (rooms.message_requests) until I accept it; nothing about it reaches me before.
    REQUESTS = "requests", "Friends; others through message requests"


class FriendRequestPolicy(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    FRIENDS_OF_FRIENDS = "friends_of_friends", "Friends of my friends"
    NOBODY = "nobody", "Nobody"


class EmailNotifications(models.TextChoices):
    IMMEDIATELY = "immediately", "Right away, while I am away"
    DIGEST = "digest", "A daily digest"
    NEVER = "never", "Never"


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(max_length=254)
    handle = models.CharField(max_length=30, validators=[handle_validator], help_text="Shown as @handle.")
    display_name = models.CharField(max_length=60, blank=True)
    bio = models.TextField(max_length=500, blank=True)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    avatar_thumbnail = models.ImageField(upload_to="avatars/", blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    dm_policy = models.CharField(
        "who may message me", max_length=10, choices=DmPolicy.choices, default=DmPolicy.EVERYONE
    )
    friend_request_policy = models.CharField(
        "who may send me friend requests",
        max_length=20,
        choices=FriendRequestPolicy.choices,
        default=FriendRequestPolicy.EVERYONE,
    )
    # A digest by default: people hear about what they missed without a mail per message.
    email_notifications = models.CharField(
        "e-mail notifications", max_length=12, choices=EmailNotifications.choices, default=EmailNotifications.DIGEST
    )
    # Access tokens issued after this skip the denylist look-up in Redis (accounts.tokens): only a
    # token that already existed when its owner last signed out of the API can be on that list.
    api_logout_at = models.DateTimeField("last API sign-out", null=True, blank=True, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["handle"]

    class Meta:
        # Upper() because Django compiles `iexact` to UPPER(col) = UPPER(value) on PostgreSQL, so
        # these unique indexes also serve every case-insensitive login and handle lookup.
        constraints = [
            models.UniqueConstraint(
                Upper("email"), name="user_email_ci_unique", violation_error_message="This e-mail address is taken."
            ),
            models.UniqueConstraint(
                Upper("handle"), name="user_handle_ci_unique", violation_error_message="This handle is taken."
            ),
        ]

    def __str__(self):
        return f"@{self.handle}"

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def name(self) -> str:
        return self.display_name or self.handle

    def get_full_name(self):
        return self.name

    def get_short_name(self):
        return self.handle


class EmailVerification(models.Model):
    """One mailed code and link. Only hashes are stored: a leaked table verifies nobody."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="verifications")
    code_hash = models.CharField(max_length=64)
    link_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"verification for {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()


class Friendship(models.Model):
    """One row per direction: (me, friend) and (friend, me), written and deleted together.

    Two rows cost a little space, but "my friends" is then one range scan of the unique index
    on (user, friend), with no OR or UNION over the two columns of a pair row.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    friend = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The friend's upper-cased handle: the friends list's order, so that a page of 100 of someone's
    # 1,000 friends reads 100 entries of an index on (user, friend_key in byte order) instead of
    # sorting all 1,000 by their handles. On PostgreSQL, triggers keep it and that index exists
    # (migration 0010), whatever writes the rows or renames the friend, even at the same time (a new
    # row locks the friend's user row); the embedded SQLite mode leaves it empty and sorts by the
    # handle itself.
    friend_key = models.CharField(max_length=30, default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "friend"], name="friendship_unique"),
            models.CheckConstraint(condition=~models.Q(user=models.F("friend")), name="friendship_not_self"),
        ]

    def __str__(self):
        return f"{self.user_id} is a friend of {self.friend_id}"


class FriendRequest(models.Model):
    """A pending request. Accepting, declining or cancelling deletes it: only what is open is stored."""

    from_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    to_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_user", "to_user"], name="friend_request_unique"),
            models.CheckConstraint(condition=~models.Q(from_user=models.F("to_user")), name="friend_request_not_self"),
        ]
        # Incoming requests are listed by recipient; the unique index serves the sender's side.
        indexes = [models.Index(fields=["to_user", "-created_at"])]

    def __str__(self):
        return f"request from {self.from_user_id} to {self.to_user_id}"


class Block(models.Model):
    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"),
        ]
        # "Who blocked me" is asked on every DM and lobby match; the unique index serves "whom I blocked".
        indexes = [models.Index(fields=["blocked"])]

    def __str__(self):
        return f"{self.blocker_id} blocked {self.blocked_id}"


class Report(models.Model):
    """Someone reported a person (from a lobby chat, a message, their profile). Staff work through
    the open ones in the admin's queue (accounts.moderation resolves or dismisses them).

    Room and message are kept by reference: a lobby room with an open report is not purged
    (rooms.services.random_rooms_purge), so what was reported stays readable until it is handled.
    """

    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or advertising"
        HARASSMENT = "harassment", "Harassment or hate"
        SEXUAL = "sexual", "Unwanted sexual content"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    reporter = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reports_made")
    reported = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reports_received")
    room = models.ForeignKey("rooms.Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    message = models.ForeignKey("chat.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The message as it was reported: its author may edit or delete it later (or the chat be purged
    # once the report is handled), and the moderator judges what the reporter saw.
    message_body = models.TextField(blank=True)
    message_author_handle = models.CharField(max_length=30, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    details = models.TextField(max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    handled_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField("what was done", max_length=2000, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(reporter=models.F("reported")), name="report_not_self"),
        ]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self):
        return f"report of {self.reported_id} by {self.reporter_id} ({self.status})"


def _audit_target(model, name: str) -> models.ForeignKey:
    # ModerationAction says why these are not real foreign keys.
    return models.ForeignKey(
        model,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=name,
    )


class ModerationAction(models.Model):
    """The audit log: one row per thing staff did to a person, room, message or report, written by
    the moderation services only (accounts.moderation), never changed afterwards.

    Targets are kept by id without a foreign key constraint (DO_NOTHING): deleting a person or purging
    a room must neither fail because of the log nor take its rows with it, and the log must not cost
    those deletions a query. `target_label` keeps what the target was called (or a removed message's
    text), for when it is gone.
    """

    class Kind(models.TextChoices):
        MESSAGE_REMOVE = "message_remove", "Removed a message"
        USER_DEACTIVATE = "user_deactivate", "Deactivated a person"
        USER_REACTIVATE = "user_reactivate", "Reactivated a person"
        USER_VERIFY = "user_verify", "Verified a person"
        ROOM_ARCHIVE = "room_archive", "Archived a room"
        ROOM_UNARCHIVE = "room_unarchive", "Unarchived a room"
        REPORT_RESOLVE = "report_resolve", "Resolved a report"
        REPORT_DISMISS = "report_dismiss", "Dismissed a report"

    moderator = _audit_target(User, "moderator")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    target_user = _audit_target(User, "person")
    target_room = _audit_target("rooms.Room", "room")
    target_message = _audit_target("chat.Message", "message")
    target_report = _audit_target(Report, "report")
    target_label = models.TextField("target", blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["kind", "-created_at"], name="moderation_kind_newest")]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.target_label}) by {self.moderator_id}"
