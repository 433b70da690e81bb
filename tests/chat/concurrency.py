"""Threads with their own database connections, for tests that need PostgreSQL's row locks."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, connections, transaction


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


def race_against_open_transaction(first: Callable, second: Callable) -> tuple:
    """Run `first` in a transaction held open, start `second` until it blocks on a lock, then commit.

    Returns both results: what `second` does when it meets `first`'s uncommitted work.
    """
    inside, release = threading.Event(), threading.Event()

    def held_open():
        with transaction.atomic():
            result = first()
            inside.set()
            release.wait(10)
        return result

    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(own_connection(held_open))
        assert inside.wait(10)
        contender = pool.submit(own_connection(second))
        wait_until_sessions_block(1)
        release.set()
        return held.result(10), contender.result(10)
