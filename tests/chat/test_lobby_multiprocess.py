"""The lobby across two real daphne processes sharing Redis and PostgreSQL: one queue, one matcher."""

import asyncio
from collections import Counter

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from rooms.models import Membership, Room
from tests.chat.live import daphne_pair, open_socket

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
PEOPLE = 100


@pytest.fixture
def servers(tmp_path):
    with daphne_pair(tmp_path, heartbeat_seconds=20) as pair:
        yield pair


async def test_100_people_joining_at_once_on_two_processes_form_50_pairs_with_nobody_in_two(servers, make_user):
    ports = [port for port, _ in servers]
    people = await database_sync_to_async(lambda: [make_user(f"p{number:03d}") for number in range(PEOPLE)])()
    # Two pairs in a block, each split over both processes: they must never be paired.
    blocks = [(people[0], people[1]), (people[2], people[3])]
    for blocker, blocked in blocks:
        await database_sync_to_async(account_services.block_create)(blocker=blocker, blocked=blocked)
    sockets = await asyncio.gather(*(open_socket(ports[index % 2], person) for index, person in enumerate(people)))
    try:
        await asyncio.gather(*(ws.send("lobby.join") for ws in sockets))
        found = await asyncio.gather(*(ws.expect("match.found") for ws in sockets))
    finally:
        await asyncio.gather(*(ws.connection.close() for ws in sockets))

    rooms = Counter(event["room"]["id"] for event in found)
    assert len(rooms) == PEOPLE // 2 and set(rooms.values()) == {2}
    peer_of = {person.pk: event["peer"]["id"] for person, event in zip(people, found, strict=True)}
    assert all(peer_of[peer_of[person]] == person for person in peer_of)  # Each pair agrees.
    for blocker, blocked in blocks:
        assert peer_of[blocker.pk] != blocked.pk

    stored = await database_sync_to_async(
        lambda: Counter(Membership.objects.filter(room__kind=Room.Kind.RANDOM).values_list("user_id", flat=True))
    )()
    assert len(stored) == PEOPLE and set(stored.values()) == {1}  # Nobody in two rooms.
