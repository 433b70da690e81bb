"""The lobby over the socket: live counts, the queue, matches, "Next" and leaving, and what a socket closing does."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from rooms import lobby
from rooms.models import Membership, Room
from tests.chat.sockets import BACKGROUND
from tests.chat.sockets import connected as connected_socket
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db(transaction=True)
# A match first sends member.joined (it makes the person's sockets follow the new room), then match.found.
SKIP = BACKGROUND | {"member.joined"}


def connected(user):
    return connected_socket(user, skip=SKIP)


@pytest.fixture
def fast_ticks(settings):
    settings.LOBBY_TICK_SECONDS = 0.05


async def waiting(user) -> bool:
    return await database_sync_to_async(lobby.is_waiting)(user_id=user.pk)


async def test_two_people_joining_are_both_told_of_their_match_and_can_talk_in_its_room(ann, ben):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        queued = await ann_ws.request("lobby.join", tags=["Chess"])
        assert queued == {"type": "lobby.queued", "tags": ["chess"]}
        await ben_ws.send("lobby.join", tags=["chess", "go"])

        ann_found = await ann_ws.expect("match.found")
        ben_found = await ben_ws.expect("match.found")

        assert ann_found["room"]["id"] == ben_found["room"]["id"]
        assert ann_found["room"]["kind"] == "random"
        assert ann_found["peer"]["handle"] == "ben" and ben_found["peer"]["handle"] == "ann"
        # Both sockets now follow the room: a message reaches the other.
        room_id = ann_found["room"]["id"]
        await ann_ws.send(
            "message.send", room=room_id, body="hi stranger", client_id="c0ffee00-0000-4000-8000-000000000001"
        )
        assert (await ben_ws.expect("message.new"))["message"]["body"] == "hi stranger"


async def test_a_socket_that_closes_takes_its_person_out_of_the_queue(ann):
    async with connected(ann) as ws:
        await ws.request("lobby.join")
        assert await waiting(ann)
    assert not await waiting(ann)


async def test_next_closes_the_chat_tells_the_other_and_queues_again(ann, ben, make_user):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ann_ws.request("lobby.join")
        await ben_ws.send("lobby.join")
        room_id = (await ann_ws.expect("match.found"))["room"]["id"]
        await ben_ws.expect("match.found")

        await ann_ws.send("lobby.next")

        assert await ben_ws.expect("match.ended") == {"type": "match.ended", "room": room_id, "by": ann.pk}
        events = await ann_ws.expect_each("match.ended", "lobby.queued")
        assert events["match.ended"]["room"] == room_id
        assert await waiting(ann) and not await waiting(ben)
        # ...and the closed chat refuses messages, over the socket too.
        refused = await ben_ws.request(
            "message.send", room=room_id, body="hello?", client_id="c0ffee00-0000-4000-8000-000000000002"
        )
        assert refused["type"] == "error" and refused["code"] == "forbidden"


async def test_leave_takes_you_out_of_the_queue_and_ends_your_chat(ann, ben):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ann_ws.request("lobby.join")
        await ben_ws.send("lobby.join")
        room_id = (await ben_ws.expect("match.found"))["room"]["id"]
        await ann_ws.expect("match.found")

        await ben_ws.send("lobby.leave")

        assert (await ann_ws.expect("match.ended"))["by"] == ben.pk
        assert (await ben_ws.expect_each("match.ended", "lobby.left"))["lobby.left"] == {"type": "lobby.left"}
    room = await database_sync_to_async(Room.objects.get)(pk=room_id)
    assert room.closed_at is not None


async def test_joining_too_often_is_refused_with_the_wait(ann, settings):
    settings.LOBBY_RATE_BURST, settings.LOBBY_RATE_PER_SECOND = 2, 0.25
    async with connected(ann) as ws:
        await ws.request("lobby.join")
        await ws.request("lobby.next")
        error = await ws.request("lobby.next", id="again")
        assert error["type"] == "error" and error["code"] == "rate_limited" and error["id"] == "again"
        assert 1 <= error["retry_after"] <= 4


async def test_bad_tags_get_an_error_event_with_the_field(ann):
    async with connected(ann) as ws:
        error = await ws.request("lobby.join", tags=["no spaces please"])
        assert error["type"] == "error" and error["code"] == "invalid" and "tags" in error["fields"]
        shape = await ws.request("lobby.join", tags="chess")
        assert shape["type"] == "error" and "tags" in shape["message"]
    assert not await waiting(ann)


async def test_a_refused_join_does_not_make_its_socket_end_the_wait_of_another_tab(ann, settings):
    settings.LOBBY_RATE_BURST, settings.LOBBY_RATE_PER_SECOND = 1, 0.01
    async with connected(ann) as waiting_tab:
        async with connected(ann) as refused_tab:
            await waiting_tab.request("lobby.join")
            assert (await refused_tab.request("lobby.join"))["code"] == "rate_limited"
            assert (await refused_tab.request("lobby.join", tags=["no spaces"]))["code"] == "invalid"
        assert await waiting(ann)  # The refused tab closed; the other tab's wait goes on.


async def test_a_lobby_page_gets_the_counts_then_pushes_as_they_change(ann, ben, make_user, fast_ticks):
    public = await database_sync_to_async(group_room)(ann, public=True, title="Open")
    async with connected(ann) as ann_ws:
        counts = await ann_ws.request("lobby.subscribe")
        assert counts["type"] == "lobby.counts" and counts["waiting"] == 0 and counts["online"] >= 1
        assert counts["rooms"] == [{"id": public.pk, "members": 1}]
        async with connected(ben) as ben_ws:
            await ben_ws.request("lobby.join")
            pushed = await ann_ws.expect("lobby.counts")
            while pushed["waiting"] != 1:  # ben coming online may be pushed first
                pushed = await ann_ws.expect("lobby.counts")
            await database_sync_to_async(Membership.objects.create)(room=public, user=ben)
            pushed = await ann_ws.expect("lobby.counts")
            assert pushed["rooms"] == [{"id": public.pk, "members": 2}]


async def test_a_burst_of_joins_reaches_lobby_pages_as_a_few_frames(ann, make_user, settings):
    settings.LOBBY_TICK_SECONDS = 0.3
    others = await database_sync_to_async(lambda: [make_user() for _ in range(20)])()
    sockets = [connected(person) for person in others]
    opened = [await socket.__aenter__() for socket in sockets]
    try:
        async with connected(ann) as watcher:
            await watcher.request("lobby.subscribe")
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.gather(*(ws.request("lobby.join") for ws in opened))
            frames, last = [], None
            while last is None or last["waiting"] != 0:
                last = await watcher.receive()
                frames.append(last)
            elapsed = loop.time() - started
    finally:
        for socket in sockets:
            await socket.__aexit__(None, None, None)
    # 20 joins (10 pairs) changed the waiting count 20 times: the page hears at most once per tick.
    assert all(frame["type"] == "lobby.counts" for frame in frames)
    assert len(frames) <= elapsed / settings.LOBBY_TICK_SECONDS + 1
    assert len(frames) < 20


async def test_nobody_outside_a_lobby_chat_can_read_it(ann, ben, bob, api_as):
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await ann_ws.request("lobby.join")
        await ben_ws.send("lobby.join")
        room_id = (await ann_ws.expect("match.found"))["room"]["id"]
    outsider = await database_sync_to_async(api_as)(bob)
    for path in (f"/api/rooms/{room_id}/", f"/api/rooms/{room_id}/messages/", f"/api/rooms/{room_id}/members/"):
        response = await database_sync_to_async(outsider.get)(path)
        assert response.status_code == 404, path
    joined = await database_sync_to_async(outsider.post)(f"/api/rooms/{room_id}/members/", {}, format="json")
    assert joined.status_code == 404


async def test_someone_whose_process_died_is_taken_out_of_the_queue_by_the_sweep(ann):
    from chat.consumers import _announce_offline
    from rooms import matching

    await database_sync_to_async(matching.lobby_join)(user=ann)  # As if through a socket on a process now dead.
    await _announce_offline(ann.pk)  # What any process's presence sweep does for people whose sockets all expired.
    assert not await waiting(ann)


async def paired_then_ended(ann_ws, ben_ws) -> int:
    """ann and ben paired, then ben left: the chat's room id."""
    await ann_ws.request("lobby.join")
    await ben_ws.send("lobby.join")
    room_id = (await ann_ws.expect("match.found"))["room"]["id"]
    await ben_ws.expect("match.found")
    await ben_ws.send("lobby.leave")
    await ann_ws.expect("match.ended")
    await ben_ws.expect_each("match.ended", "lobby.left")
    return room_id


