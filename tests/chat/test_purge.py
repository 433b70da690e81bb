"""`manage.py purge`: each step deletes what it owns, and a dry run counts the same rows."""

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import EmailVerification, Report
from chat import purge, services
from chat.models import Message, Notification
from rooms.models import Room

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def help_text(name: str) -> str:
    return load_command_class("chat", name).create_parser("manage.py", name).format_help()


def run(*args) -> str:
    out = StringIO()
    call_command("purge", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_data(ann, ben, room, settings):
    """One of each: expired and fresh, for every step."""
    now = timezone.now()
    for expires in (now - 2 * DAY, now + DAY):
        EmailVerification.objects.create(user=ann, code_hash="x", link_hash=uuid.uuid4().hex, expires_at=expires)
    RefreshToken.for_user(ann)
    OutstandingToken.objects.update(expires_at=now - DAY)
    RefreshToken.for_user(ben)
    for read_at in (now - 40 * DAY, now - DAY, None):
        Notification.objects.create(user=ben, kind="mention", actor=ann, read_at=read_at)
    old = services.message_send(author=ann, room_id=room.pk, body="long ago", client_id=uuid.uuid4())
    Message.objects.filter(pk=old.pk).update(created_at=now - 400 * DAY)
    services.message_send(author=ben, room_id=room.pk, body="today", client_id=uuid.uuid4())
    settings.NOTIFICATION_RETENTION_DAYS = 30
    settings.LOBBY_ROOM_TTL = DAY
    for closed_at in (now - 2 * DAY, now - 2 * DAY, now):  # Ended long ago (one reported), or just now.
        Room.objects.create(kind=Room.Kind.RANDOM, closed_at=closed_at)
    reported = Room.objects.filter(kind=Room.Kind.RANDOM).first()
    Report.objects.create(reporter=ann, reported=ben, room=reported, reason=Report.Reason.SPAM)
    return old


def test_a_dry_run_counts_and_deletes_nothing(old_data, settings):
    settings.MESSAGE_RETENTION_DAYS = 365
    output = run("--dry-run")
    assert "verification_codes: would delete 1 " in output
    assert "refresh_tokens: would delete 1 " in output
    assert "read_notifications: would delete 1 " in output
    assert "messages: would delete 1 " in output
    assert "lobby_rooms: would delete 1 " in output
    assert "nothing was deleted" in output
    assert (EmailVerification.objects.count(), OutstandingToken.objects.count()) == (2, 2)
    assert (Notification.objects.count(), Message.objects.count()) == (3, 2)
    assert Room.objects.filter(kind=Room.Kind.RANDOM).count() == 3


def test_purge_deletes_what_the_dry_run_counted(old_data, settings):
    settings.MESSAGE_RETENTION_DAYS = 365
    output = run()
    assert "messages: deleted 1 " in output and "verification_codes: deleted 1 " in output
    assert EmailVerification.objects.count() == 1 and OutstandingToken.objects.count() == 1
    assert list(Notification.objects.values_list("read_at", flat=True).order_by("id"))[1:] == [None]
    assert list(Message.objects.values_list("body", flat=True)) == ["today"]
    assert Room.objects.filter(kind=Room.Kind.RANDOM).count() == 2  # The reported one waits for its report.
    assert run("--dry-run").count("would delete 0 ") == 5


def test_messages_are_kept_forever_without_a_retention_period(old_data, settings):
    settings.MESSAGE_RETENTION_DAYS = None
    assert "messages: deleted 0 " in run("--step", "messages")
    assert Message.objects.count() == 2


def test_retention_deletes_in_batches(ann, room, settings):
    settings.MESSAGE_RETENTION_DAYS = 1
    for number in range(5):
        services.message_send(author=ann, room_id=room.pk, body=f"m{number}", client_id=uuid.uuid4())
    Message.objects.update(created_at=timezone.now() - 3 * DAY)
    assert purge.messages_delete_expired(batch=2) == 5
    assert not Message.objects.exists()


def test_one_step_runs_alone_and_an_unknown_one_is_refused(old_data):
    output = run("--step", "read_notifications")
    assert output.strip().splitlines() == [
        "read_notifications: deleted 1 (notifications read more than NOTIFICATION_RETENTION_DAYS ago)"
    ]
    assert EmailVerification.objects.count() == 2
    with pytest.raises(CommandError, match="No purge step called lobby"):
        run("--step", "lobby")  # lobby_rooms is its name.


def test_another_app_plugs_in_a_step(monkeypatch):
    monkeypatch.setattr(purge, "_steps", dict(purge._steps))
    deleted = []
    purge.register(purge.PurgeStep("uploads", "orphaned uploads", count=lambda now: 3, delete=deleted.append))
    assert purge.purge_run(dry_run=True, names=["uploads"]) == {"uploads": 3}
    assert "uploads" in help_text("purge")
