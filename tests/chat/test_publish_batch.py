"""Many events published at once (a batch of sends): built off the event loop, sent in one round trip, in order."""

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat import events
from tests.chat.realtime import published


def test_publish_each_builds_every_payload_in_the_calling_thread():
    # The caller is a database thread; the event loop it hops to is busy delivering every copy.
    built_in = []

    def build(number):
        def event():
            built_in.append(threading.get_ident())
            return {"type": "typing", "room": number, "user": {"id": number}}

        return event

    def action():
        built_in.clear()
        events.publish_each([("room.1", build(1)), ("room.2", build(2))])
        return threading.get_ident()

    caller = []
    received = published(["room.1", "room.2"], lambda: caller.append(action()), expect=2)

    assert [event["room"] for event in received] == [1, 2]
    assert built_in == [caller[0], caller[0]]


@pytest.mark.services
def test_the_redis_layer_sends_many_group_messages_in_order_in_one_go():
    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        for group in ("room.1", "room.2"):
            await layer.group_add(group, channel)
        try:
            await layer.group_send_many(
                [
                    (f"room.{1 + n % 2}", {"type": "message.new", "text": str(n), "group": f"room.{1 + n % 2}"})
                    for n in range(50)
                ]
            )
            return [await layer.receive(channel) for _ in range(50)]
        finally:
            for group in ("room.1", "room.2"):
                await layer.group_discard(group, channel)

    received = async_to_sync(scenario)()

    assert [message["text"] for message in received] == [str(n) for n in range(50)]
    assert [message["group"] for message in received] == [f"room.{1 + n % 2}" for n in range(50)]
