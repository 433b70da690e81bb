"""The lobby's matcher under a burst: 1,000 people join the queue at the same moment.

    .venv/bin/python bench/matching.py            # 1,000 people, two daphne processes, 5 rounds
    .venv/bin/python bench/matching.py --smoke    # 40 people, one round (CI, seconds)

Real PostgreSQL (database parley_bench_matching, recreated) and Redis (db 14 unless --redis-url,
prefix parleybenchmatching); two daphne processes (as behind nginx) with people spread over both, so
that pairs cross processes. Each person has a real, signed-in WebSocket (session cookie).

A round: every socket sends {"type": "lobby.join"} at once (no tags: anyone fits), and notes
when its match.found arrives. Reported per round, then the median over rounds:
  time to match   per person, from sending lobby.join to receiving match.found (p50, p99): the
                  Lua script, creating the room and both memberships in PostgreSQL, and the
                  events through Redis to the socket, queueing behind everyone else included
  pairs per second  pairs formed / (last match.found - first lobby.join) of the round
Between rounds everyone leaves (lobby.leave closes each chat). The servers run with
LOBBY_RECENT_PAIR_SECONDS=1 (so rounds need not avoid the last round's partners for five
minutes) and a lobby rate burst above the rounds' joins; nothing else differs from production.

The users, sessions and daphne processes come from bench/ws_fanout.py (its fixture and Server),
under this benchmark's own database and prefix.
"""

import argparse
import asyncio
import json
import shlex
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import websockets  # noqa: E402

from bench import ws_fanout  # noqa: E402
from bench.common import HOST, Row, log, percentile, record  # noqa: E402

ws_fanout.DB_NAME = "parley_bench_matching"
ws_fanout.PREFIX = "parleybenchmatching"
PROFILES = {"full": dict(users=1000, rounds=5, processes=2), "smoke": dict(users=40, rounds=1, processes=2)}
LOBBY_ENV = {"LOBBY_RECENT_PAIR_SECONDS": "1", "LOBBY_RATE_BURST": "1000", "LOBBY_RATE_PER_SECOND": "100"}
WAIT = 120.0


class Person:
    """One signed-in socket: joins when told, and notes when its match arrives."""

    def __init__(self, port: int, cookie: str):
        self.url, self.cookie = f"ws://{HOST}:{port}/ws/", cookie
        self.ws = None
        self.sent = self.found = 0.0
        self.room = None
        self.matched = asyncio.Event()
        self.left = asyncio.Event()

    async def open(self) -> None:
        headers = {"Cookie": f"sessionid={self.cookie}"}
        self.ws = await websockets.connect(self.url, origin=f"http://{HOST}", additional_headers=headers)
        hello = json.loads(await self.ws.recv())
        assert hello["type"] == "hello", hello
        self.task = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        async for frame in self.ws:
            event = json.loads(frame)
            if event["type"] == "match.found":
                self.found, self.room = time.perf_counter(), event["room"]["id"]
                self.matched.set()
            elif event["type"] == "lobby.left":
                self.left.set()
            elif event["type"] == "ping":
                await self.ws.send('{"type": "pong"}')
            elif event["type"] == "error":
                log(f"error: {event}")

    async def join(self) -> None:
        self.matched.clear()
        self.sent = time.perf_counter()
        await self.ws.send('{"type": "lobby.join"}')

    async def leave(self) -> None:
        self.left.clear()
        await self.ws.send('{"type": "lobby.leave"}')
        await self.left.wait()

    async def close(self) -> None:
        await self.ws.close()


async def one_round(people: list[Person]) -> dict:
    await asyncio.gather(*(person.join() for person in people))
    async with asyncio.timeout(WAIT):
        await asyncio.gather(*(person.matched.wait() for person in people))
    waits = [(person.found - person.sent) * 1000 for person in people]
    rooms = {person.room for person in people}
    assert len(rooms) == len(people) // 2, f"{len(rooms)} rooms for {len(people)} people"
    span = max(person.found for person in people) - min(person.sent for person in people)
    result = {"pairs": len(rooms), "pairs_per_s": len(rooms) / span, "p50": percentile(waits, 50)}
    result |= {"p99": percentile(waits, 99), "max": max(waits)}
    await asyncio.gather(*(person.leave() for person in people))
    return result


async def run(ports: list[int], cookies: list[str], rounds: int) -> list[dict]:
    people = [Person(ports[index % len(ports)], cookie) for index, cookie in enumerate(cookies)]
    gate = asyncio.Semaphore(ws_fanout.CONNECT_CONCURRENCY)

    async def open_one(person):
        async with gate:
            await person.open()

    await asyncio.gather(*(open_one(person) for person in people))
    log(f"{len(people)} sockets open over {len(ports)} processes")
    results = []
    try:
        for number in range(rounds):
            await asyncio.sleep(1.2)  # The last round's pairs are "recent" for a second.
            result = await one_round(people)
            log(
                f"round {number + 1}: {result['pairs']} pairs, {result['pairs_per_s']:.0f} pairs/s, "
                f"time to match p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms"
            )
            results.append(result)
    finally:
        await asyncio.gather(*(person.close() for person in people), return_exceptions=True)
    return results


def report(results: list[dict], cfg: dict, command: str) -> str:
    def median(key: str) -> float:
        return statistics.median(result[key] for result in results)

    lines = [
        f"lobby matching: {cfg['users']:,} people joining at once, {cfg['processes']} daphne processes, "
        f"median of {len(results)} round(s)",
        f"  pairs per second      {median('pairs_per_s'):,.0f}",
        f"  time to match p50     {median('p50'):,.0f} ms",
        f"  time to match p99     {median('p99'):,.0f} ms",
        f"  slowest match         {median('max'):,.0f} ms",
        f"command: {command}",
    ]
    return "\n".join(lines)


def table_rows(results: list[dict], cfg: dict) -> list[Row]:
    """The rows of `python -m bench`'s table (the issue set no target for the lobby)."""
    label = f"(i) lobby, {cfg['users']:,} join at once, {cfg['processes']} daphne"
    median = {key: statistics.median(result[key] for result in results) for key in ("pairs_per_s", "p50", "p99")}
    return [
        Row(label, "pairs/s", median["pairs_per_s"]),
        Row(label, "time to match p50 ms", median["p50"]),
        Row(label, "time to match p99 ms", median["p99"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny: proves it still runs (CI)")
    parser.add_argument("--users", type=int, help="people joining at once (even)")
    parser.add_argument("--rounds", type=int, help="repetitions; the report gives their medians")
    parser.add_argument("--processes", type=int, help="daphne processes")
    parser.add_argument("--redis-url", default=ws_fanout.REDIS_URL, help="a Redis database nothing else flushes")
    args = parser.parse_args()
    ws_fanout.REDIS_URL = args.redis_url
    cfg = dict(PROFILES["smoke" if args.smoke else "full"])
    cfg.update({key: getattr(args, key) for key in cfg if getattr(args, key) is not None})
    command = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(arg) for arg in sys.argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    asyncio.run(ws_fanout.clear_redis([ws_fanout.PREFIX]))
    fixture = ws_fanout.build_fixture(cfg["users"], [], 0)
    env = {**ws_fanout.parley_env(), **LOBBY_ENV}
    try:
        with ws_fanout.serving("matching", "config.asgi:application", env, cfg["processes"]) as servers:
            results = asyncio.run(run([server.port for server in servers], fixture.sessions, cfg["rounds"]))
    finally:
        asyncio.run(ws_fanout.clear_redis([ws_fanout.PREFIX]))
    print()
    print(report(results, cfg, command))
    record(table_rows(results, cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
