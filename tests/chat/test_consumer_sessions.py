"""Sockets over time: presence per connection, the server's heartbeat, and closing when a session ends."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings

from accounts import services as account_services
from accounts.models import User
from chat import presence
from tests.chat.sockets import Socket, communicator, connected, logged_in_client, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

ALL = frozenset()


# Presence


async def test_a_person_is_online_while_any_of_their_sockets_is_open(ann, ben, room):
    async with connected(ben, skip={"ping"}) as ben_ws:
        assert await ben_ws.expect("presence") == {"type": "presence", "user": ben.pk, "online": True}
        assert not await presence.is_online(user_id=ann.pk)
        async with connected(ann, skip={"ping"}):
            assert await ben_ws.expect("presence") == {"type": "presence", "user": ann.pk, "online": True}
            async with connected(ann, skip={"ping"}):
                assert await ben_ws.nothing()  # A second tab changes nothing.
            assert await ben_ws.nothing()  # Nor does closing it while the first stays open.
            assert await presence.is_online(user_id=ann.pk)
        assert await ben_ws.expect("presence") == {"type": "presence", "user": ann.pk, "online": False}
        assert not await presence.is_online(user_id=ann.pk)
    await database_sync_to_async(ann.refresh_from_db)()
    assert ann.last_seen is not None


async def test_connections_that_stop_beating_expire(ann, settings):
    # As if a process had crashed: its connections are never removed, only no longer refreshed.
    settings.WS_HEARTBEAT_SECONDS = 0.1
    assert await presence.connection_alive(user_id=ann.pk, connection="crashed-process")
    assert not await presence.connection_alive(user_id=ann.pk, connection="other-tab")
    assert await presence.is_online(user_id=ann.pk)
    await asyncio.sleep(0.3)
    assert not await presence.is_online(user_id=ann.pk)
    assert await presence.connection_alive(user_id=ann.pk, connection="new-tab")  # Online again.


async def test_the_server_pings_and_a_socket_that_answers_stays_open(ann, settings):
    settings.WS_HEARTBEAT_SECONDS = 0.2
    async with connected(ann, skip=ALL) as ws:
        for _ in range(4):
            assert (await ws.receive())["type"] in ("ping", "presence")
            await ws.send("pong")
        assert await ws.nothing(0.1)


async def test_a_socket_that_does_not_answer_pings_is_dropped(ann, settings):
    settings.WS_HEARTBEAT_SECONDS = 0.2
    async with connected(ann) as ws:
        assert await ws.closed() == 4408


# Closing when the session ends


async def test_logging_out_closes_the_persons_sockets(ann):
    client = await database_sync_to_async(logged_in_client)(ann)
    async with connected(cookie=client.cookies[django_settings.SESSION_COOKIE_NAME].value) as ws:
        response = await database_sync_to_async(client.post)("/logout/")
        assert response.status_code == 302
        assert await ws.expect("session.close")
        assert await ws.closed() == 4001


async def test_an_api_logout_closes_the_persons_sockets(ann):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    refresh = await database_sync_to_async(RefreshToken.for_user)(ann)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh.access_token}")
    client = await database_sync_to_async(logged_in_client)(ann)
    async with connected(cookie=client.cookies[django_settings.SESSION_COOKIE_NAME].value) as ws:
        response = await database_sync_to_async(api.post)("/api/auth/logout/", {"refresh": str(refresh)})
        assert response.status_code == 204
        assert await ws.expect("session.close")
        assert await ws.closed() == 4001


async def test_a_new_password_closes_the_persons_sockets_and_the_old_session_cannot_reconnect(ann):
    client = await database_sync_to_async(logged_in_client)(ann)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value

    def change_password():
        ann.set_password("a brand new passphrase")
        ann.save()

    async with connected(cookie=cookie) as ws:
        await database_sync_to_async(change_password)()
        assert await ws.closed() == 4001
    stale = Socket(communicator(cookie=cookie))
    assert (await stale.communicator.connect(5))[0]  # Accepted as anonymous, so it needs a ticket.
    assert (await stale.request("ping"))["code"] == "unauthenticated"
    assert await stale.closed() == 4401
    await stale.communicator.disconnect()


async def test_deactivation_closes_the_persons_sockets(ann, ben, room):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await database_sync_to_async(account_services.user_deactivate)(user=ann)
        assert await ann_ws.closed() == 4001
        assert await ben_ws.nothing()


async def test_deactivation_in_the_admin_closes_the_persons_sockets_and_they_cannot_reconnect(ann, moderator):
    moderator_client = await database_sync_to_async(logged_in_client)(moderator)
    cookie = await session_cookie(ann)
    selection = {"action": "deactivate_users", "_selected_action": [ann.pk], "apply": "1", "reason": "Spam"}
    async with connected(cookie=cookie) as ws:
        response = await database_sync_to_async(moderator_client.post)("/admin/accounts/user/", selection)
        assert response.status_code == 302
        assert await ws.expect("session.close")
        assert await ws.closed() == 4001
    stale = Socket(communicator(cookie=cookie))
    assert (await stale.communicator.connect(5))[0]  # Her session no longer signs her in: a ticket is needed.
    assert (await stale.request("ping"))["code"] == "unauthenticated"
    await stale.communicator.disconnect()


async def test_other_changes_to_a_person_leave_their_sockets_open(ann):
    async with connected(ann) as ws:
        await database_sync_to_async(account_services.profile_update)(user=ann, display_name="Annie")
        await database_sync_to_async(lambda: User.objects.get(pk=ann.pk).save())()
        assert await ws.nothing()
        assert (await ws.request("ping"))["type"] == "pong"


async def test_a_person_whose_sockets_died_with_their_process_is_announced_offline_once(ann, ben, room, settings):
    settings.WS_HEARTBEAT_SECONDS = 0.2
    # Ann's socket lived in a process that crashed: its entry is never removed, only no longer refreshed.
    assert await presence.connection_alive(user_id=ann.pk, connection="crashed-process")
    async with connected(ben, skip=ALL) as ben_ws:
        offline = []
        async with asyncio.timeout(5):
            while not offline:
                event = await ben_ws.receive()
                if event["type"] == "ping":
                    await ben_ws.send("pong")
                elif event == {"type": "presence", "user": ann.pk, "online": False}:
                    offline.append(event)
        for _ in range(3):  # A few more sweeps: nobody announces her again.
            event = await ben_ws.receive()
            assert event["type"] == "ping", event
            await ben_ws.send("pong")
    assert not await presence.is_online(user_id=ann.pk)
    assert await presence.sweep() == []
