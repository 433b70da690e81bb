"""A Celery worker killed (SIGKILL) while it hands a notification mail to SMTP: the mail still goes, once.

acks_late keeps the task in Redis until it finishes, so a new worker runs it again once the
visibility timeout has passed; the dead worker's claim on the notifications has expired by then
(chat.notifications), so the redelivered task mails them, and marks them mailed.
"""

import asyncio
import email
import email.policy
import signal
import threading
import time
import uuid

import pytest
from aiosmtpd.controller import Controller

from chat import services, tasks
from chat.models import Notification
from tests.conftest import free_port, wait_for_log

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.django_db(transaction=True)]

VISIBILITY_SECONDS = 3
LEASE_SECONDS = 1


class StallingInbox:
    """An SMTP server that never answers the first mail's data (the worker waits for its 250 when it
    is killed), and accepts every later one."""

    def __init__(self):
        self.messages = []
        self.stalled = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.stalled.is_set():
            self.stalled.set()
            await asyncio.sleep(3600)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"


@pytest.fixture
def stalling_inbox():
    inbox = StallingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


def test_a_worker_killed_mid_send_leaves_the_mail_to_the_next_worker_which_sends_it_once(
    ann, ben, room, stalling_inbox, celery_worker_process
):
    message = services.message_send(author=ann, room_id=room.pk, body="@ben are you there?", client_id=uuid.uuid4())
    Notification.objects.get_or_create(
        user=ben, kind=Notification.Kind.MENTION, message=message, defaults={"actor": ann, "room": room}
    )
    worker_env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{stalling_inbox.port}",
        "EMAIL_TIMEOUT": "60",
        "SITE_URL": "http://chat.example",
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
        "NOTIFICATION_MAIL_LEASE": str(LEASE_SECONDS),
    }
    first = celery_worker_process(**worker_env)
    tasks.notification_mail_send.delay(ben.pk)
    assert stalling_inbox.stalled.wait(timeout=60), "the first worker never reached the SMTP server"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert Notification.objects.get(user=ben).emailed_at is None, "not mailed yet"

    time.sleep(VISIBILITY_SECONDS + 1)  # The task is visible again to a worker starting now.
    second = celery_worker_process(**worker_env)
    assert wait_for_log(second, r"notification_mail_send\[[^\]]+\] succeeded in [\d.]+s: 1", timeout=60)
    [received] = stalling_inbox.messages
    assert received["To"] == "ben@example.com" and "@ben are you there?" in received.get_body(("plain",)).get_content()
    notification = Notification.objects.get(user=ben)
    assert notification.emailed_at is not None and notification.mail_claimed_at is None

    # Delivered again (as after a lost acknowledgement) or queued by the scan: nothing more is sent.
    tasks.notification_mail_send.delay(ben.pk)
    assert wait_for_log(second, r"notification_mail_send\[[^\]]+\] succeeded in [\d.]+s: 0")
    assert len(stalling_inbox.messages) == 1
