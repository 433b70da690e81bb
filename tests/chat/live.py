"""Real server processes for tests: daphne on free ports, and websockets clients that talk to them."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from websockets.asyncio.client import connect

from tests.chat.sockets import logged_in_client
from tests.conftest import free_port

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
def daphne_pair(directory: Path, *, heartbeat_seconds: float, count: int = 2, **env_overrides):
    """Daphne processes on free ports, with this test run's database, Redis and channel prefix."""
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
        **env_overrides,
    }
    processes, ports = [], []
    try:
        for number in range(count):
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


class Client:
    """A websockets client that answers the server's pings, as a browser's script does."""

    def __init__(self, connection):
        self.connection = connection

    async def next_event(self) -> dict:
        while True:
            event = json.loads(await self.connection.recv())
            if event["type"] != "ping":
                return event
            await self.send("pong", id=event.get("id"))

    async def send(self, event_type: str, **fields) -> None:
        await self.connection.send(json.dumps({"type": event_type, **fields}))

    async def expect(self, event_type: str, **matching) -> dict:
        """The next event of this type (and these top-level values), skipping others on the way."""
        async with asyncio.timeout(WAIT):
            while True:
                event = await self.next_event()
                if event["type"] == event_type and all(event.get(k) == v for k, v in matching.items()):
                    return event

    async def expect_one_of(self, *event_types: str) -> dict:
        async with asyncio.timeout(WAIT):
            while True:
                event = await self.next_event()
                if event["type"] in event_types:
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
