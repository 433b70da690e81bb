"""Threads with their own database connections, for tests that need PostgreSQL's row locks."""

import time
from collections.abc import Callable

from django.db import connection, connections


def own_connection(work: Callable) -> Callable:
    """Wrap work for another thread: Django gives that thread its own connection; close it after."""

    def run(*args, **kwargs):
        try:
            return work(*args, **kwargs)
        finally:
            connections.close_all()

    return run


def wait_until_sessions_block(count: int = 1, timeout: float = 10.0) -> None:
    """Wait until `count` other sessions of this database are waiting on a lock."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.01)
    raise AssertionError(f"{count} session(s) never blocked on a lock")
