"""One heartbeat per process for all of its sockets, rather than a task per socket.

Every interval each signed-in socket is pinged (a socket silent for two intervals is closed
instead) and its presence entry refreshed; the sockets are split into slices visited in turn,
so that ten thousand sockets do not all wake in the same instant, and each slice's presence
refresh is one Redis round trip. Once per interval the process also sweeps presence for people
whose sockets died with another process, and announces them offline.

A task per socket cost a task, a coroutine frame and a timer for every idle connection.
"""

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol

from chat import presence

logger = logging.getLogger(__name__)

SLICES = 10
CLOSE_NO_PONG = 4408


class Beating(Protocol):
    last_heard: float  # time.monotonic() of the socket's latest frame
    connection: str

    @property
    def user(self): ...

    async def ping(self) -> None: ...

    async def close(self, code: int) -> None: ...

    async def announce_presence(self, *, online: bool) -> None: ...


class Heart:
    def __init__(self, announce_offline: Callable[[int], Awaitable[None]]):
        self.announce_offline = announce_offline
        # Plain containers (weak references would cost every idle socket memory): a socket leaves
        # first thing when it disconnects.
        self.slices: list[set[Beating]] = [set() for _ in range(SLICES)]
        self.slice_of: dict[Beating, int] = {}
        self.next_slice = 0
        self.task: asyncio.Task | None = None

    def join(self, socket: Beating) -> None:
        self.slices[self.next_slice].add(socket)
        self.slice_of[socket] = self.next_slice
        self.next_slice = (self.next_slice + 1) % SLICES
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())

    def leave(self, socket: Beating) -> None:
        index = self.slice_of.pop(socket, None)
        if index is not None:
            self.slices[index].discard(socket)
        if self.task is not None and not self.slice_of:
            self.task.cancel()
            self.task = None

    async def run(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(presence.heartbeat_seconds() / SLICES)
            tick += 1
            try:
                await self.beat(list(self.slices[tick % SLICES]))
                if tick % SLICES == 0:
                    for user_id in await presence.sweep():
                        await self.announce_offline(user_id)
            except Exception:
                logger.exception("Heartbeat failed")

    async def beat(self, sockets: list[Beating]) -> None:
        silent_since = time.monotonic() - 2 * presence.heartbeat_seconds()
        alive = []
        for socket in sockets:
            if socket.last_heard < silent_since:
                await socket.close(code=CLOSE_NO_PONG)
            else:
                await socket.ping()
                alive.append(socket)
        came_online = await presence.connections_alive([(socket.user.pk, socket.connection) for socket in alive])
        for socket, online in zip(alive, came_online, strict=True):
            if online:  # Swept meanwhile (a long pause of this process): announced again.
                await socket.announce_presence(online=True)


_hearts: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Heart]" = weakref.WeakKeyDictionary()


def heart(announce_offline: Callable[[int], Awaitable[None]]) -> Heart:
    """This event loop's heart (daphne runs one loop per process; tests run one per test)."""
    loop = asyncio.get_running_loop()
    instance = _hearts.get(loop)
    if instance is None:
        instance = _hearts[loop] = Heart(announce_offline)
    return instance
