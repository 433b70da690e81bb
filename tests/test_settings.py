import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def django_check(**env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [({"ALLOWED_HOSTS": "chat.example"}, "SECRET_KEY"), ({"SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS")],
)
def test_production_mode_refuses_to_start_without_its_secrets(env, missing):
    result = django_check(DEBUG="False", **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG=False" in result.stderr


def test_production_mode_starts_with_them():
    result = django_check(DEBUG="False", SECRET_KEY="s" * 50, ALLOWED_HOSTS="chat.example")
    assert result.returncode == 0, result.stderr


def allowed_preview_hosts(**env_overrides) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG")}
    env.update(env_overrides, LINK_PREVIEW_ALLOWED_HOSTS="10.0.0.5:8080")
    script = "from django.conf import settings; print(settings.LINK_PREVIEW_ALLOWED_HOSTS)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_link_preview_allow_list_is_read_from_the_environment_only_in_debug():
    assert allowed_preview_hosts(DEBUG="True") == "['10.0.0.5:8080']"
    assert allowed_preview_hosts(DEBUG="False", SECRET_KEY="s" * 50, ALLOWED_HOSTS="chat.example") == "[]"


# The documented production environment (deploy/parley.env.example, DEPLOY.md)

PRODUCTION_ENV_FILE = ROOT / "deploy" / "parley.env.example"


def documented_production_env() -> dict[str, str]:
    values = {}
    for line in PRODUCTION_ENV_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_check_deploy_is_clean_with_the_documented_production_environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_", "EMAIL_"))}
    env.update(documented_production_env())
    env["SECRET_KEY"] = secrets.token_urlsafe(50)  # What the file tells the operator to do.
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_documented_environment_holds_no_real_secret():
    env = documented_production_env()
    for name in ("SECRET_KEY", "DATABASE_URL", "EMAIL_URL"):
        assert "CHANGE" in env[name], name


def test_by_default_every_thread_that_may_hold_a_pooled_connection_gets_one():
    """Each HTTP thread, each WebSocket database thread and asgiref's one thread-sensitive thread
    (Channels' WebSocket sign-in and session save) may hold a connection at once: with one more
    than the pool's maximum, a request waits DATABASE_POOL_TIMEOUT and fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "HTTP_THREADS"))}
    env["DATABASE_URL"] = "postgres://parley@127.0.0.1:5432/parley"  # the pool exists on PostgreSQL only
    script = (
        "from config import settings as s; "
        "print(s.HTTP_THREADS, s.DATABASE_THREADS, s.DATABASES['default']['OPTIONS']['pool']['max_size'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    http_threads, database_threads, pool_max = map(int, result.stdout.split())
    assert http_threads + database_threads + 1 <= pool_max
