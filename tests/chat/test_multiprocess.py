"""Two real daphne processes sharing PostgreSQL and Redis: what happens on one reaches sockets on the other."""

import time
import uuid

import pytest
from channels.db import database_sync_to_async

from tests.chat.live import FAST_HEARTBEAT_SECONDS, daphne_pair, open_socket
from tests.chat.sockets import logged_in_client
from tests.rooms.factories import group_room

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def servers(tmp_path):
    # The production heartbeat: no socket is dropped while a step of the test reads another one.
    with daphne_pair(tmp_path, heartbeat_seconds=20) as pair:
        yield pair


@pytest.fixture
def fast_servers(tmp_path):
    # Fast enough that a killed process's sockets expire within a test (their entries live 2.5 beats).
    with daphne_pair(tmp_path, heartbeat_seconds=FAST_HEARTBEAT_SECONDS) as pair:
        yield pair


async def test_messages_typing_and_presence_cross_between_processes(servers, make_user):
    (first, _), (second, _) = servers
    ann, ben = await database_sync_to_async(lambda: (make_user("ann"), make_user("ben")))()
    room = await database_sync_to_async(group_room)(ann, ben)

    ben_ws = await open_socket(second, ben)
    ann_ws = await open_socket(first, ann)
    try:
        # Presence: ann's socket on the first process makes her online for ben on the second.
        assert await ben_ws.expect("presence", user=ann.pk) == {"type": "presence", "user": ann.pk, "online": True}

        # Messages.
        client_id = str(uuid.uuid4())
        await ann_ws.send("message.send", room=room.pk, body="across processes", client_id=client_id)
        ack = await ann_ws.expect("message.ack")
        new = await ben_ws.expect("message.new")
        assert new["message"] == ack["message"] and new["message"]["body"] == "across processes"

        # Typing, the other way round.
        await ben_ws.send("typing", room=room.pk)
        assert (await ann_ws.expect("typing"))["user"] == {"id": ben.pk, "handle": "ben"}

        # A second tab of ann on the second process: closing the first leaves her online.
        ann_tab = await open_socket(second, ann)
        await ann_ws.connection.close()
        assert await ben_ws.nothing_of("presence")
        await ann_tab.connection.close()
        assert await ben_ws.expect("presence", user=ann.pk) == {"type": "presence", "user": ann.pk, "online": False}
    finally:
        await ann_ws.connection.close()
        await ben_ws.connection.close()


async def test_a_killed_process_s_sockets_go_offline_for_the_other_process(fast_servers, make_user):
    (first, first_process), (second, _) = fast_servers
    ann, ben = await database_sync_to_async(lambda: (make_user("ann"), make_user("ben")))()
    await database_sync_to_async(group_room)(ann, ben)

    ben_ws = await open_socket(second, ben)
    ann_ws = await open_socket(first, ann)
    try:
        assert (await ben_ws.expect("presence", user=ann.pk))["online"] is True
        first_process.kill()  # No disconnect runs: only the expiry of ann's entry can tell.
        first_process.wait()
        started = time.monotonic()
        assert (await ben_ws.expect("presence", user=ann.pk))["online"] is False
        assert time.monotonic() - started < 10 * FAST_HEARTBEAT_SECONDS
        assert await ben_ws.nothing_of("presence", seconds=3 * FAST_HEARTBEAT_SECONDS)  # Announced once.
    finally:
        await ann_ws.connection.close()
        await ben_ws.connection.close()


async def test_deactivating_someone_in_the_admin_closes_their_sockets_on_every_process(servers, make_user):
    (first, _), (second, _) = servers
    ann, ben, boss = await database_sync_to_async(
        lambda: (make_user("ann"), make_user("ben"), make_user("boss", is_staff=True, is_superuser=True))
    )()
    await database_sync_to_async(group_room)(ann, ben)
    admin = await database_sync_to_async(logged_in_client)(boss)

    ann_here, ann_there, ben_ws = (
        await open_socket(first, ann),
        await open_socket(second, ann),
        await open_socket(second, ben),
    )
    try:
        selection = {"action": "deactivate_users", "_selected_action": [ann.pk], "apply": "1", "reason": "Spam"}
        response = await database_sync_to_async(admin.post)("/admin/accounts/user/", selection)
        assert response.status_code == 302
        for socket in (ann_here, ann_there):
            assert await socket.expect("session.close") == {"type": "session.close"}
            await socket.connection.wait_closed()
            assert socket.connection.close_code == 4001
        # Ben stays: he sees her go offline, and his socket is not closed.
        assert (await ben_ws.expect("presence", user=ann.pk))["online"] is False
        assert await ben_ws.nothing_of("session.close")
        await ben_ws.send("ping", id="still-there")
        assert (await ben_ws.expect("pong"))["id"] == "still-there"
    finally:
        for socket in (ann_here, ann_there, ben_ws):
            await socket.connection.close()
