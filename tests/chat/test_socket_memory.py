"""What an idle socket keeps: its user, not the session it signed in with; one task; no database
connection object of its own (docs/PERFORMANCE.md: at most 40 KB of server memory per idle socket)."""

import asyncio
import contextvars
import gc

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.db import connections

from chat import events
from chat.db import in_db_thread
from chat.fanout import fanout
from tests.chat.sockets import WAIT, communicator, connected, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def alive(kind: type) -> int:
    gc.collect()
    # type(), not isinstance(): isinstance asks a dead weakref.proxy for its __class__, which raises.
    return sum(issubclass(type(thing), kind) for thing in gc.get_objects())


def socket_of(user):
    (consumer,) = fanout().receivers[events.user_group(user.pk)]
    return consumer


async def test_a_signed_in_socket_keeps_its_user_but_not_its_session_or_cookies(ann):
    cookie = await session_cookie(ann)
    sessions_before = alive(SessionBase)
    async with connected(cookie=cookie):
        scope = socket_of(ann).scope
        assert scope["user"].pk == ann.pk
        assert "session" not in scope and "cookies" not in scope
        assert alive(SessionBase) == sessions_before  # Nor does any layer under the consumer.


async def test_a_session_whose_password_changed_signs_nobody_in_and_is_ended(ann, settings):
    settings.WS_AUTH_SECONDS = 1
    cookie = await session_cookie(ann)

    def change_password():
        ann.set_password("a new one, elsewhere")
        ann.save()

    await database_sync_to_async(change_password)()
    ws = communicator(cookie=cookie)
    accepted, _ = await ws.connect(WAIT)
    assert accepted and (await ws.receive_output(WAIT)) == {"type": "websocket.close", "code": 4401}
    assert not await Session.objects.filter(session_key=cookie).aexists()


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
