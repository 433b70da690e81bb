"""Redis is a transport, never the record: killing it mid-conversation loses no acknowledged message.

The test starts its own redis-server on a free port (never the machine's shared one) and a daphne
process that uses it, then plays two clients that behave as the page's script does: retry a send
with the same client_id until it is acknowledged, reconnect when the socket drops, and resume
from the last seq seen.
"""

import asyncio
import contextlib
import shutil
import signal
import uuid

import pytest
from channels.db import database_sync_to_async
from websockets.exceptions import ConnectionClosed

from chat.models import Message
from tests.chat.live import WAIT, daphne_pair, open_socket
from tests.conftest import free_port
from tests.faults.services import start_redis
from tests.rooms.factories import group_room

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

MESSAGES_PER_PHASE = 5


class Person:
    """One client of one person: its socket, what it was acknowledged and what it has seen."""

    def __init__(self, port, user, room_id):
        self.port, self.user, self.room_id = port, user, room_id
        self.socket = None
        self.acked: set[int] = set()
        self.seen: set[int] = set()
        self.closes: list[int | None] = []

    async def connect(self):
        self.socket = await open_socket(self.port, self.user)
        await self.socket.send("resume", rooms={str(self.room_id): max(self.seen, default=0)})

    async def send_until_acked(self, body: str) -> None:
        client_id = str(uuid.uuid4())
        async with asyncio.timeout(4 * WAIT):
            while True:
                try:
                    await self.socket.send("message.send", room=self.room_id, body=body, client_id=client_id)
                    event = await self.socket.expect_one_of("message.ack", "error")
                    if event["type"] == "message.ack":
                        self.acked.add(event["message"]["seq"])
                        return
                except Exception:  # The socket dropped: reconnect, then send the same client_id again.
                    await asyncio.sleep(0.3)
                    await self.reconnect()
                await asyncio.sleep(0.3)

    async def reconnect(self):
        with contextlib.suppress(Exception):
            await self.socket.connection.close()
        await self.connect()

    async def take_news(self, seconds: float = 1.0) -> None:
        """Collect message.new events until none arrives for `seconds`; reconnect if the socket closes."""
        try:
            while True:
                async with asyncio.timeout(seconds):
                    try:
                        event = await self.socket.next_event()
                    except ConnectionClosed as closed:
                        self.closes.append(closed.rcvd.code if closed.rcvd else None)
                        await self.connect()
                        continue
                if event["type"] == "message.new" and event["message"]["room"] == self.room_id:
                    self.seen.add(event["message"]["seq"])
                if event["type"] == "message.ack":
                    self.seen.add(event["message"]["seq"])
        except TimeoutError:
            return


async def test_a_redis_restart_loses_no_acknowledged_message(tmp_path, make_user):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    port = free_port()
    redis_process = start_redis(port, tmp_path)
    ann, ben = await database_sync_to_async(lambda: (make_user("ann"), make_user("ben")))()
    room = await database_sync_to_async(group_room)(ann, ben)
    try:
        with daphne_pair(tmp_path, heartbeat_seconds=20, count=1, REDIS_URL=f"redis://127.0.0.1:{port}/0") as pair:
            [(web_port, _)] = pair
            sender, reader = Person(web_port, ann, room.pk), Person(web_port, ben, room.pk)
            await reader.connect()
            await sender.connect()

            for number in range(MESSAGES_PER_PHASE):
                await sender.send_until_acked(f"before {number}")
            await reader.take_news()
            assert reader.seen == sender.acked == set(range(1, MESSAGES_PER_PHASE + 1))

            redis_process.send_signal(signal.SIGKILL)
            redis_process.wait()
            sending = asyncio.create_task(_send_phase(sender, "during"))
            await asyncio.sleep(1.5)
            redis_process = start_redis(port, tmp_path)
            await sending
            for number in range(MESSAGES_PER_PHASE):
                await sender.send_until_acked(f"after {number}")

            # The reader does nothing special: the server closes its socket with 4012 once Redis is
            # back, and its ordinary reconnect-and-resume brings what live delivery missed.
            await reader.take_news(seconds=2.0)
            assert 4012 in reader.closes

            stored = await database_sync_to_async(
                lambda: list(Message.objects.filter(room=room).order_by("seq").values_list("seq", "body"))
            )()
            seqs = [seq for seq, _ in stored]
            assert seqs == list(range(1, len(stored) + 1)), "gapless"
            assert len({body for _, body in stored}) == len(stored) == 3 * MESSAGES_PER_PHASE, "each message once"
            assert sender.acked <= set(seqs), "every acknowledged message is stored"
            assert reader.seen == set(seqs), "the reader ends up with exactly what PostgreSQL holds"
    finally:
        redis_process.kill()
        redis_process.wait()


async def _send_phase(person: Person, label: str) -> None:
    for number in range(MESSAGES_PER_PHASE):
        await person.send_until_acked(f"{label} {number}")