async def test_after_a_chat_ends_the_strangers_get_no_presence_or_typing_of_each_other(ann, ben):
    async with connected(ann) as ann_ws:
        async with connected(ben) as ben_ws:
            room_id = await paired_then_ended(ann_ws, ben_ws)
            refused = await ann_ws.request("typing", room=room_id)
            assert refused["type"] == "error" and refused["code"] == "not_found"
            assert await ben_ws.request("presence.query", room=room_id) == {
                "type": "presence.snapshot",
                "room": room_id,
                "online": [ben.pk],
            }
            ann_ws.skip = {"ping"}  # From here on, presence events count.
            async with connected_socket(ben, hello=False) as again:  # Opened after the end: does not follow it.
                assert room_id not in (await again.expect("hello"))["rooms"]
        assert await ann_ws.nothing()  # ben's last socket closed: ann is not told.


async def test_strangers_who_become_friends_follow_their_kept_chat_again(ann, ben):
    from tests.accounts.social import befriend

    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        room_id = await paired_then_ended(ann_ws, ben_ws)
        await database_sync_to_async(befriend)(ann, ben)
        updated = await next_of(ann_ws, "room.updated")
        assert updated["room"]["kind"] == "direct" and updated["room"]["closed_at"] is None
        await ben_ws.send(
            "message.send", room=room_id, body="friends now", client_id="c0ffee00-0000-4000-8000-000000000003"
        )
        assert (await next_of(ann_ws, "message.new"))["message"]["body"] == "friends now"


