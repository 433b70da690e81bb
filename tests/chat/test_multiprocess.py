"""Two real daphne processes sharing PostgreSQL and Redis: what happens on one reaches sockets on the other."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from websockets.asyncio.client import connect

from tests.chat.sockets import logged_in_client
from tests.conftest import free_port
from tests.rooms.factories import group_room

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ORIGIN = "http://127.0.0.1:8000"
BASE_DIR = Path(__file__).resolve().parents[2]
WAIT = 10
FAST_HEARTBEAT_SECONDS = 0.4


def database_url() -> str:
    db = settings.DATABASES["default"]  # During the tests NAME is the test database.
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"daphne exited early:\n{log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"daphne did not listen on {port}:\n{log.read_text()}")


@contextmanager
def daphne_pair(directory: Path, *, heartbeat_seconds: float):
    """Two daphne processes on free ports, with this test run's database, Redis and channel prefix."""
    layer = settings.CHANNEL_LAYERS["default"]
    if not settings.USES_POSTGRES or "prefix" not in layer.get("CONFIG", {}):
        pytest.skip("needs PostgreSQL and the Redis channel layer")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_PREFIX": layer["CONFIG"]["prefix"],
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_SETTINGS_MODULE": "tests.chat.daphne_settings",
        "WS_HEARTBEAT_SECONDS": str(heartbeat_seconds),
        "DATABASE_POOL_MIN": "1",
        "DATABASE_POOL_MAX": "4",
    }
    processes, ports = [], []
    try:
        for number in range(2):
            port = free_port()
            log = directory / f"daphne{number}.log"
            command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
            with log.open("w") as output:
                process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
            processes.append(process)
            wait_for_port(port, process, log)
            ports.append(port)
        yield list(zip(ports, processes, strict=True))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def servers(tmp_path):
    # The production heartbeat: no socket is dropped while a step of the test reads another one.
    with daphne_pair(tmp_path, heartbeat_seconds=20) as pair:
        yield pair


@pytest.fixture
def fast_servers(tmp_path):
    # Fast enough that a killed process's sockets expire within a test (their entries live 2.5 beats).
    with daphne_pair(tmp_path, heartbeat_seconds=FAST_HEARTBEAT_SECONDS) as pair:
        yield pair


class Client:
    """A websockets client that answers the server's pings, as a browser's script does."""

    def __init__(self, connection):
        self.connection = connection

    async def next_event(self) -> dict:
        while True:
            event = json.loads(await self.connection.recv())
            if event["type"] != "ping":
                return event
            await self.send("pong")

    async def send(self, event_type: str, **fields) -> None:
        await self.connection.send(json.dumps({"type": event_type, **fields}))

    async def expect(self, event_type: str, **matching) -> dict:
        """The next event of this type (and these top-level values), skipping others on the way."""
        async with asyncio.timeout(WAIT):
            while True:
                event = await self.next_event()
                if event["type"] == event_type and all(event.get(k) == v for k, v in matching.items()):
                    return event

    async def nothing_of(self, event_type: str, seconds: float = 0.5) -> bool:
        try:
            async with asyncio.timeout(seconds):
                while True:
                    event = await self.next_event()
                    assert event["type"] != event_type, event
        except TimeoutError:
            return True


def session_cookie(user) -> str:
    return logged_in_client(user).cookies[settings.SESSION_COOKIE_NAME].value


async def open_socket(port: int, user) -> Client:
    cookie = await database_sync_to_async(session_cookie)(user)
    connection = await connect(
        f"ws://127.0.0.1:{port}/ws/",
        origin=ORIGIN,
        additional_headers=[("Cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}")],
        open_timeout=WAIT,
    )
    client = Client(connection)
    await client.expect("hello")
    return client


async def test_messages_typing_and_presence_cross_between_processes(servers, make_user):
    (first, _), (second, _) = servers
    ann, ben = await database_sync_to_async(lambda: (make_user("ann"), make_user("ben")))()
    room = await database_sync_to_async(group_room)(ann, ben)

    ben_ws = await open_socket(second, ben)
    ann_ws = await open_socket(first, ann)
    try:
        # Presence: ann's socket on the first process makes her online for ben on the second.
        assert await ben_ws.expect("presence", user=ann.pk) == {"type": "presence", "user": ann.pk, "online": True}

        # Messages.
        client_id = str(uuid.uuid4())
        await ann_ws.send("message.send", room=room.pk, body="across processes", client_id=client_id)
        ack = await ann_ws.expect("message.ack")
        new = await ben_ws.expect("message.new")
        assert new["message"] == ack["message"] and new["message"]["body"] == "across processes"

        # Typing, the other way round.
        await ben_ws.send("typing", room=room.pk)
        assert (await ann_ws.expect("typing"))["user"] == {"id": ben.pk, "handle": "ben"}

        # A second tab of ann on the second process: closing the first leaves her online.
        ann_tab = await open_socket(second, ann)
        await ann_ws.connection.close()
        assert await ben_ws.nothing_of("presence")
        await ann_tab.connection.close()
        assert await ben_ws.expect("presence", user=ann.pk) == {"type": "presence", "user": ann.pk, "online": False}
    finally:
        await ann_ws.connection.close()
        await ben_ws.connection.close()


async def test_a_killed_process_s_sockets_go_offline_for_the_other_process(fast_servers, make_user):
    (first, first_process), (second, _) = fast_servers
    ann, ben = await database_sync_to_async(lambda: (make_user("ann"), make_user("ben")))()
    await database_sync_to_async(group_room)(ann, ben)

    ben_ws = await open_socket(second, ben)
    ann_ws = await open_socket(first, ann)
    try:
        assert (await ben_ws.expect("presence", user=ann.pk))["online"] is True
        first_process.kill()  # No disconnect runs: only the expiry of ann's entry can tell.
        first_process.wait()
        started = time.monotonic()
        assert (await ben_ws.expect("presence", user=ann.pk))["online"] is False
        assert time.monotonic() - started < 10 * FAST_HEARTBEAT_SECONDS
        assert await ben_ws.nothing_of("presence", seconds=3 * FAST_HEARTBEAT_SECONDS)  # Announced once.
    finally:
        await ann_ws.connection.close()
        await ben_ws.connection.close()
