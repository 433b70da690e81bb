"""What a signed-in socket sends and receives: every client event, and every way to get one wrong."""

import json
import uuid
from contextlib import AsyncExitStack

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import events, services
from chat.models import Message
from chat.protocol import FLOOD_FRAMES, MAX_FRAME_BYTES
from rooms import services as room_services
from tests.chat.sockets import connected
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cat(make_user):
    return make_user("cat")


def sent(author, room, body="hello") -> Message:
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


# Sending


async def test_a_message_is_acknowledged_to_its_sender_and_reaches_the_other_member(ann, ben, room):
    client_id = str(uuid.uuid4())
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ann_ws.send("message.send", room=room.pk, body=" hi ben ", client_id=client_id, id=1)
        own = await ann_ws.expect_each("message.ack", "message.new")
        ack = own["message.ack"]
        assert ack["client_id"] == client_id
        assert ack["message"]["body"] == "hi ben" and ack["message"]["seq"] == 1
        assert (await ben_ws.expect("message.new"))["message"] == ack["message"]
        assert own["message.new"]["message"] == ack["message"]
        assert await ben_ws.nothing()
    assert await database_sync_to_async(Message.objects.filter(room=room, body="hi ben").count)() == 1


async def test_a_message_is_serialized_once_however_many_members_receive_it(ann, make_user, monkeypatch):
    """The fan-out's cost per recipient is a write, not a JSON encoding (docs/PERFORMANCE.md)."""
    others = [await database_sync_to_async(make_user)() for _ in range(4)]
    room = await database_sync_to_async(group_room)(ann, *others)
    serialized = []
    real_dumps = events.dumps

    def counting_dumps(event: dict) -> str:
        serialized.append(event["type"])
        return real_dumps(event)

    monkeypatch.setattr(events, "dumps", counting_dumps)
    async with AsyncExitStack() as stack:
        ann_ws = await stack.enter_async_context(connected(ann))
        sockets = [await stack.enter_async_context(connected(person)) for person in others]
        await ann_ws.send("message.send", room=room.pk, body="to all five", client_id=str(uuid.uuid4()))
        own = await ann_ws.expect_each("message.ack", "message.new")
        received = [(await ws.expect("message.new"))["message"] for ws in sockets]
    assert received == [own["message.new"]["message"]] * 4
    assert serialized.count("message.new") == 1
    assert serialized.count("message.ack") == 1


async def test_a_retried_send_is_acknowledged_again_without_a_second_message(ann, ben, room):
    client_id = str(uuid.uuid4())
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ann_ws.send("message.send", room=room.pk, body="once", client_id=client_id)
        first = (await ann_ws.expect_each("message.ack", "message.new"))["message.ack"]
        again = await ann_ws.request("message.send", room=room.pk, body="once", client_id=client_id)
        assert again["type"] == "message.ack" and again["message"]["id"] == first["message"]["id"]
        await ben_ws.expect("message.new")
        assert await ben_ws.nothing()


async def test_a_reply_carries_its_preview(ann, ben, room):
    original = await database_sync_to_async(sent)(ben, room, "question?")
    async with connected(ann) as ws:
        ack = await ws.request(
            "message.send", room=room.pk, body="answer", client_id=str(uuid.uuid4()), reply_to=original.pk
        )
    assert ack["message"]["reply_to"]["id"] == original.pk and ack["message"]["reply_to"]["body"] == "question?"


async def test_sending_to_a_room_you_are_not_in_is_an_error_and_the_socket_stays_open(cat, room):
    async with connected(cat) as ws:
        error = await ws.request("message.send", room=room.pk, body="hi", client_id=str(uuid.uuid4()), id="r1")
        assert error == {"type": "error", "code": "not_found", "message": "No such room.", "id": "r1"}
        assert (await ws.request("ping"))["type"] == "pong"


async def test_a_too_long_body_is_an_error(ann, room):
    async with connected(ann) as ws:
        error = await ws.request("message.send", room=room.pk, body="x" * 4001, client_id=str(uuid.uuid4()), id=3)
    assert error["type"] == "error" and error["code"] == "invalid" and error["id"] == 3
    assert "body" in error["fields"]


