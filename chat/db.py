"""Database work from async code (consumers), on a pool of threads rather than Channels' one.

`database_sync_to_async` runs everything in a single thread by default, so one process could
only ever run one transaction at a time: 500 people sending at once queued behind each other's
commits. On PostgreSQL the calls run on DATABASE_THREADS threads, each taking a connection from
psycopg's pool; senders to different rooms then commit in parallel (and PostgreSQL groups their
commits). SQLite has a single writer, so there the one thread stays.

Order is unaffected: Channels handles one socket's frames one after another, and the room row
lock orders messages of one room.
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection, transaction


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="parley-db")


def in_db_thread(function):
    """`function` as a coroutine function that runs it on a database thread."""
    if connection.vendor == "sqlite":
        return database_sync_to_async(function)
    return database_sync_to_async(function, thread_sensitive=False, executor=_executor())


def on_commit_robust(function: Callable[[], object]) -> None:
    """transaction.on_commit(function, robust=True) for any callable, functools.partial included.

    Django 5.2 logs a failing robust hook by its __qualname__, which a partial lacks: the
    AttributeError then escapes the commit, and a request whose rows were committed fails after
    all (a send answered with an error although stored; Django ticket #36487, fixed after 5.2).
    A partial takes attributes, so it gets the name of what it calls, and stays the same object.
    """
    if not hasattr(function, "__qualname__"):
        inner = getattr(function, "func", function)
        function.__qualname__ = getattr(inner, "__qualname__", type(inner).__name__)
    transaction.on_commit(function, robust=True)


@contextmanager
def prepared_cursor() -> Iterator:
    """A Django cursor (counted by assertNumQueries, logged under DEBUG) whose statements
    PostgreSQL parses and plans once per connection, then only runs.

    Django binds parameters on the client and turns psycopg's prepared statements off, for
    connection poolers in transaction mode. For a fixed statement on a hot path whose planning
    costs more than running it (the friends page: about 2 ms to plan, 1 ms to run), this cursor
    binds on the server and prepares the statement on its first use on each pooled connection.
    DATABASE_PREPARED_STATEMENTS=false (PgBouncer before 1.21 in transaction mode) turns that off
    (config.settings leaves psycopg's prepare_threshold at Django's None, which overrides prepare=True).
    """
    connection.ensure_connection()
    raw = _preparing_cursor_class()(connection.connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        yield cursor


@cache
def _preparing_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg: PostgreSQL only

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=True)

    return PreparingCursor
