"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

They run in their own pytest run (tests/run.py), because sync Playwright and async tests
break each other's event loop.
"""

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tests.chat.web import Site

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
SERVER_ENV_DROPS = ("DATABASE_URL", "EMAIL_URL", "EMAIL_HOST", "DJANGO_SETTINGS_MODULE")
# With PARLEY_SERVICES=1 the server keeps REDIS_URL (channel layer, presence, cache on the real Redis),
# under prefixes of its own so that nothing of an earlier session (someone's presence) carries over.
USE_REDIS = os.environ.get("PARLEY_SERVICES") == "1" and bool(os.environ.get("REDIS_URL"))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def web_site():
    """A local web server (tests.chat.web) whose pages the Parley server may preview (allow-listed)."""
    site = Site()
    yield site
    site.stop()


@pytest.fixture(scope="session")
def mail_inbox():
    """A real SMTP server (aiosmtpd) the e2e server mails to: verification codes are read from it."""
    from aiosmtpd.controller import Controller

    from tests.conftest import _Inbox

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory, web_site, mail_inbox):
    """Parley on SQLite served by daphne on a free port: embedded (in-memory layer), or on the real
    Redis with PARLEY_SERVICES=1. Its mail goes to mail_inbox."""
    folder = tmp_path_factory.mktemp("e2e")
    env = {key: value for key, value in os.environ.items() if key not in SERVER_ENV_DROPS}
    if USE_REDIS:
        session = f"e2e-{uuid.uuid4().hex[:8]}"
        env.update(CACHE_KEY_PREFIX=session, CHANNEL_PREFIX=session, CELERY_TASK_ALWAYS_EAGER="true")
    else:
        env.pop("REDIS_URL", None)
    env.update(DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}", MEDIA_ROOT=str(folder / "media"))
    env.update(LINK_PREVIEW_ALLOWED_HOSTS=web_site.host, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(mail_inbox.port))
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = _free_port()
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed at the end of the session
    process = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{base}/healthz", timeout=1)
            break
        except requests.ConnectionError:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

    def run(script: str) -> str:
        """Run Python in the server's settings and database (manage.py shell); what it printed."""
        done = subprocess.run(
            [*manage, "shell", "--no-imports", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True
        )
        return done.stdout.decode()

    taken: set[str] = set()

    def make_people(*handles):
        # One server and one database for the whole browser run: each test needs people of its own.
        reused = taken.intersection(handles)
        assert not reused, f"handles {sorted(reused)} are already used by another browser test: pick others"
        taken.update(handles)
        run(
            "from accounts.models import User; from django.utils import timezone\n"
            f"for h in {list(handles)!r}:\n"
            f"    User.objects.create_user(email=h + '@example.com', password={PASSWORD!r}, handle=h,"
            " display_name=h.title(), email_verified_at=timezone.now())"
        )

    def make_moderator(handle):
        """A person who is staff in the Moderators group (docs/MODERATION.md)."""
        make_people(handle)
        run(
            "from accounts.models import User; from django.contrib.auth.models import Group\n"
            f"user = User.objects.get(handle={handle!r}); user.is_staff = True; user.save()\n"
            "user.groups.add(Group.objects.get(name='Moderators'))"
        )

    helpers = {"make_people": make_people, "make_moderator": make_moderator, "run": run}
    yield type("Server", (), {"url": base, **{name: staticmethod(helper) for name, helper in helpers.items()}})
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def signed_in(chromium, server):
    """signed_in(handle) -> a page of a fresh browser context, logged in as that person."""
    contexts = []

    def open_as(handle, **context_options):
        context = chromium.new_context(**{"viewport": {"width": 1000, "height": 700}, **context_options})
        contexts.append(context)
        page = context.new_page()
        log_in(server, page, handle)
        return page

    yield open_as
    for context in contexts:
        context.close()


def log_in(server, page, handle: str) -> None:
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", f"{handle}@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def open_direct_room(server, page, peer_handle: str) -> str:
    """From `page`, open the direct room with that person (their profile's Message button); its URL."""
    page.goto(f"{server.url}/u/{peer_handle}/")
    page.get_by_role("button", name="Message").click()
    expect(page).to_have_url(re.compile(r"/rooms/\d+/$"))
    # The room's scripts have run (they mark the composer's file field): typing now is typing into them.
    expect(page.locator(".attach.enhanced")).to_have_count(1)
    return page.url
