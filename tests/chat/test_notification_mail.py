"""Notification mail: who gets it, batching, never twice, one-click unsubscribe, and the real path
(Redis broker -> Celery worker -> SMTP)."""

import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import EmailNotifications as EmailPreference
from chat import notifications, services, tasks
from chat.models import Notification
from rooms import services as room_services
from rooms.models import Membership
from tests.conftest import free_port, wait_for_log

pytestmark = pytest.mark.django_db
Kind = Notification.Kind


def send(author, room, body):
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def mention(author, recipient, room, body=None) -> Notification:
    message = send(author, room, body or f"@{recipient.handle} look")
    # get_or_create: where on_commit runs (transaction=True tests), the mention task may have been first.
    notification, _ = Notification.objects.get_or_create(
        user=recipient, kind=Kind.MENTION, message=message, defaults={"actor": author, "room": room}
    )
    return notification


def later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture
def immediately(ben):
    ben.email_notifications = EmailPreference.IMMEDIATELY
    ben.save(update_fields=["email_notifications"])
    return ben


# What is sent


def test_an_offline_person_is_mailed_their_unread_mentions_and_dms_in_one_mail(ann, ben, bob, room, settings):
    settings.SITE_URL = "http://chat.example"
    first = mention(ann, ben, room, "@ben <b>bold</b> question")
    direct, _ = room_services.direct_room_get_or_create(user=bob, other=ben)
    dm = send(bob, direct, "psst")
    notifications.dm_away_notify()
    Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=bob)  # Not mailed.

    assert notifications.users_due_for_mail() == [ben.pk]
    assert tasks.notification_mail_send(ben.pk) == 2
    [sent] = mail.outbox
    assert sent.to == ["ben@example.com"] and sent.subject == "2 things you missed on Parley"
    assert "Ann mentioned you in # Book club" in sent.body and "Bob sent you a message" in sent.body
    assert f"http://chat.example/rooms/{room.pk}/?around={first.message_id}" in sent.body
    assert f"http://chat.example/rooms/{direct.pk}/?around={dm.pk}" in sent.body
    html, kind = sent.alternatives[0]
    assert kind == "text/html" and "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    unsubscribe = re.search(r"http://chat\.example/notifications/unsubscribe/[^/\s]+/", sent.body).group(0)
    assert sent.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert set(Notification.objects.filter(emailed_at__isnull=False).values_list("kind", flat=True)) == {
        "mention",
        "dm",
    }


def test_one_notification_gets_a_subject_of_its_own(ann, ben, room):
    mention(ann, ben, room)
    tasks.notification_mail_send(ben.pk)
    assert mail.outbox[0].subject == "Ann mentioned you in # Book club on Parley"


def test_the_scan_queues_one_mail_task_per_due_person(ann, ben, bob, room, direct):
    mention(ann, ben, room)
    mention(ann, ben, room, "@ben again")
    send(ann, direct, "hi bob")
    notifications.dm_away_notify()
    # Celery runs eagerly in the tests: the scan's queued tasks have mailed by the time it returns.
    assert tasks.notifications_mail_due() == 2
    assert sorted(message.to[0] for message in mail.outbox) == ["ben@example.com", "bob@example.com"]


def test_the_scan_walks_every_batch_past_people_still_waiting(ann, ben, bob, room, direct):
    mention(ann, ben, room)
    tasks.notification_mail_send(ben.pk)
    mention(ann, ben, room, "@ben again")  # Ben waits out his interval now.
    send(ann, direct, "hi bob")
    notifications.dm_away_notify()
    assert notifications.users_due_for_mail(batch=1) == [bob.pk]


def test_a_name_with_a_line_break_still_gets_one_line_of_subject(ann, ben, room):
    ann.display_name = "Ann\nBcc: someone@example.com"
    ann.save(update_fields=["display_name"])
    mention(ann, ben, room)
    assert tasks.notification_mail_send(ben.pk) == 1
    [sent] = mail.outbox
    assert "\n" not in sent.subject and sent.subject.startswith("Ann Bcc: someone@example.com")
    assert sent.to == [ben.email] and not sent.bcc


# Who is not mailed


def test_nobody_online_is_mailed(ann, ben, room, online):
    mention(ann, ben, room)
    online(ben)
    assert notifications.users_due_for_mail() == []
    assert tasks.notification_mail_send(ben.pk) == 0
    assert mail.outbox == [] and not Notification.objects.filter(emailed_at__isnull=False).exists()


