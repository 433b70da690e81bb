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
from weakref import WeakSet

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

# Ids and seqs are PostgreSQL bigints (SQLite's integers are as wide): a value outside can match
# no row, and binding it fails.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="parley-db")


def in_db_thread(function):
    """`function` as a coroutine function that runs it on a database thread."""
    if _single_writer():
        return database_sync_to_async(function)
    return database_sync_to_async(function, thread_sensitive=False, executor=_executor())


def _single_writer() -> bool:
    # Read from the settings, not `connection.vendor`: in async code Django's connection handler
    # is local to the task's context, so asking the connection built a DatabaseWrapper (about 3 KB,
    # never connected) for every socket that ran a query, kept as long as the socket lived.
    return connections.settings[DEFAULT_DB_ALIAS]["ENGINE"] == "django.db.backends.sqlite3"


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
    DATABASE_PREPARED_STATEMENTS=false turns that off (config.settings then leaves psycopg's
    prepare_threshold at Django's None, which overrides prepare=True): needed behind PgBouncer in
    transaction mode unless its max_prepared_statements is above 0 (the default only from 1.24).

    A migration that changes the type of a column such a statement returns makes PostgreSQL refuse
    the statement prepared before it ("cached plan must not change result type", 0A000), and psycopg
    does not prepare it again: every pooled connection would fail it until recycled. So on that
    error, or on a statement the server no longer knows (26000: DEALLOCATE or DISCARD behind
    psycopg's back), the cursor drops the connection's prepared statements, psycopg's record of
    them included, and runs the statement once more unprepared; the next use prepares it afresh.
    Inside a transaction the error has aborted it: it is raised, and the connection's statements
    are dropped on its next use here (psycopg also drops them when it rolls a transaction back).
    """
    connection.ensure_connection()
    raw_connection = connection.connection
    if _stale_statements and raw_connection in _stale_statements and not _transaction_failed(raw_connection):
        _deallocate_all(raw_connection)
    raw = _preparing_cursor_class()(raw_connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        yield cursor


@cache
def _preparing_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg: PostgreSQL only
    from psycopg.errors import FeatureNotSupported, InvalidSqlStatementName
    from psycopg.pq import TransactionStatus

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, **kwargs):
            try:
                return super().execute(query, params, prepare=True)
            except (FeatureNotSupported, InvalidSqlStatementName):
                if self.connection.info.transaction_status != TransactionStatus.IDLE:
                    _stale_statements.add(self.connection)  # an aborted transaction runs nothing more
                    raise
                _deallocate_all(self.connection)
                return super().execute(query, params, prepare=False)

    return PreparingCursor


# Connections whose prepared statements went stale inside a transaction: dropped at their next use.
_stale_statements: WeakSet = WeakSet()


def stale_statement(error: BaseException) -> bool:
    """Whether a database error (as Django raises it) is a prepared statement refused as stale
    (prepared_cursor): inside a transaction it is raised, and the transaction, run again once rolled
    back, prepares the statement afresh."""
    from psycopg.errors import FeatureNotSupported, InvalidSqlStatementName

    return isinstance(error.__cause__, FeatureNotSupported | InvalidSqlStatementName)


def _transaction_failed(raw_connection) -> bool:
    from psycopg.pq import TransactionStatus

    return raw_connection.info.transaction_status == TransactionStatus.INERROR


def _deallocate_all(raw_connection) -> None:
    """Drop the connection's prepared statements, and psycopg's record of them.

    psycopg forgets its statements and deallocates them all whenever a transaction of its own rolls
    back: a transaction (a savepoint inside Django's) with nothing in it does that, whatever
    psycopg last saw. (A DEALLOCATE ALL of ours it notices only by a guess it may skip.)
    """
    from psycopg import Rollback

    _stale_statements.discard(raw_connection)
    with raw_connection.transaction():
        raise Rollback
