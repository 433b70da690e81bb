"""Blocks on the socket: people in a block (either way) do not see each other come, go or type."""

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from tests.chat.sockets import connected
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_blocked_person_does_not_see_my_presence_nor_i_theirs(ann, ben, bob, room):
    await database_sync_to_async(account_services.block_create)(blocker=ann, blocked=ben)
    await database_sync_to_async(room.memberships.create)(user=bob)
    async with connected(ben, skip={"ping"}) as ben_ws:
        assert await ben_ws.expect("presence") == {"type": "presence", "user": ben.pk, "online": True}
        async with connected(ann, skip={"ping"}) as ann_ws:
            assert (await ann_ws.expect("presence"))["user"] == ann.pk  # her own, in the room
            assert await ben_ws.nothing()  # ann came online: ben, whom she blocked, is not told
            async with connected(bob, skip={"ping"}):
                # Others in the room still see everyone, and ann sees bob.
                assert await ben_ws.expect("presence") == {"type": "presence", "user": bob.pk, "online": True}
                assert (await ann_ws.expect("presence"))["user"] == bob.pk


async def test_a_blocked_person_typing_is_not_shown(ann, ben, room):
    await database_sync_to_async(account_services.block_create)(blocker=ben, blocked=ann)
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ben_ws.send("typing", room=room.pk)
        assert await ann_ws.nothing()
        await ann_ws.send("typing", room=room.pk)
        assert await ben_ws.nothing()


async def test_blocking_while_connected_hides_presence_from_then_on(ann, ben, room):
    async with connected(ben, skip={"ping"}) as ben_ws:
        await ben_ws.expect("presence")  # ben's own
        await database_sync_to_async(account_services.block_create)(blocker=ann, blocked=ben)
        assert await ben_ws.nothing()  # nothing says that ann blocked him
        async with connected(ann, skip={"ping"}):
            assert await ben_ws.nothing()
        await database_sync_to_async(account_services.block_remove)(blocker=ann, blocked_id=ben.pk)
        async with connected(ann, skip={"ping"}):
            assert await ben_ws.expect("presence") == {"type": "presence", "user": ann.pk, "online": True}


async def test_a_presence_query_answers_who_of_the_room_is_online_except_people_in_a_block(ann, ben, bob, room):
    await database_sync_to_async(room.memberships.create)(user=bob)
    await database_sync_to_async(account_services.block_create)(blocker=bob, blocked=ann)
    async with connected(ben) as ben_ws, connected(bob), connected(ann) as ann_ws:
        snapshot = await ben_ws.request("presence.query", room=room.pk)
        assert snapshot == {"type": "presence.snapshot", "room": room.pk, "online": sorted([ann.pk, ben.pk, bob.pk])}
        snapshot = await ann_ws.request("presence.query", room=room.pk)
        assert snapshot["online"] == sorted([ann.pk, ben.pk])
        other = await database_sync_to_async(group_room)(bob, title="Not ann's")
        assert (await ann_ws.request("presence.query", room=other.pk))["code"] == "not_found"