def test_nobody_who_opted_out_is_mailed(ann, ben, room):
    mention(ann, ben, room)
    ben.email_notifications = EmailPreference.NEVER
    ben.save(update_fields=["email_notifications"])
    assert notifications.users_due_for_mail() == []
    assert tasks.notification_mail_send(ben.pk) == 0
    assert mail.outbox == []


def test_a_room_muted_after_the_mention_mails_nothing_about_it(ann, ben, room):
    mention(ann, ben, room)
    Membership.objects.filter(user=ben, room=room).update(notification_level=Membership.Notify.NOTHING)
    assert notifications.users_due_for_mail() == []
    assert tasks.notification_mail_send(ben.pk) == 0 and mail.outbox == []


def test_what_was_read_meanwhile_is_not_mailed(ann, ben, room):
    read_in_room = mention(ann, ben, room)
    services.read_mark(user=ben, room_id=room.pk, seq=read_in_room.message.seq)
    read_in_list = mention(ann, ben, room, "@ben two")
    notifications.notification_mark_read(user=ben, notification_id=read_in_list.pk)
    assert tasks.notification_mail_send(ben.pk) == 0 and mail.outbox == []


def test_unverified_or_deactivated_people_are_not_mailed(ann, ben, room):
    mention(ann, ben, room)
    ben.is_active = False
    ben.save(update_fields=["is_active"])
    assert tasks.notification_mail_send(ben.pk) == 0 and mail.outbox == []


# Batching and never twice


def test_at_most_one_mail_per_interval_then_the_rest_in_the_next(ann, ben, room, immediately, settings):
    settings.NOTIFICATION_EMAIL_INTERVAL = timedelta(minutes=10)
    mention(ann, ben, room, "@ben one")
    assert tasks.notification_mail_send(ben.pk) == 1
    mention(ann, ben, room, "@ben two")
    mention(ann, ben, room, "@ben three")
    assert notifications.notification_mail_send(user_id=ben.pk, now=later(5)) == 0
    assert notifications.users_due_for_mail(now=later(5)) == []
    assert notifications.users_due_for_mail(now=later(11)) == [ben.pk]
    assert notifications.notification_mail_send(user_id=ben.pk, now=later(11)) == 2
    assert len(mail.outbox) == 2 and mail.outbox[1].subject == "2 things you missed on Parley"


def test_by_default_at_most_one_mail_per_10_minutes_and_the_interval_is_configurable(
    ann, ben, room, immediately, settings
):
    assert notifications.mail_interval(EmailPreference.IMMEDIATELY) == timedelta(minutes=10)  # config.settings
    mention(ann, ben, room, "@ben one")
    assert tasks.notification_mail_send(ben.pk) == 1
    mention(ann, ben, room, "@ben two")
    assert notifications.users_due_for_mail(now=later(9)) == []

    settings.NOTIFICATION_EMAIL_INTERVAL = timedelta(minutes=30)
    assert notifications.users_due_for_mail(now=later(11)) == []
    assert notifications.notification_mail_send(user_id=ben.pk, now=later(29)) == 0
    assert notifications.notification_mail_send(user_id=ben.pk, now=later(31)) == 1
    assert len(mail.outbox) == 2


def test_a_digest_waits_a_day_between_mails(ann, ben, room, settings):
    settings.NOTIFICATION_DIGEST_INTERVAL = timedelta(days=1)
    assert notifications.email_preference(ben) == EmailPreference.DIGEST
    mention(ann, ben, room, "@ben one")
    assert tasks.notification_mail_send(ben.pk) == 1
    mention(ann, ben, room, "@ben two")
    assert notifications.notification_mail_send(user_id=ben.pk, now=later(60 * 23)) == 0
    assert notifications.notification_mail_send(user_id=ben.pk, now=later(60 * 24 + 1)) == 1


def test_a_redelivered_task_sends_nothing_twice(ann, ben, room, immediately, settings):
    # No interval at all: only the claim keeps the second run from mailing the same notifications.
    settings.NOTIFICATION_EMAIL_INTERVAL = timedelta(0)
    mention(ann, ben, room)
    assert tasks.notification_mail_send(ben.pk) == 1
    assert tasks.notification_mail_send(ben.pk) == 0
    assert len(mail.outbox) == 1


