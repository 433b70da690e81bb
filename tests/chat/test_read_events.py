"""Read positions on the channel layer: a direct room's two people see each other's (the "Seen" mark);
group rooms, unaccepted message requests and blocks never pass one on."""

import uuid

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from chat import events, services
from rooms import services as room_services
from rooms.models import Membership
from tests.chat.realtime import published, run_all
from tests.chat.sockets import connected


def send(author, room, body="hello"):
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def read_events(groups, reader, room, django_capture_on_commit_callbacks, *, expect=1):
    with django_capture_on_commit_callbacks() as callbacks:
        services.read_mark(user=reader, room_id=room.pk, seq=room.last_seq + 1)
    return published(groups, run_all(callbacks), expect=expect, timeout=2.0 if expect else 0.5)


@pytest.mark.django_db
def test_in_a_direct_room_my_read_position_goes_to_the_room_so_the_other_person_sees_it(
    ann, ben, django_capture_on_commit_callbacks
):
    direct, _ = room_services.direct_room_get_or_create(user=ann, other=ben)
    send(ann, direct)
    received = read_events(events.room_group(direct.pk), ben, direct, django_capture_on_commit_callbacks)
    assert received == [{"type": "read", "room": direct.pk, "user": ben.pk, "seq": 1}]


@pytest.mark.django_db
def test_in_a_group_room_my_read_position_goes_to_my_own_sockets_only(
    ann, ben, room, django_capture_on_commit_callbacks
):
    send(ann, room)
    on_room = read_events(events.room_group(room.pk), ben, room, django_capture_on_commit_callbacks, expect=0)
    assert on_room == []
    Membership.objects.filter(room=room, user=ben).update(last_read_seq=0)
    mine = read_events(events.user_group(ben.pk), ben, room, django_capture_on_commit_callbacks)
    assert mine == [{"type": "read", "room": room.pk, "user": ben.pk, "seq": 1}]


@pytest.mark.django_db
def test_reading_a_message_request_i_have_not_accepted_is_not_told_to_its_sender(
    ann, ben, django_capture_on_commit_callbacks
):
    direct, _ = room_services.direct_room_get_or_create(user=ann, other=ben)
    send(ann, direct)
    Membership.objects.filter(room=direct, user=ben).update(request=Membership.Request.PENDING)
    on_room = read_events(events.room_group(direct.pk), ben, direct, django_capture_on_commit_callbacks, expect=0)
    assert on_room == []


@pytest.mark.django_db(transaction=True)
async def test_the_peer_s_socket_gets_my_read_but_not_across_a_block(ann, ben):
    direct, _ = await database_sync_to_async(room_services.direct_room_get_or_create)(user=ann, other=ben)
    await database_sync_to_async(send)(ann, direct)
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ben_ws.send("read", room=direct.pk, seq=1)
        assert await ann_ws.expect("read") == {"type": "read", "room": direct.pk, "user": ben.pk, "seq": 1}
        assert (await ben_ws.expect("read"))["user"] == ben.pk  # my own other tabs clear their badge

        await database_sync_to_async(send)(ann, direct, "after")
        await ann_ws.expect("message.new")
        await ben_ws.expect("message.new")
        await database_sync_to_async(account_services.block_create)(blocker=ann, blocked=ben)
        await ben_ws.send("read", room=direct.pk, seq=2)
        assert (await ben_ws.expect("read"))["seq"] == 2
        assert await ann_ws.nothing()