async def next_of(ws, event_type: str) -> dict:
    """The next event of this type, past notifications and the like."""
    while (event := await ws.receive())["type"] != event_type:
        pass
    return event


@pytest.fixture
def short_grace(settings):
    settings.LOBBY_DISCONNECT_GRACE_SECONDS = 0.3


async def chat_open(room_id: int) -> bool:
    return await Room.objects.filter(pk=room_id, closed_at__isnull=True).aexists()


async def test_someone_whose_last_socket_closes_ends_their_chat_after_the_grace(ann, ben, short_grace):
    async with connected(ben) as ben_ws:
        async with connected(ann) as ann_ws:
            await ann_ws.request("lobby.join")
            await ben_ws.send("lobby.join")
            room_id = (await ben_ws.expect("match.found"))["room"]["id"]
        # ann's tab closed (or she was paired while it was closing): ben is not left waiting.
        assert await ben_ws.expect("match.ended") == {"type": "match.ended", "room": room_id, "by": ann.pk}
    assert not await chat_open(room_id)


async def test_going_from_the_lobby_page_to_the_room_page_keeps_the_chat(ann, ben, short_grace):
    async with connected(ben) as ben_ws:
        async with connected(ann) as lobby_page:
            await lobby_page.request("lobby.join")
            await ben_ws.send("lobby.join")
            room_id = (await ben_ws.expect("match.found"))["room"]["id"]
        async with connected(ann) as room_page:  # Opened within the grace.
            assert await ben_ws.nothing(1.0)
            assert await chat_open(room_id)
            assert await room_page.nothing(0.1)


def test_the_sweep_for_dead_processes_ends_their_chats(ann, ben, online):
    from asgiref.sync import async_to_sync

    from chat.consumers import _announce_offline
    from rooms import matching

    online(ann, ben)
    matching.lobby_join(user=ann)
    room = matching.lobby_join(user=ben).room
    async_to_sync(_announce_offline)(ann.pk)  # What a presence sweep does once ann's sockets all expired.
    room.refresh_from_db()
    assert room.closed_at is not None
