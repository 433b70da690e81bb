"""Sockets that try to hear or touch what is not theirs get nothing: not before signing in, not with a
forged or replayed credential, not for a room they are not in."""

import json
import uuid

import pytest
from channels.db import database_sync_to_async

from chat import services
from tests.chat.sockets import WAIT, communicator, connected, session_cookie
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cat(make_user):
    return make_user("cat")


def say(author, room, body="secret") -> None:
    services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


async def everything_until_closed(ws) -> tuple[list[dict], int]:
    events = []
    while True:
        output = await ws.receive_output(WAIT)
        if output["type"] == "websocket.close":
            return events, output.get("code", 1000)
        events.append(json.loads(output["text"]))


@pytest.mark.parametrize("cookie", [None, "made-up-or-expired-session-key"])
async def test_a_socket_without_a_live_session_hears_nothing_before_it_is_closed(ann, room, settings, cookie):
    settings.WS_AUTH_SECONDS = 1
    ws = communicator(cookie=cookie)
    accepted, _ = await ws.connect(WAIT)
    assert accepted  # An API client gets its chance to send a ticket...
    await database_sync_to_async(say)(ann, room)
    events, code = await everything_until_closed(ws)
    # ...but joins no room meanwhile, and is closed as unauthenticated when its time is up.
    assert events == [] and code == 4401


async def test_a_replayed_ticket_joins_nothing(ann, room, api_as):
    ticket = (await database_sync_to_async(lambda: api_as(ann).post("/api/ws-ticket/").json())())["ticket"]
    async with connected(hello=False) as first:
        await first.send("auth", ticket=ticket)
        await first.expect("hello")
        replay = communicator()
        assert (await replay.connect(WAIT))[0]
        await replay.send_to(text_data=json.dumps({"type": "auth", "ticket": ticket}))
        await database_sync_to_async(say)(ann, room)
        events, code = await everything_until_closed(replay)
        assert [event["type"] for event in events] == ["error"] and code == 4401
        assert (await first.expect("message.new"))["message"]["body"] == "secret"


async def test_a_member_hears_only_the_rooms_they_are_in(ann, ben, cat, room):
    elsewhere = await database_sync_to_async(group_room)(ann, cat, title="Not ben's")
    async with connected(ben) as ws:
        await database_sync_to_async(say)(ann, elsewhere, "not for ben")
        await database_sync_to_async(say)(ann, room, "for ben")
        assert (await ws.expect("message.new"))["message"]["body"] == "for ben"
        assert await ws.nothing()


async def test_every_room_event_of_an_outsider_is_not_found_and_changes_nothing(ann, cat, room):
    message = await database_sync_to_async(
        lambda: services.message_send(author=ann, room_id=room.pk, body="mine", client_id=uuid.uuid4())
    )()
    attempts = [
        ("message.send", {"room": room.pk, "body": "in", "client_id": str(uuid.uuid4())}),
        ("message.edit", {"message": message.pk, "body": "defaced"}),
        ("message.delete", {"message": message.pk}),
        ("reaction.add", {"message": message.pk, "emoji": "👎"}),
        ("read", {"room": room.pk, "seq": 1}),
        ("typing", {"room": room.pk}),
        ("presence.query", {"room": room.pk}),
    ]
    async with connected(cat) as ws:
        for event_type, fields in attempts:
            answer = await ws.request(event_type, id=event_type, **fields)
            assert (answer["type"], answer["code"], answer["id"]) == ("error", "not_found", event_type)
        await ws.send("resume", rooms={str(room.pk): 0})
        assert await ws.nothing()
    await database_sync_to_async(message.refresh_from_db)()
    assert message.body == "mine" and message.deleted_at is None
    assert not await database_sync_to_async(lambda: list(message.reactions.all()))()


async def test_a_lookalike_origin_carrying_a_valid_session_is_refused(ann):
    """A page on another site riding the person's cookie (cross-site WebSocket hijacking)."""
    cookie = await session_cookie(ann)
    accepted, _ = await communicator(cookie=cookie, origin=b"http://127.0.0.1.nip.io:8000").connect(WAIT)
    assert not accepted
