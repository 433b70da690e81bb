"""Listening on the real channel layer (in-memory, or Redis when PARLEY_SERVICES=1) from sync tests."""

import asyncio
import json

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

QUIET_SECONDS = 0.3


def published(groups, action, *, expect: int = 1, timeout: float = 5.0) -> list[dict]:
    """Run `action` while a fresh channel listens to `groups`; return every event it received, decoded.

    Waits up to `timeout` for each of the first `expect` events, then a short quiet spell for extras.

    `action` runs in this thread (asgiref keeps thread-sensitive code on the caller's thread), so it
    sees the test's database transaction. Typically it runs captured on_commit callbacks.
    """
    groups = [groups] if isinstance(groups, str) else list(groups)

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        try:
            await sync_to_async(action)()
            received = []
            while True:
                wait = timeout if len(received) < expect else QUIET_SECONDS
                try:
                    received.append(await asyncio.wait_for(layer.receive(channel), wait))
                except TimeoutError:
                    return received
        finally:
            for group in groups:
                await layer.group_discard(group, channel)

    return [_decoded(message) for message in async_to_sync(scenario)()]


def run_all(callbacks):
    return lambda: [callback() for callback in callbacks]


def _decoded(message: dict) -> dict:
    event = json.loads(message["text"])
    # The layer message's type names the consumer handler; it must match the event inside.
    assert message["type"] == event["type"]
    return event