async def test_sending_too_fast_is_an_error_saying_when_to_try_again(ann, room, settings):
    settings.MESSAGE_RATE_BURST = 2
    settings.MESSAGE_RATE_PER_SECOND = 0.5
    async with connected(ann) as ws:
        for _ in range(2):
            await ws.send("message.send", room=room.pk, body="hi", client_id=str(uuid.uuid4()))
            await ws.expect_each("message.ack", "message.new")
        error = await ws.request("message.send", room=room.pk, body="hi", client_id=str(uuid.uuid4()), id=9)
    assert error["code"] == "rate_limited" and error["id"] == 9
    assert 1 <= error["retry_after"] <= 2


# Bad input


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_event"),
        ('{"no": "type"}', "bad_event"),
        ('{"type": "message.shout", "id": 5}', "unknown_type"),
        ('{"type": "message.send", "room": 1, "client_id": "x"}', "invalid"),
        ('{"type": "message.send", "room": "1", "body": "hi", "client_id": "x"}', "invalid"),
        ('{"type": "read", "room": 1, "seq": -1}', "invalid"),
        ('{"type": "resume", "rooms": {"one": 3}}', "invalid"),
        ('{"type": "message.send", "room": 1, "body": "hi", "client_id": "not-a-uuid"}', "invalid"),
        ('{"type": "message.send", "room": 1, "body": "nul \\u0000", "client_id": "x"}', "invalid"),
        (
            '{"type": "message.send", "room": 1, "body": "hi", "client_id": "x", "reply_to": 99999999999999999999}',
            "invalid",
        ),
        ('{"type": "read", "room": 1, "seq": 1e3}', "invalid"),
        ('{"type": "read", "room": true, "seq": 1}', "invalid"),
        ('{"type": "typing"}', "invalid"),
    ],
)
async def test_bad_events_are_answered_with_an_error_and_the_socket_stays_open(ann, room, frame, code):
    async with connected(ann) as ws:
        await ws.send_text(frame.replace('"room": 1', f'"room": {room.pk}'))
        error = await ws.receive()
        assert error["type"] == "error" and error["code"] == code, error
        assert error["message"]
        assert (await ws.request("ping", id="after"))["id"] == "after"


async def test_an_unknown_type_echoes_the_request_id(ann):
    async with connected(ann) as ws:
        error = await ws.request("message.shout", id=5)
    assert error["code"] == "unknown_type" and error["id"] == 5


async def test_a_binary_frame_is_an_error(ann):
    async with connected(ann) as ws:
        await ws.communicator.send_to(bytes_data=b'{"type": "ping"}')
        assert (await ws.receive())["code"] == "bad_frame"


async def test_a_frame_over_64_kb_closes_the_socket_with_1009(ann):
    async with connected(ann) as ws:
        await ws.send_text(json.dumps({"type": "ping", "pad": "x" * MAX_FRAME_BYTES}))
        assert await ws.closed() == 1009


async def test_a_64_kb_frame_is_still_read(ann):
    async with connected(ann) as ws:
        frame = json.dumps({"type": "ping", "pad": ""})
        await ws.send_text(frame[:-2] + "x" * (MAX_FRAME_BYTES - len(frame)) + '"}')
        assert (await ws.receive())["type"] == "pong"


async def test_a_flood_of_frames_closes_the_socket_with_1008(ann):
    async with connected(ann) as ws:
        for _ in range(FLOOD_FRAMES):
            await ws.send("ping")
        for _ in range(FLOOD_FRAMES):
            assert (await ws.receive())["type"] == "pong"
        await ws.send("ping")
        assert await ws.closed() == 1008


# Editing, deleting, reacting


