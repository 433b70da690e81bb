"""PostgreSQL crashed and started again mid-traffic: sends fail cleanly, are retried, never doubled.

The test runs its own PostgreSQL cluster (the machine's shared one is never stopped), with Parley's
migrations applied; both daphne processes use it, and Redis is this test run's.
"""

import asyncio

import pytest

from tests.chat.live import daphne_pair
from tests.faults.conftest import MESSAGES, PEOPLE, ROOMS
from tests.faults.ledger import assert_nothing_lost
from tests.faults.services import PostgresCluster
from tests.faults.traffic import clients_for, connect_all, converse, settle, stop_all

pytestmark = [pytest.mark.faults, pytest.mark.services]


async def test_a_postgres_crash_mid_traffic_fails_sends_cleanly_and_their_retries_store_each_once(tmp_path):
    postgres = await asyncio.to_thread(PostgresCluster)
    try:
        url = await asyncio.to_thread(postgres.create_database, "parley")
        cast = await asyncio.to_thread(postgres.make_cast, url, people=PEOPLE, rooms=ROOMS)
        with daphne_pair(
            tmp_path, heartbeat_seconds=20, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="tests.faults.daphne_settings"
        ) as servers:
            ports = [port for port, _ in servers]
            clients = clients_for(cast, ports)
            await connect_all(clients)
            try:
                talking = asyncio.create_task(converse(clients, cast["rooms"], messages=MESSAGES, pause=0.08))
                await asyncio.sleep(0.8)
                await asyncio.to_thread(postgres.crash)
                await asyncio.sleep(1.5)
                await asyncio.to_thread(postgres.start)
                sent = await talking
                stored = await settle(clients, url, cast["rooms"])
            finally:
                await stop_all(clients)
            assert_nothing_lost(clients, stored, sent=sent)
            assert sum(client.refusals for client in clients) > 0, "the outage was felt: sends were refused"
    finally:
        await asyncio.to_thread(postgres.stop)
