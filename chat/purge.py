"""`manage.py purge`: a registry of steps, each deleting one kind of data nobody needs any more.

A step counts what it would delete (for `--dry-run`) and deletes it; both take the same `now`, so a
dry run and the real run that follows agree. The steps below cover accounts, rooms and chat
(chat builds on both). Another app adds its own with `register()`, from its AppConfig.ready():

    from chat.purge import PurgeStep, register
    register(PurgeStep("uploads", "orphaned uploads",
                       count=lambda now: orphans(now=now).count(),
                       delete=lambda now: orphans_delete(now=now)))

WebSocket tickets need no step: they live in the cache and expire there (chat.tickets).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import tokens
from chat import notifications
from chat.models import Message
from rooms import services as room_services

RETENTION_BATCH = 2000


@dataclass(frozen=True)
class PurgeStep:
    name: str
    description: str
    count: Callable[[datetime], int]
    delete: Callable[[datetime], int]


_steps: dict[str, PurgeStep] = {}


def register(step: PurgeStep) -> PurgeStep:
    """Add a step (or replace the one of that name); steps run in the order they were registered."""
    _steps[step.name] = step
    return step


def purge_steps() -> list[PurgeStep]:
    return list(_steps.values())


def purge_run(*, dry_run: bool, names: list[str] | None = None, now: datetime | None = None) -> dict[str, int]:
    """Run the steps (all, or those named): {name: rows deleted, or that would be with dry_run}."""
    now = now or timezone.now()
    unknown = set(names or ()) - set(_steps)
    if unknown:
        raise KeyError(f"No purge step called {', '.join(sorted(unknown))}; there are {', '.join(_steps)}.")
    chosen = [step for step in _steps.values() if not names or step.name in names]
    return {step.name: (step.count if dry_run else step.delete)(now) for step in chosen}


# Message retention (MESSAGE_RETENTION_DAYS)


def expired_messages(*, now: datetime | None = None) -> QuerySet[Message]:
    """Messages past the retention period; none when MESSAGE_RETENTION_DAYS is unset (keep forever)."""
    days = getattr(settings, "MESSAGE_RETENTION_DAYS", None)
    if days is None:
        return Message.objects.none()
    return Message.objects.filter(created_at__lt=(now or timezone.now()) - timedelta(days=days))


def messages_delete_expired(*, now: datetime | None = None, batch: int = RETENTION_BATCH) -> int:
    """Delete them, with their reactions and notifications, a batch per transaction.

    Rows, not tombstones: retention is about not holding the words any more. Each room loses the
    oldest stretch of its history, so what is left of it still has no gap in its seqs; replies to
    a deleted message keep a null reply_to, as after any deletion.
    """
    total = 0
    while ids := list(expired_messages(now=now).order_by("pk").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            Message.objects.filter(pk__in=ids).delete()
        total += len(ids)
    return total


register(
    PurgeStep(
        "verification_codes",
        "e-mail verification codes a day past their expiry",
        count=lambda now: notifications.expired_verifications(now=now).count(),
        delete=lambda now: notifications.verifications_delete_expired(now=now),
    )
)
register(
    PurgeStep(
        "refresh_tokens",
        "expired API refresh tokens and their blacklist entries",
        count=lambda now: tokens.expired_refresh_tokens(now=now).count(),
        delete=lambda now: tokens.refresh_tokens_delete_expired(now=now),
    )
)
register(
    PurgeStep(
        "read_notifications",
        "notifications read more than NOTIFICATION_RETENTION_DAYS ago",
        count=lambda now: notifications.old_read_notifications(now=now).count(),
        delete=lambda now: notifications.notifications_delete_old_read(now=now),
    )
)
register(
    PurgeStep(
        "lobby_rooms",
        "lobby chats LOBBY_ROOM_TTL after they ended, with their messages (not while a report is open)",
        count=lambda now: room_services.random_rooms_expired(now=now).count(),
        delete=lambda now: room_services.random_rooms_purge(now=now),
    )
)
register(
    PurgeStep(
        "messages",
        "messages older than MESSAGE_RETENTION_DAYS (kept forever when unset)",
        count=lambda now: expired_messages(now=now).count(),
        delete=lambda now: messages_delete_expired(now=now),
    )
)
