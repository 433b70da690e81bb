"""Structured logs: one request id follows a request or a socket's events into the Celery tasks they queue."""

import json
import logging
import os
import subprocess
import sys
import time
import uuid

import pytest
from django_guid.log_filters import CorrelationId

from tests.chat.sockets import ORIGIN, Socket, session_cookie
from tests.conftest import ROOT


class Records(logging.Handler):
    """Log records as a handler of the settings' console sees them: with django-guid's filter."""

    def __init__(self):
        super().__init__()
        self.addFilter(CorrelationId())
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def ids_of(self, text: str) -> set[str]:
        return {record.correlation_id for record in self.records if text in record.getMessage()}


@pytest.fixture
def records():
    handler = Records()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def mention_url(room) -> str:
    return f"/api/rooms/{room.pk}/messages/"


@pytest.mark.django_db(transaction=True)  # The task is queued on commit.
def test_an_api_request_s_id_reaches_the_task_it_queues_and_stays_on_its_response(ann, ben, room, api_as, records):
    response = api_as(ann).post(
        mention_url(room), {"body": "@ben look", "client_id": str(uuid.uuid4())}, HTTP_X_REQUEST_ID="req-http-7"
    )
    assert response.status_code == 201
    assert records.ids_of("message_mentions_notify") == {"req-http-7"}
    # The eager task ran inside the request; the request kept its id afterwards.
    assert response["X-Request-ID"] == "req-http-7"


@pytest.mark.django_db(transaction=True)
async def test_a_socket_s_id_is_on_the_logs_and_tasks_of_its_events(ann, ben, room, records):
    from channels.testing import WebsocketCommunicator
    from django.conf import settings

    from config.asgi import application

    cookie = await session_cookie(ann)
    headers = [
        (b"origin", ORIGIN),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        (b"x-request-id", b"ws-socket-42"),
    ]
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    assert (await communicator.connect(5))[0]
    ws = Socket(communicator)
    try:
        await ws.expect("hello")
        await ws.send("message.send", room=room.pk, body="@ben hello", client_id=str(uuid.uuid4()))
        await ws.expect_each("message.ack", "message.new")
    finally:
        await communicator.disconnect()
    assert records.ids_of("message_mentions_notify") == {"ws-socket-42"}


def test_log_format_json_writes_one_object_per_line():
    env = {**os.environ, "LOG_FORMAT": "json"}
    code = "import django, logging; django.setup(); logging.getLogger('parley.test').warning('hello %s', 'there')"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    [line] = [line for line in result.stderr.splitlines() if "parley.test" in line]
    entry = json.loads(line)
    assert entry["message"] == "hello there" and entry["level"] == "WARNING" and "request_id" in entry


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_logs_the_task_with_the_id_of_the_request_that_queued_it(
    ann, ben, room, api_as, celery_worker_process
):
    worker = celery_worker_process(LOG_FORMAT="json")
    response = api_as(ann).post(
        mention_url(room), {"body": "@ben over there", "client_id": str(uuid.uuid4())}, HTTP_X_REQUEST_ID="req-worker-9"
    )
    assert response.status_code == 201
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.startswith("{")]
        done = [
            line for line in lines if "message_mentions_notify" in line["message"] and "succeeded" in line["message"]
        ]
        if done:
            assert {line["request_id"] for line in done} == {"req-worker-9"}
            return
        time.sleep(0.2)
    pytest.fail(f"the worker did not log the task:\n{worker.log_path.read_text()}")
