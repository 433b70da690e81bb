"""Small conversations across the clients and rooms of a fault test, and the waiting that follows."""

import asyncio
import contextlib

from tests.faults.client import ChatClient
from tests.faults.ledger import expected_views, stored_messages

SETTLE_SECONDS = 40


def spread(ports: list[int], number: int) -> list[int]:
    """The ports in the order client `number` tries them: clients alternate between servers."""
    start = number % len(ports)
    return ports[start:] + ports[:start]


def clients_for(cast: dict, ports: list[int]) -> list[ChatClient]:
    """A client per person of the cast, each starting on a different server of `ports`."""
    return [
        ChatClient(f"c{n}", ports=spread(ports, n), cookie=person["cookie"], rooms=cast["rooms"])
        for n, person in enumerate(cast["people"])
    ]


async def connect_all(clients: list[ChatClient]) -> None:
    for client in clients:
        client.start()
    async with asyncio.timeout(20):
        await asyncio.gather(*(client.connected.wait() for client in clients))


async def converse(clients: list[ChatClient], rooms: list[int], *, messages: int, pause: float) -> int:
    """Each client sends its share of `messages`, alternating rooms, `pause` seconds apart; returns the count."""

    async def talk(number: int, client: ChatClient) -> None:
        for index in range(messages // len(clients)):
            await client.send(rooms[index % len(rooms)], f"{client.name} says {index}")
            await asyncio.sleep(pause)

    await asyncio.gather(*(talk(number, client) for number, client in enumerate(clients)))
    return messages // len(clients) * len(clients)


async def settle(clients: list[ChatClient], database_url: str, rooms: list[int]) -> dict:
    """Wait for every send's ack, then for every client's view to reach what PostgreSQL holds; PostgreSQL's rows."""
    with contextlib.suppress(TimeoutError):  # What is still pending then is reported by the comparison.
        async with asyncio.timeout(SETTLE_SECONDS):
            while any(client.pending for client in clients):
                await asyncio.sleep(0.1)
    stored = await asyncio.to_thread(stored_messages, database_url, rooms)
    await asyncio.gather(*(client.settle(expected_views(stored)) for client in clients))
    return stored


async def stop_all(clients: list[ChatClient]) -> None:
    await asyncio.gather(*(client.stop() for client in clients))
