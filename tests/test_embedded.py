"""`make run` as a newcomer meets it: no environment, SQLite, console e-mail, eager Celery."""

import os
import re
import subprocess
import sys
import time

import requests

from tests.conftest import PASSWORD, ROOT, free_port

EMBEDDED_ENV_DROPS = ("DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "EMAIL_URL", "DJANGO_SETTINGS_MODULE")


def wait_until_up(url, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            return requests.get(url, timeout=1)
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout}s")


def test_a_newcomer_signs_up_on_an_embedded_server_with_the_code_from_the_console(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in EMBEDDED_ENV_DROPS}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env["MEDIA_ROOT"] = str(tmp_path / "media")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    console = tmp_path / "server.log"
    with open(console, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_until_up(f"{base}/healthz", server).json()
        assert health["status"] == "ok"
        assert health["checks"]["database"]["detail"] == "sqlite"
        assert health["checks"]["broker"]["detail"].startswith("eager")

        browser = requests.Session()
        browser.get(f"{base}/signup/", timeout=5)
        form = {
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "email": "newcomer@example.com",
            "handle": "newcomer",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        }
        signed_up = browser.post(f"{base}/signup/", data=form, timeout=10)
        assert "/verify/" in signed_up.url

        code = re.search(r"(\d{6}) is your Parley code", console.read_text()).group(1)
        verify = {"csrfmiddlewaretoken": browser.cookies["csrftoken"], "email": "newcomer@example.com", "code": code}
        profile = browser.post(f"{base}/verify/", data=verify, timeout=10)

        assert profile.url == f"{base}/settings/profile/"
        assert "Your e-mail address is verified" in profile.text and "@newcomer" in profile.text
    finally:
        server.terminate()
        server.wait(timeout=10)
