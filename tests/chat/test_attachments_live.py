"""Attachments on the real paths: the WebSocket send, and a Celery worker process deleting files."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from chat import attachments, services
from chat.models import Attachment
from tests.chat.attachments import stored, upload_id
from tests.chat.sockets import connected

pytestmark = pytest.mark.django_db(transaction=True)


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


async def test_a_socket_send_carries_files_to_every_member(ann, ben, room):
    photo = await database_sync_to_async(lambda: upload_id(client_of(ann)))()
    client_id = str(uuid.uuid4())
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ann_ws.send("message.send", room=room.pk, body="", client_id=client_id, attachments=[photo])
        ack = (await ann_ws.expect_each("message.ack", "message.new"))["message.ack"]
        [attachment] = ack["message"]["attachments"]
        assert attachment["id"] == photo and attachment["preview_url"] == f"/api/attachments/{photo}/preview/"
        assert (await ben_ws.expect("message.new"))["message"]["attachments"] == [attachment]

        # Sent already: the socket says so, with the field, and stays open.
        await ann_ws.send("message.send", room=room.pk, body="", client_id=str(uuid.uuid4()), attachments=[photo], id=7)
        error = await ann_ws.expect("error")
        assert (error["code"], error["id"], list(error["fields"])) == ("invalid", 7, ["attachments"])
        await ann_ws.send("message.send", room=room.pk, body="x", client_id=str(uuid.uuid4()), attachments="1", id=8)
        assert (await ann_ws.expect("error"))["code"] == "invalid"


@pytest.mark.services
def test_a_celery_worker_deletes_the_files_of_a_deleted_message(ann, room, celery_worker_process, settings):
    worker = celery_worker_process(MEDIA_ROOT=str(settings.MEDIA_ROOT))
    photo = upload_id(client_of(ann))
    message = services.message_send(
        author=ann, room_id=room.pk, body="", client_id=uuid.uuid4(), attachment_ids=[photo]
    )
    attachment = Attachment.objects.get(pk=photo)
    assert stored(attachment.storage_name) and stored(attachment.preview_name)

    services.message_delete(user=ann, message_id=message.pk)  # commits: the task goes to the worker

    deadline = time.monotonic() + 45
    while stored(attachment.storage_name) or stored(attachment.preview_name):
        assert time.monotonic() < deadline, worker.log_path.read_text()[-2000:]
        time.sleep(0.2)
    assert "attachment_files_delete" in worker.log_path.read_text()


@pytest.mark.services
def test_the_purge_skips_an_old_upload_that_is_being_sent_at_that_moment(ann):
    upload = upload_id(client_of(ann))
    Attachment.objects.filter(pk=upload).update(created_at=timezone.now() - timedelta(days=2))
    claimed, release = threading.Event(), threading.Event()

    def send_in_progress():
        with transaction.atomic():
            attachments.attachments_claim_many(requests=[(ann.pk, [upload])])
            claimed.set()
            release.wait(10)
        connection.close()

    sender = threading.Thread(target=send_in_progress)
    sender.start()
    assert claimed.wait(10)
    try:
        assert attachments.attachments_purge_unsent() == 0
    finally:
        release.set()
        sender.join()
    assert Attachment.objects.filter(pk=upload).exists()
    assert attachments.attachments_purge_unsent() == 1  # once nobody is sending it, it goes
