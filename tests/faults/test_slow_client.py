"""A frozen client (a tab that stops reading its socket) in busy rooms.

Daphne would queue its frames without limit; the server closes its socket once it has left
WS_SEND_BACKLOG_BYTES unread (chat.backlog), the others keep getting every message in order
meanwhile, and the frozen client, reading again, reconnects and resumes everything.
"""

import asyncio

import pytest

from tests.chat.live import daphne_pair, database_url
from tests.faults.client import ChatClient
from tests.faults.ledger import assert_nothing_lost, expected_views
from tests.faults.traffic import connect_all, settle, stop_all

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.django_db(transaction=True)]

BACKLOG_LIMIT = 32 * 1024
MESSAGES = 120
BODY = "x" * 600  # 120 of them are about 90 KB per reader: far past the limit.
CLOSE_TOO_FAR_BEHIND = 4413


async def test_a_frozen_client_is_closed_past_the_backlog_limit_while_the_others_get_everything(tmp_path, cast):
    with daphne_pair(
        tmp_path,
        heartbeat_seconds=20,  # Not the heartbeat: the client stays silent for less than two beats.
        WS_SEND_BACKLOG_BYTES=str(BACKLOG_LIMIT),
        DJANGO_SETTINGS_MODULE="tests.faults.daphne_settings",
    ) as servers:
        (first, _), (second, _) = servers
        rooms = cast["rooms"]
        sender, near, far, frozen = (
            ChatClient(name, ports=[port], cookie=person["cookie"], rooms=rooms)
            for name, port, person in zip(
                ("sender", "near", "far", "frozen"), (first, first, second, first), cast["people"], strict=True
            )
        )
        clients = [sender, near, far, frozen]
        await connect_all(clients)
        frozen.freeze()
        try:
            for number in range(MESSAGES):
                await sender.send(rooms[number % 2], f"{number} {BODY}")
                await asyncio.sleep(0.01)
            stored = await settle([sender, near, far], database_url(), rooms)
            assert_nothing_lost([sender, near, far], stored, sent=MESSAGES)
            for reader in (near, far):
                assert all(seqs == sorted(seqs) for seqs in reader.arrivals.values()), "live order is seq order"
                # They too got far more than the limit, but answered the pings: never closed.
                assert reader.connections == 1 and reader.closes == []
            assert frozen.connections == 1 and not frozen.views[rooms[0]].messages

            frozen.thaw()
            await frozen.settle(expected_views(stored))
        finally:
            await stop_all(clients)
        assert_nothing_lost(clients, stored, sent=MESSAGES)
        # Closed by the server while frozen: with its close frame, or cut off when it never answered it.
        assert frozen.connections == 2 and frozen.closes[0] in (CLOSE_TOO_FAR_BEHIND, None)
