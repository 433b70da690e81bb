import email
import email.policy
import itertools
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
SERVICES_AVAILABLE = os.environ.get("PARLEY_SERVICES") == "1"
PASSWORD = "correct horse battery staple"
S3_BUCKET = "parley-test-media"
_numbers = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    if SERVICES_AVAILABLE:
        return
    skip = pytest.mark.skip(reason="PostgreSQL and Redis are not reachable (make test runs these when they are)")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttles, lock-outs and the JWT denylist live in the cache; each test starts clean.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_lobby():
    # With Redis the lobby's queue goes with the cache's flush above; embedded it is in this process.
    from rooms import lobby, matching

    lobby._LOCAL.__init__()
    matching._last_counts["text"] = None


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # make_user hashes a password per person; the production hasher would make each test seconds long.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_channel_prefix(settings):
    # Redis pub/sub ignores the database number: another test run on the same Redis would otherwise
    # hear this run's "room.1" events (and this run theirs).
    layer = settings.CHANNEL_LAYERS["default"]
    if "prefix" in layer.get("CONFIG", {}):
        settings.CHANNEL_LAYERS = {
            "default": {**layer, "CONFIG": {**layer["CONFIG"], "prefix": f"{layer['CONFIG']['prefix']}-{os.getpid()}"}}
        }


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_user(db):
    """make_user(handle=..., verified=True, **fields) -> a saved user whose password is PASSWORD."""
    from accounts.models import User

    def make(handle=None, *, verified=True, password=PASSWORD, **fields):
        number = next(_numbers)
        handle = handle or f"person{number}"
        fields.setdefault("email", f"{handle}@example.com")
        fields.setdefault("display_name", handle.title())
        user = User.objects.create_user(password=password, handle=handle, **fields)
        if verified:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
        return user

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def ann(make_user):
    return make_user("ann")


@pytest.fixture
def ben(make_user):
    return make_user("ben")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def room(ann, ben):
    """A group room Book club of ann (owner) and ben."""
    from tests.rooms.factories import group_room

    return group_room(ann, ben)


@pytest.fixture
def admin_browser(make_user):
    """A Django test client signed in as a superuser, for admin pages."""
    from django.test import Client

    browser = Client()
    browser.force_login(make_user("boss", is_staff=True, is_superuser=True))
    return browser


@pytest.fixture
def moderator(make_user):
    """A staff member in the Moderators group (accounts/0008), not a superuser."""
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group

    # Transactional tests flush the database, the group made by the data migration with it.
    importlib.import_module("accounts.migrations.0008_moderators_group").moderators_group(apps, None)
    person = make_user("mod", is_staff=True)
    person.groups.add(Group.objects.get(name="Moderators"))
    return person


@pytest.fixture
def moderator_browser(moderator):
    """A Django test client signed in as `moderator`, for admin pages."""
    from django.test import Client

    browser = Client()
    browser.force_login(moderator)
    return browser


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as():
    """api_as(user) -> an APIClient carrying a fresh JWT access token for that user."""
    from rest_framework_simplejwt.tokens import RefreshToken

    def client_for(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return client_for


class _Inbox:
    """Collects what the SMTP catcher receives, parsed as e-mail messages."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"

    def wait_for(self, count=1, timeout=30.0):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.messages)


@pytest.fixture
def smtp_inbox():
    """A real SMTP server (aiosmtpd) on a free port; `.port` and `.wait_for(n)`."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def celery_worker_process(settings, tmp_path):
    """start(**env) runs `celery worker` as a separate process on the test database and Redis."""
    from config.celery import app

    processes = []
    database = settings.DATABASES["default"]

    def start(**extra_env):
        log_path = tmp_path / f"worker-{len(processes)}.log"
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **extra_env,
        }
        log = open(log_path, "w")  # noqa: SIM115 - closed when the fixture ends
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=info"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        processes.append((process, log))
        process.log_path = log_path
        return process

    app.conf.task_always_eager = False
    yield start
    app.conf.task_always_eager = True
    for process, log in processes:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_for_log(worker, pattern: str, timeout: float = 45.0) -> bool:
    """True once a line of the worker's log (celery_worker_process) matches `pattern`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, worker.log_path.read_text()):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def online():
    """online(user, ...): each person has an open socket (a presence entry) until the test ends."""
    from asgiref.sync import async_to_sync

    from chat import presence

    opened = []

    def mark(*users):
        for person in users:
            connection = f"test-{uuid.uuid4().hex}"
            async_to_sync(presence.connection_alive)(user_id=person.pk, connection=connection)
            opened.append((person.pk, connection))

    yield mark
    for user_id, connection in opened:
        async_to_sync(presence.connection_gone)(user_id=user_id, connection=connection)


@pytest.fixture
def direct(ann, bob):
    """The direct room of ann and bob."""
    from rooms import services as room_services

    room, _ = room_services.direct_room_get_or_create(user=ann, other=bob)
    return room


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real S3 API (moto's server) on a free port, with the bucket S3_BUCKET, for one test module."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).create_bucket(Bucket=S3_BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    """The default storage is that S3 bucket (as with AWS_STORAGE_BUCKET_NAME set); a boto3 client of it."""
    import boto3

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": S3_BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "default_acl": None,
                "file_overwrite": False,
                "querystring_auth": True,
            },
        },
    }
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    yield client
    # moto keeps one in-process store for every server it starts: each test starts with an empty bucket.
    for item in client.list_objects_v2(Bucket=S3_BUCKET).get("Contents", []):
        client.delete_object(Bucket=S3_BUCKET, Key=item["Key"])


def connect_aside(*, autocommit: bool = True):
    """A connection of its own to the test database, outside Django's pool, as another process has."""
    import psycopg
    from django.db import connection

    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"],
        autocommit=autocommit,
    )


@pytest.fixture
def retype_column():
    """retype_column(table, column, type) changes a column's type as a migration run by another process
    would (on a connection of its own). Each column gets its type back afterwards, and the pool is
    emptied, so that no connection keeps a statement prepared in between."""
    from django.db import connection

    other = connect_aside()
    original: dict[tuple[str, str], str] = {}

    def retype(table: str, column: str, column_type: str) -> None:
        if (table, column) not in original:
            found = other.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attname = %s",
                [table, column],
            ).fetchone()
            original[(table, column)] = found[0]
        other.execute("SET lock_timeout = '5s'")
        other.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {column_type}")

    try:
        yield retype
    finally:
        connection.close()
        connection.close_pool()
        with other:
            for (table, column), column_type in original.items():
                retype(table, column, column_type)
