"""What every benchmark shares: PostgreSQL on 127.0.0.1, logging, percentiles, and the environment
config.settings reads for a Parley process under measurement."""

import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789abcdef"


def parley_environment(*, db: str, redis_url: str, prefix: str, settings: str, allowed_hosts: str) -> dict[str, str]:
    """config.settings for production-like measurements: PostgreSQL, Redis, DEBUG off, quiet logs."""
    return dict(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=f"postgres://postgres@{HOST}:5432/{db}",
        REDIS_URL=redis_url,
        CHANNEL_PREFIX=prefix,
        CACHE_KEY_PREFIX=prefix,
        CELERY_TASK_ALWAYS_EAGER="true",
        DEBUG="False",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS=allowed_hosts,
        SECURE_SSL_REDIRECT="False",
        LOG_LEVEL="WARNING",
    )


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(
        ["psql", "-h", HOST, "-p", "5432", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def signed_in_sessions(people) -> list[str]:
    """A database session per person, made in bulk (a login each would take minutes): their cookies."""
    import datetime

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    store = SessionStore()
    expiry = timezone.now() + datetime.timedelta(days=1)
    backend = "django.contrib.auth.backends.ModelBackend"
    sessions = [
        Session(
            session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
            session_data=store.encode(
                {SESSION_KEY: str(p.pk), BACKEND_SESSION_KEY: backend, HASH_SESSION_KEY: p.get_session_auth_hash()}
            ),
            expire_date=expiry,
        )
        for p in people
    ]
    Session.objects.bulk_create(sessions, batch_size=1000)
    return [session.session_key for session in sessions]