def test_an_smtp_failure_gives_the_claim_back_and_the_retry_mails_once(ann, ben, room, immediately, settings):
    mention(ann, ben, room)
    # A real SMTP connection to a port nobody listens on: refused, an OSError, which the task retries.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(OSError):
        notifications.notification_mail_send(user_id=ben.pk)
    assert Notification.objects.get(user=ben).emailed_at is None, "not sent, so not marked"
    assert tasks.notification_mail_send.autoretry_for == (OSError,)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert tasks.notification_mail_send(ben.pk) == 1
    assert tasks.notification_mail_send(ben.pk) == 0
    assert len(mail.outbox) == 1


def test_a_crash_between_claim_and_send_mails_once_when_the_claim_expires(ann, ben, room, immediately, settings):
    """chat.notifications: the dead worker's claim holds for its lease, then the mail goes, once."""
    settings.NOTIFICATION_EMAIL_INTERVAL = timedelta(0)
    mention(ann, ben, room)
    claimed = notifications._mail_claim(user=ben, now=timezone.now())  # ... and the worker dies here.
    assert len(claimed) == 1
    assert tasks.notification_mail_send(ben.pk) == 0 and mail.outbox == [], "claimed: nobody else mails it"
    assert notifications.users_due_for_mail() == []

    expired = timezone.now() + settings.NOTIFICATION_MAIL_LEASE + timedelta(seconds=1)
    assert notifications.users_due_for_mail(now=expired) == [ben.pk]
    assert notifications.notification_mail_send(user_id=ben.pk, now=expired) == 1
    assert notifications.notification_mail_send(user_id=ben.pk, now=expired) == 0
    assert len(mail.outbox) == 1
    notification = Notification.objects.get(user=ben)
    assert notification.emailed_at == expired and notification.mail_claimed_at is None


def test_a_mail_still_being_sent_counts_for_the_interval(ann, ben, room, immediately, settings):
    settings.NOTIFICATION_EMAIL_INTERVAL = timedelta(minutes=10)
    mention(ann, ben, room, "@ben one")
    assert len(notifications._mail_claim(user=ben, now=timezone.now())) == 1  # A worker is mailing it now.
    mention(ann, ben, room, "@ben two")

    assert notifications.notification_mail_send(user_id=ben.pk, now=later(1)) == 0
    assert mail.outbox == []
    assert notifications.notification_mail_send(user_id=ben.pk, now=later(11)) == 2  # The claim ran out.


def test_a_mail_sent_again_carries_the_same_message_id(ann, ben, room, immediately, settings):
    """A worker killed between SMTP's acceptance and the mark sends again: mail clients see one mail."""
    settings.NOTIFICATION_EMAIL_INTERVAL = timedelta(0)
    mention(ann, ben, room)
    assert notifications.notification_mail_send(user_id=ben.pk) == 1
    Notification.objects.filter(user=ben).update(emailed_at=None)  # As if the mark never committed.
    assert notifications.notification_mail_send(user_id=ben.pk) == 1
    first, second = mail.outbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]
    assert first.extra_headers["Message-ID"].startswith(f"<notifications.{ben.pk}.")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_mail_a_person_once(ann, ben, room, immediately):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    for number in range(3):
        mention(ann, ben, room, f"@ben {number}")

    def worker():
        try:
            return notifications.notification_mail_send(user_id=ben.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: worker(), range(4)))
    assert sorted(counts) == [0, 0, 0, 3]
    assert len(mail.outbox) == 1


# Unsubscribing