async def test_edits_deletes_and_reactions_reach_the_other_member(ann, ben, room):
    message = await database_sync_to_async(sent)(ann, room, "first draft")
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ann_ws.send("message.edit", message=message.pk, body="final")
        edited = await ben_ws.expect("message.edited")
        assert edited["message"]["body"] == "final" and edited["message"]["edited_at"]
        assert await ann_ws.expect("message.edited") == edited

        await ben_ws.send("reaction.add", message=message.pk, emoji="👍")
        added = await ann_ws.expect("reaction.added")
        assert added == {
            "type": "reaction.added",
            "room": room.pk,
            "message": message.pk,
            "seq": 1,
            "emoji": "👍",
            "user": ben.pk,
        }
        await ben_ws.expect("reaction.added")
        await ben_ws.send("reaction.remove", message=message.pk, emoji="👍")
        assert (await ann_ws.expect("reaction.removed"))["user"] == ben.pk
        await ben_ws.expect("reaction.removed")

        await ann_ws.send("message.delete", message=message.pk)
        deleted = await ben_ws.expect("message.deleted")
        assert deleted["message"]["deleted"] is True and deleted["message"]["body"] == ""


async def test_editing_someone_elses_message_is_forbidden(ann, ben, room):
    message = await database_sync_to_async(sent)(ann, room)
    async with connected(ben) as ws:
        error = await ws.request("message.edit", message=message.pk, body="mine now", id="e")
    assert error["code"] == "forbidden" and error["id"] == "e"


async def test_reacting_to_a_message_of_a_room_you_are_not_in_is_not_found(cat, ann, room):
    message = await database_sync_to_async(sent)(ann, room)
    async with connected(cat) as ws:
        assert (await ws.request("reaction.add", message=message.pk, emoji="👍"))["code"] == "not_found"


# Reading


async def test_reading_moves_the_position_and_tells_the_readers_other_tabs_only(ann, ben, room):
    for _ in range(3):
        await database_sync_to_async(sent)(ben, room)
    async with connected(ann) as tab, connected(ann) as other_tab, connected(ben) as ben_ws:
        await tab.send("read", room=room.pk, seq=2)
        assert await other_tab.expect("read") == {"type": "read", "room": room.pk, "user": ann.pk, "seq": 2}
        assert await tab.expect("read")
        assert await ben_ws.nothing()


# Typing


async def test_typing_reaches_the_other_member_at_most_once_per_interval(ann, ben, room):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        for _ in range(3):
            await ann_ws.send("typing", room=room.pk)
        typing = await ben_ws.expect("typing")
        assert typing == {"type": "typing", "room": room.pk, "user": {"id": ann.pk, "handle": "ann"}}
        assert await ben_ws.nothing(0.5)
        assert await ann_ws.nothing(0.1)


async def test_typing_in_a_room_you_are_not_in_is_not_found(cat, room):
    async with connected(cat) as ws:
        assert (await ws.request("typing", room=room.pk))["code"] == "not_found"


# Resuming after a reconnect


async def test_resume_replays_exactly_the_missed_messages_in_order(ann, ben, room, cat):
    other = await database_sync_to_async(group_room)(ann, cat)
    for body in ("one", "two", "three", "four"):
        await database_sync_to_async(sent)(ann, room, body)
    await database_sync_to_async(sent)(ann, other, "not for ben")
    async with connected(ben) as ws:
        await ws.send("resume", rooms={str(room.pk): 2, str(other.pk): 0})
        replayed = [(await ws.expect("message.new"))["message"] for _ in range(2)]
        assert [(m["seq"], m["body"]) for m in replayed] == [(3, "three"), (4, "four")]
        assert await ws.nothing()
        await ws.send("resume", rooms={str(room.pk): 4})
        assert await ws.nothing()


async def test_resume_beyond_the_limit_asks_for_a_reload(ann, ben, room):
    def many_messages():
        now = timezone.now()
        Message.objects.bulk_create(
            Message(room=room, author=ann, seq=seq, body=f"m{seq}", client_id=uuid.uuid4(), created_at=now)
            for seq in range(1, 206)
        )
        room.last_seq = 205
        room.save(update_fields=["last_seq"])

    await database_sync_to_async(many_messages)()
    async with connected(ben) as ws:
        await ws.send("resume", rooms={str(room.pk): 0})
        assert await ws.expect("resync") == {"type": "resync", "room": room.pk}
        assert await ws.nothing()
        await ws.send("resume", rooms={str(room.pk): 200})
        assert [(await ws.expect("message.new"))["message"]["seq"] for _ in range(5)] == [201, 202, 203, 204, 205]


