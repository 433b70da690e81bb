"""Redis killed (SIGKILL, no persistence) and started again in the middle of a conversation."""

import asyncio

import pytest

from tests.chat.live import daphne_pair, database_url
from tests.faults.conftest import MESSAGES
from tests.faults.ledger import assert_nothing_lost
from tests.faults.services import RedisServer
from tests.faults.traffic import clients_for, connect_all, converse, settle, stop_all

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.django_db(transaction=True)]

CLOSE_SERVICE_RESTART = 4012


async def test_a_redis_crash_mid_traffic_loses_and_doubles_nothing(tmp_path, cast):
    redis = RedisServer(tmp_path)
    try:
        with daphne_pair(
            tmp_path, heartbeat_seconds=20, REDIS_URL=redis.url, DJANGO_SETTINGS_MODULE="tests.faults.daphne_settings"
        ) as servers:
            ports = [port for port, _ in servers]
            clients = clients_for(cast, ports)
            await connect_all(clients)
            try:
                talking = asyncio.create_task(converse(clients, cast["rooms"], messages=MESSAGES, pause=0.05))
                await asyncio.sleep(0.8)
                redis.kill()
                await asyncio.sleep(1.5)
                redis.start()
                sent = await talking
                stored = await settle(clients, database_url(), cast["rooms"])
            finally:
                await stop_all(clients)
            assert_nothing_lost(clients, stored, sent=sent)
            # Live delivery missed what was published while Redis was away: each server closed its
            # sockets once Redis was back (4012), and the clients' resume brought the rest.
            assert all(CLOSE_SERVICE_RESTART in client.closes for client in clients)
    finally:
        redis.stop()
