"""What an idle socket keeps: its user, not the session it signed in with; one task; no database
connection object of its own (docs/PERFORMANCE.md: at most 40 KB of server memory per idle socket)."""

import asyncio
import contextvars

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from chat.db import in_db_thread
from tests.chat.sockets import connected, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_idle_socket_waits_for_its_frames_in_its_own_task(ann, ben, make_user):
    people = [ann, ben, await database_sync_to_async(make_user)("cat")]
    cookies = [await session_cookie(person) for person in people]
    async with connected(cookie=cookies[0]):  # The process's fan-out and heartbeat tasks start here.
        before = asyncio.all_tasks()
        async with connected(cookie=cookies[1]), connected(cookie=cookies[2]):
            started = [task.get_coro().__qualname__ for task in asyncio.all_tasks() - before]
    # The application's task of each socket (the communicator's), and no task reading its queue.
    assert started.count("ProtocolTypeRouter.__call__") == 2 and "Queue.get" not in started


async def test_choosing_a_database_thread_builds_no_connection_in_the_sockets_context():
    # In async code Django's connections are local to each task's context: one built there
    # would live as long as the socket's task.
    def choose():
        in_db_thread(len)
        return connections.all(initialized_only=True)

    assert contextvars.Context().run(choose) == []
