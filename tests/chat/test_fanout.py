"""chat.fanout handing a group event to this process's sockets, each on a real daphne protocol over
a real socket pair (tests.chat.test_frames' Wire): most copies are written by the consumer's
`deliver_now` on the spot, and each socket must still get exactly what `forward` would send it."""

import asyncio
import json
from types import SimpleNamespace

import pytest
from django_guid import set_guid
from django_guid.log_filters import CorrelationId

from chat import events
from chat.backlog import Backlog
from chat.fanout import fanout
from tests.chat.test_frames import Wire, consumer_on

GROUP = events.room_group(4242)


@pytest.fixture
def wires():
    made = [Wire() for _ in range(4)]
    yield made
    for wire in made:
        wire.close()


async def listening(wire, *, user_id: int = 1):
    consumer = await consumer_on(wire)
    consumer.user, consumer.scope = SimpleNamespace(pk=user_id), {"headers": []}
    await fanout().join(GROUP, consumer)
    return consumer


async def frames_on(wire, count: int) -> list[dict]:
    """The next `count` text frames that reached the client (all short: a two-byte header each)."""
    data = b""
    for _ in range(200):
        data += wire.received()
        found = _texts(data)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.01)
    return _texts(data)


def _texts(data: bytes) -> list[dict]:
    texts = []
    while len(data) >= 2:
        assert data[0] == 0x81 and data[1] <= 125
        texts.append(json.loads(data[2 : 2 + data[1]]))
        data = data[2 + data[1] :]
    return texts


async def test_every_socket_of_the_group_gets_each_event_once_in_order_and_counts_it(wires):
    consumers = [await listening(wire) for wire in wires[:3]]
    gone = await listening(wires[3])
    await fanout().leave(GROUP, gone)

    for number in range(3):
        await events.apublish(GROUP, {"type": "message.new", "n": number})

    for wire, consumer in zip(wires, consumers, strict=False):
        assert await frames_on(wire, 3) == [{"type": "message.new", "n": number} for number in range(3)]
        assert consumer.backlog.written == 3 * len('{"type":"message.new","n":0}')
    assert await frames_on(wires[3], 1) == []


async def test_a_socket_behind_gets_nothing_more_and_the_others_still_get_theirs(wires):
    behind, reading = await listening(wires[0]), await listening(wires[1])
    behind.behind = True

    await events.apublish(GROUP, {"type": "message.new", "n": 1})

    assert await frames_on(wires[1], 1) == [{"type": "message.new", "n": 1}]
    assert await frames_on(wires[0], 1) == []
    assert behind.backlog.written == 0 and reading.backlog.written > 0


async def test_a_copy_past_half_the_backlog_is_followed_by_a_ping(wires):
    consumer = await listening(wires[0])
    consumer.backlog = Backlog(limit=40)

    await events.apublish(GROUP, {"type": "message.new", "n": 1})

    message, ping = await frames_on(wires[0], 2)
    assert message == {"type": "message.new", "n": 1}
    assert ping["type"] == "ping" and consumer.backlog.pings[0][0] == ping["id"]


async def test_an_event_a_socket_filters_still_goes_through_its_handler(wires):
    typist, other = await listening(wires[0], user_id=1), await listening(wires[1], user_id=2)

    await events.apublish(GROUP, {"type": "typing", "room": 4242, "user": {"id": 1}})

    assert await frames_on(wires[1], 1) == [{"type": "typing", "room": 4242, "user": {"id": 1}}]
    assert await frames_on(wires[0], 1) == []  # Nobody is shown their own typing.
    assert typist.backlog.written == 0 and other.backlog.written > 0


async def test_a_socket_over_its_backlog_is_closed_and_the_line_logged_is_its_own(wires, caplog):
    consumer = await listening(wires[0])
    consumer.scope = {"headers": [(b"x-request-id", b"the-late-reader")]}
    consumer.backlog = Backlog(limit=10)
    caplog.handler.addFilter(CorrelationId())
    set_guid("another-socket")  # what the fan-out's context may hold from another socket's event

    await events.apublish(GROUP, {"type": "message.new", "n": 1})

    assert await frames_on(wires[0], 1) == [{"type": "message.new", "n": 1}]
    assert consumer.behind
    [line] = [record for record in caplog.records if "left" in record.getMessage()]
    assert line.correlation_id == "the-late-reader"
