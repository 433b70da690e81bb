"""One of two daphne processes killed (SIGKILL) mid-traffic: its clients move to the other and resume."""

import asyncio

import pytest

from tests.chat.live import daphne_pair, database_url
from tests.faults.conftest import MESSAGES
from tests.faults.ledger import assert_nothing_lost
from tests.faults.traffic import clients_for, connect_all, converse, settle, stop_all

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.django_db(transaction=True)]


async def test_a_killed_server_s_clients_move_to_the_other_and_lose_nothing(tmp_path, cast):
    with daphne_pair(tmp_path, heartbeat_seconds=20, DJANGO_SETTINGS_MODULE="tests.faults.daphne_settings") as servers:
        ports = [port for port, _ in servers]
        (_, doomed), _ = servers
        clients = clients_for(cast, ports)
        await connect_all(clients)
        moved = [client for client in clients if client.ports[0] == ports[0]]
        try:
            talking = asyncio.create_task(converse(clients, cast["rooms"], messages=MESSAGES, pause=0.05))
            await asyncio.sleep(1.0)
            doomed.kill()
            sent = await talking
            stored = await settle(clients, database_url(), cast["rooms"])
        finally:
            await stop_all(clients)
        assert_nothing_lost(clients, stored, sent=sent)
        assert moved and all(client.connections == 2 and client.ports[0] == ports[1] for client in moved)
