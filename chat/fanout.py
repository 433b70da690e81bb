"""Delivery of group events to this process's sockets: one channel per process, not one per socket.

Channels' usual way gives every socket its own channel: the layer copies each event into every
socket's queue and wakes every socket's task, which then dispatches it; in a room of 1,000 that
machinery cost more than writing the frames. Here the process has one channel, subscribed to
each group that has at least one local socket; the fan-out task reads each event once and hands
it to the group's local sockets in a plain loop. Order per group is the channel layer's order,
as before. Nothing is shared between processes: Redis pub/sub still carries every event to every
process that has a member of the group.

One `Fanout` per event loop (daphne runs one per process; tests run one per test).
"""

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Collection
from typing import Protocol

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

TRANSPORT_RESET = "transport.reset"


class Receiver(Protocol):
    def deliver_now(self, message: dict, listening: Collection["Receiver"]) -> Awaitable[None] | None:
        """Handle the event, as far as it can be without awaiting anything, and return the rest to
        await (or None). `listening` is the group's receivers now: it may leave them meanwhile."""


class Fanout:
    def __init__(self):
        self.layer = get_channel_layer()
        # Plain sets (a weak reference per entry would cost every idle socket memory): sockets
        # always leave their groups first thing when they disconnect.
        self.receivers: dict[str, set[Receiver]] = {}
        # Joins and leaves are rare next to events: one lock keeps each group's subscribe and
        # unsubscribe in order, so a leave racing a join can never leave a group unsubscribed.
        self.lock = asyncio.Lock()
        self.channel: str | None = None
        self.task: asyncio.Task | None = None

    async def join(self, group: str, receiver: Receiver) -> None:
        """Deliver the group's events to `receiver` from now on (subscribed when this returns)."""
        async with self.lock:
            receivers = self.receivers.get(group)
            if receivers is None:
                await self.layer.group_add(group, await self._channel())
                receivers = self.receivers[group] = set()
            receivers.add(receiver)

    async def leave(self, group: str, receiver: Receiver) -> None:
        receivers = self.receivers.get(group)
        if receivers is None or receiver not in receivers:
            return
        receivers.discard(receiver)  # At once: nothing more of the group reaches it.
        async with self.lock:
            if group in self.receivers and not self.receivers[group]:
                del self.receivers[group]
                await self.layer.group_discard(group, self.channel)

    def has(self, group: str, receiver: Receiver) -> bool:
        return receiver in self.receivers.get(group, ())

    async def _channel(self) -> str:
        if self.channel is None:
            self.channel = await self.layer.new_channel("fanout.")
            self.task = asyncio.get_running_loop().create_task(self._run())
        return self.channel

    async def _run(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Fan-out could not receive from the channel layer")
                await asyncio.sleep(0.5)
                continue
            await self._deliver(message)

    async def _deliver(self, message: dict) -> None:
        group = message.get("group")
        if message.get("type") == TRANSPORT_RESET:
            receivers = {receiver for members in self.receivers.values() for receiver in members}
        else:
            receivers = self.receivers.get(group, ())
        # A copy: a receiver may join or leave groups while handling the event. The group's live set
        # is read once, and again only after an await (the one way the group can change meanwhile).
        listening = self.receivers.get(group, ())
        for receiver in list(receivers):
            rest = None
            try:
                rest = receiver.deliver_now(message, listening)
                if rest is not None:
                    await rest
            except Exception:
                logger.exception("A socket failed to handle a %s event", message.get("type"))
            if rest is not None:
                listening = self.receivers.get(group, ())


_fanouts: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout]" = weakref.WeakKeyDictionary()


def fanout() -> Fanout:
    loop = asyncio.get_running_loop()
    instance = _fanouts.get(loop)
    if instance is None:
        instance = _fanouts[loop] = Fanout()
    return instance