# Membership changes while connected


async def test_a_kicked_member_stops_receiving_the_room_at_once(ann, ben, room):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await database_sync_to_async(room_services.member_kick)(by=ann, room_id=room.pk, user_id=ben.pk)
        left = await ben_ws.expect("member.left")
        assert left == {"type": "member.left", "room": room.pk, "user": ben.pk, "kicked": True, "by": ann.pk}
        assert await ben_ws.nothing()  # Only once, though it went to the room and to ben.
        await ann_ws.expect("member.left")
        await ann_ws.send("message.send", room=room.pk, body="ben is gone", client_id=str(uuid.uuid4()))
        await ann_ws.expect_each("message.ack", "message.new")
        assert await ben_ws.nothing()
        assert (await ben_ws.request("typing", room=room.pk))["code"] == "not_found"


async def test_joining_a_room_while_connected_starts_its_events(ann, ben):
    public = await database_sync_to_async(group_room)(ann, public=True)
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await database_sync_to_async(room_services.room_join)(user=ben, room_id=public.pk)
        joined = await ben_ws.expect("member.joined")
        assert joined["room"] == public.pk and joined["member"]["user"]["id"] == ben.pk
        assert await ben_ws.nothing()
        assert (await ann_ws.expect("member.joined"))["member"]["user"]["id"] == ben.pk
        await ann_ws.send("message.send", room=public.pk, body="welcome", client_id=str(uuid.uuid4()))
        assert (await ben_ws.expect("message.new"))["message"]["body"] == "welcome"


async def test_a_new_direct_room_reaches_both_people(ann, ben):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        direct, _ = await database_sync_to_async(room_services.direct_room_get_or_create)(user=ann, other=ben)
        assert (await ben_ws.expect("member.joined"))["member"]["user"]["id"] == ben.pk
        assert (await ann_ws.expect("member.joined"))["member"]["user"]["id"] == ann.pk
        await ann_ws.send("message.send", room=direct.pk, body="hey", client_id=str(uuid.uuid4()))
        assert (await ben_ws.expect("message.new"))["message"]["body"] == "hey"


async def test_room_updates_reach_the_members(ann, ben, room):
    async with connected(ben) as ws:
        await database_sync_to_async(room_services.room_update)(by=ann, room_id=room.pk, title="Renamed")
        assert (await ws.expect("room.updated"))["room"]["title"] == "Renamed"


async def test_a_member_who_leaves_stops_receiving_the_room(ann, ben, room):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ben_ws.send("typing", room=room.pk)  # Still a member: no error, ann sees it.
        await ann_ws.expect("typing")
        await database_sync_to_async(room_services.room_leave)(user=ben, room_id=room.pk)
        assert (await ben_ws.expect("member.left"))["kicked"] is False
        await ann_ws.expect("member.left")
        await database_sync_to_async(sent)(ann, room, "after ben left")
        await ann_ws.expect("message.new")
        assert await ben_ws.nothing()


async def test_invitations_and_role_changes_reach_the_people_concerned(ann, ben, cat, room):
    async with connected(ben) as ben_ws, connected(cat) as cat_ws:
        await database_sync_to_async(room_services.room_invite)(by=ann, room_id=room.pk, user=cat)
        invited = await cat_ws.expect("room.invited")
        assert invited["invite"]["room"]["id"] == room.pk and invited["invite"]["invited_by"]["id"] == ann.pk
        await database_sync_to_async(room_services.member_set_role)(
            by=ann, room_id=room.pk, user_id=ben.pk, role="admin"
        )
        updated = await ben_ws.expect("member.updated")
        assert updated["member"]["user"]["id"] == ben.pk and updated["member"]["role"] == "admin"
        assert await cat_ws.nothing()
        assert await ben_ws.nothing()
