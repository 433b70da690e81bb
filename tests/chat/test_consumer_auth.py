"""Who may open /ws/: a session, or a single-use ticket as the first frame; checked origins only."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from chat import tickets
from tests.chat.sockets import Socket, communicator, connected, session_cookie
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db(transaction=True)


def ticket_for(api_as, user) -> dict:
    response = api_as(user).post("/api/ws-ticket/")
    assert response.status_code == 200, response.content
    return response.json()


async def open_anonymous() -> Socket:
    ws = communicator()
    accepted, _ = await ws.connect(5)
    assert accepted
    return Socket(ws)


# Session cookie


async def test_a_session_opens_the_socket_and_hello_lists_the_persons_rooms(ann, ben):
    first, second = await database_sync_to_async(lambda: (group_room(ann, ben), group_room(ann)))()
    async with connected(ann, hello=False) as ws:
        hello = await ws.expect("hello")
    assert hello["user"]["id"] == ann.pk and hello["user"]["handle"] == "ann"
    assert hello["rooms"] == [first.pk, second.pk]


async def test_an_unverified_person_is_refused_at_the_handshake(make_user):
    cookie = await session_cookie(await database_sync_to_async(make_user)("newbie", verified=False))
    accepted, _ = await communicator(cookie=cookie).connect(5)
    assert not accepted


@pytest.mark.parametrize("origin", [b"https://evil.example", None])
async def test_a_foreign_or_missing_origin_is_refused(ann, origin):
    cookie = await session_cookie(ann)
    accepted, _ = await communicator(cookie=cookie, origin=origin).connect(5)
    assert not accepted


# Tickets


async def test_a_ticket_sent_as_the_first_frame_signs_the_socket_in(ann, api_as):
    issued = await database_sync_to_async(ticket_for)(api_as, ann)
    assert issued["expires_in"] == 30 and len(issued["ticket"]) >= 32
    ws = await open_anonymous()
    hello = await ws.request("auth", ticket=issued["ticket"])
    assert hello["type"] == "hello" and hello["user"]["id"] == ann.pk
    assert (await ws.request("ping", id=7)) == {"type": "pong", "id": 7}
    await ws.communicator.disconnect()


async def test_a_ticket_works_once(ann, api_as):
    ticket = (await database_sync_to_async(ticket_for)(api_as, ann))["ticket"]
    first = await open_anonymous()
    assert (await first.request("auth", ticket=ticket))["type"] == "hello"
    second = await open_anonymous()
    error = await second.request("auth", ticket=ticket, id="a1")
    assert error["type"] == "error" and error["code"] == "unauthenticated" and error["id"] == "a1"
    assert await second.closed() == 4401
    await first.communicator.disconnect()
    await second.communicator.disconnect()


async def test_an_expired_ticket_is_refused(ann, api_as, settings):
    settings.WS_TICKET_SECONDS = 1
    ticket = (await database_sync_to_async(ticket_for)(api_as, ann))["ticket"]
    await asyncio.sleep(1.3)
    ws = await open_anonymous()
    assert (await ws.request("auth", ticket=ticket))["code"] == "unauthenticated"
    assert await ws.closed() == 4401
    await ws.communicator.disconnect()


async def test_an_unknown_ticket_is_refused():
    ws = await open_anonymous()
    assert (await ws.request("auth", ticket="made-up"))["code"] == "unauthenticated"
    assert await ws.closed() == 4401
    await ws.communicator.disconnect()


async def test_the_ticket_of_a_person_deactivated_since_is_refused(ann, api_as):
    ticket = (await database_sync_to_async(ticket_for)(api_as, ann))["ticket"]
    await database_sync_to_async(account_services.user_deactivate)(user=ann)
    ws = await open_anonymous()
    assert (await ws.request("auth", ticket=ticket))["code"] == "unauthenticated"
    assert await ws.closed() == 4401
    await ws.communicator.disconnect()


@pytest.mark.parametrize("frame", ['{"type": "ping"}', '{"type": "message.send", "room": 1}', "not json", "[]"])
async def test_before_the_ticket_nothing_else_is_accepted(frame):
    ws = await open_anonymous()
    await ws.send_text(frame)
    assert (await ws.receive())["type"] == "error"
    assert await ws.closed() == 4401
    await ws.communicator.disconnect()


async def test_a_socket_that_never_sends_its_ticket_is_closed(settings):
    settings.WS_AUTH_SECONDS = 0.2
    ws = await open_anonymous()
    assert await ws.closed() == 4401
    await ws.communicator.disconnect()


async def test_a_signed_in_socket_cannot_authenticate_again(ann):
    async with connected(ann) as ws:
        assert (await ws.request("auth", ticket="x"))["code"] == "bad_event"
        assert (await ws.request("ping"))["type"] == "pong"


def test_only_verified_people_get_tickets(make_user, api_as, api):
    assert api_as(make_user("newbie", verified=False)).post("/api/ws-ticket/").status_code == 403
    assert api.post("/api/ws-ticket/").status_code == 401


def test_a_ticket_is_stored_only_as_a_hash(ann):
    ticket = tickets.ticket_issue(user=ann)
    from django.core.cache import cache

    assert cache.get(tickets.KEY_PREFIX + ticket) is None
    assert tickets.ticket_redeem(ticket=ticket) == ann
    assert tickets.ticket_redeem(ticket=ticket) is None
