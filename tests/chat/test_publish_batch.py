"""Many events published at once (a batch of sends): built off the event loop, sent in one round trip, in order."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat import events
from chat.db import in_db_thread
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


@pytest.mark.services
@pytest.mark.django_db
def test_a_database_thread_publishes_while_the_event_loop_is_busy():
    # Under load the loop spends its time writing copies; a publish that had to hop to it waited its
    # turn there (p99 18-21 ms in a room of 100), holding the database thread and the batch's acks.
    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("room.7", channel)
        returned = threading.Event()

        def after_commit():
            events.publish_each([("room.7", lambda: {"type": "typing", "room": 7, "user": {"id": 3}})])
            returned.set()

        try:
            work = asyncio.ensure_future(in_db_thread(after_commit)())
            await asyncio.sleep(0)  # The thread starts; from here the loop runs nothing until it is told.
            published_while_busy = returned.wait(timeout=5)
            await work
            return published_while_busy, await asyncio.wait_for(layer.receive(channel), 5)
        finally:
            await layer.group_discard("room.7", channel)

    published_while_busy, received = async_to_sync(scenario)()

    assert published_while_busy
    assert received["type"] == "typing"
    assert received["group"] == "room.7"
    assert json.loads(received["text"]) == {"type": "typing", "room": 7, "user": {"id": 3}}


@pytest.mark.services
@pytest.mark.django_db
def test_a_layer_without_a_publish_of_its_own_is_reached_through_the_event_loop(settings):
    # channels_redis's own pub/sub layer hands attributes it lacks to a layer per event loop, which
    # needs a running loop: asked from this thread whether it publishes on its own, it would raise.
    stock = {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"}
    settings.CHANNEL_LAYERS = {"default": {**stock, "CONFIG": settings.CHANNEL_LAYERS["default"]["CONFIG"]}}

    event = {"type": "typing", "room": 8, "user": {"id": 4}}

    assert published("room.8", lambda: events.publish("room.8", event)) == [event]