def test_the_unsubscribe_link_asks_then_turns_mail_off_without_signing_in(ben):
    url = f"/notifications/unsubscribe/{notifications.unsubscribe_token(user_id=ben.pk)}/"
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url)
    assert page.status_code == 200 and b"Turn off e-mail" in page.content
    ben.refresh_from_db()
    assert ben.email_notifications == EmailPreference.DIGEST, "a GET (a link scanner) changes nothing"

    done = browser.post(url, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"E-mail is off" in done.content
    ben.refresh_from_db()
    assert ben.email_notifications == EmailPreference.NEVER
    assert browser.post(url).status_code == 200, "twice is harmless"


@pytest.mark.parametrize("tamper", ["other user", "edited signature", "garbage"])
def test_a_tampered_unsubscribe_link_is_refused(ann, ben, tamper):
    token = notifications.unsubscribe_token(user_id=ben.pk)
    if tamper == "other user":
        # Ann's payload under the signature of Ben's.
        token = notifications.unsubscribe_token(user_id=ann.pk).split(":")[0] + ":" + token.split(":")[1]
    elif tamper == "edited signature":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    else:
        token = "nonsense"
    response = Client().post(f"/notifications/unsubscribe/{token}/")
    assert response.status_code == 400 and b"That link didn" in response.content
    assert set(type(ann).objects.values_list("email_notifications", flat=True)) == {EmailPreference.DIGEST}


def test_an_unsubscribe_token_made_with_another_salt_is_refused(ben):
    from django.core import signing

    forged = signing.dumps(ben.pk, salt="accounts.something-else")
    assert notifications.unsubscribe_user_id(forged) is None
    assert notifications.unsubscribe_user_id(notifications.unsubscribe_token(user_id=ben.pk)) == ben.pk


# The real path


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_mails_over_smtp_and_a_retry_sends_nothing_more(
    ann, ben, room, smtp_inbox, celery_worker_process, settings
):
    worker = celery_worker_process(EMAIL_URL=f"smtp://127.0.0.1:{smtp_inbox.port}", SITE_URL="http://chat.example")
    for number in range(2):
        mention(ann, ben, room, f"@ben question {number}")

    # As beat would: the scan finds ben and queues his mail task; the worker sends it to the SMTP server.
    tasks.notifications_mail_due.delay()
    [received] = smtp_inbox.wait_for(1, timeout=45)
    assert received["To"] == "ben@example.com" and received["Subject"] == "2 things you missed on Parley"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A long header is folded onto its own line; unfolded it is the link in angle brackets.
    assert received["List-Unsubscribe"].strip().startswith("<http://chat.example/notifications/unsubscribe/")
    text = received.get_body(preferencelist=("plain",)).get_content()
    assert "@ben question 0" in text and f"http://chat.example/rooms/{room.pk}/?around=" in text
    assert received.get_body(preferencelist=("html",)) is not None
    # Marked mailed once SMTP took it, as the task ends (chat.notifications).
    assert wait_for_log(worker, r"notification_mail_send\[[^\]]+\] succeeded in [\d.]+s: 2")
    assert Notification.objects.filter(user=ben, emailed_at__isnull=True).count() == 0

    # The same task again, as a redelivery after a lost acknowledgement would run it: nothing more is sent.
    tasks.notification_mail_send.delay(ben.pk)
    assert wait_for_log(worker, r"notification_mail_send\[[^\]]+\] succeeded in [\d.]+s: 0")
    assert len(smtp_inbox.messages) == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_through_a_real_worker_nobody_online_muted_or_opted_out_is_mailed(
    ann, ben, room, make_user, online, smtp_inbox, celery_worker_process
):
    worker = celery_worker_process(EMAIL_URL=f"smtp://127.0.0.1:{smtp_inbox.port}", SITE_URL="http://chat.example")
    cyd, dee, eve = (make_user(handle) for handle in ("cyd", "dee", "eve"))
    Membership.objects.bulk_create([Membership(room=room, user=person) for person in (cyd, dee, eve)])
    online(cyd)  # a presence entry in Redis, which the worker reads
    Membership.objects.filter(user=dee, room=room).update(notification_level=Membership.Notify.NOTHING)
    eve.email_notifications = EmailPreference.NEVER
    eve.save(update_fields=["email_notifications"])

    # The send queues the mention task on commit; the worker parses it: ben, cyd and eve are notified, dee muted.
    send(ann, room, "@ben @cyd @dee @eve lunch?")
    assert wait_for_log(worker, r"message_mentions_notify\[[^\]]+\] succeeded in [\d.]+s: 3")
    tasks.notifications_mail_due.delay()
    assert wait_for_log(worker, r"notifications_mail_due\[[^\]]+\] succeeded in [\d.]+s: 1")
    [received] = smtp_inbox.wait_for(1, timeout=45)

    assert received["To"] == "ben@example.com"
    assert wait_for_log(worker, r"notification_mail_send\[[^\]]+\] succeeded in [\d.]+s: 1")
    assert len(smtp_inbox.messages) == 1
    assert set(Notification.objects.values_list("user__handle", flat=True)) == {"ben", "cyd", "eve"}
    assert list(Notification.objects.filter(emailed_at__isnull=False).values_list("user__handle", flat=True)) == ["ben"]
