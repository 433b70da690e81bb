"""The lobby's clock: one task per process while it has lobby sockets, like chat.heartbeat's.

Every LOBBY_TICK_SECONDS it offers to run rooms.matching.lobby_tick; the tick claims a short
Redis lock first, so across all processes one runs it per interval (pairing people who waited
long enough for a shared tag, and pushing changed counts to the lobby group).
"""

import asyncio
import logging
import weakref

from django.conf import settings

from chat.db import in_db_thread
from rooms import matching

logger = logging.getLogger(__name__)


class Ticker:
    def __init__(self):
        self.sockets: set = set()  # Sockets on a lobby page or in the queue; they leave on disconnect.
        self.task: asyncio.Task | None = None

    def join(self, socket) -> None:
        self.sockets.add(socket)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())

    def leave(self, socket) -> None:
        self.sockets.discard(socket)
        if self.task is not None and not self.sockets:
            self.task.cancel()
            self.task = None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(settings.LOBBY_TICK_SECONDS)
            try:
                await in_db_thread(matching.lobby_tick)()
            except Exception:
                logger.exception("Lobby tick failed")


_tickers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker]" = weakref.WeakKeyDictionary()


def ticker() -> Ticker:
    """This event loop's ticker (daphne runs one loop per process; tests run one per test)."""
    loop = asyncio.get_running_loop()
    instance = _tickers.get(loop)
    if instance is None:
        instance = _tickers[loop] = Ticker()
    return instance
