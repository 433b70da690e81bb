"""Soak: many connected clients chatting for minutes across two daphne processes; nothing may be lost.

    .venv/bin/python bench/soak.py                          # 500 clients, 10 minutes
    .venv/bin/python bench/soak.py --clients 200 --minutes 2
    .venv/bin/python bench/soak.py --smoke                  # 20 clients, 15 seconds (CI)

Everything runs on 127.0.0.1: a throwaway PostgreSQL database (parley_soak, dropped and
recreated), Redis db 13 under its own prefix, and --servers daphne processes (bench/parley_settings.py)
that the clients alternate between. People sit in rooms of --room-size; each client is the fault
tests' client (tests/faults/client.py: client_id on every send, retry until acknowledged, resume
after a reconnect) and sends one message every --interval seconds on average.

Reported: each daphne's memory (RSS) once everyone is connected and at the end, messages sent,
acknowledged, stored (rows in PostgreSQL) and delivered (against stored x members), and every error:
refused sends, socket closes, problems the clients saw, ERROR lines in the daphne logs. Exit code 1
if anything was lost, doubled or left unacknowledged.
"""

import argparse
import asyncio
import contextlib
import random
import resource
import shlex
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import HOST, ROOT, Row, fresh_database, log, parley_environment, record, signed_in_sessions  # noqa: E402
from bench.ws_fanout import Server, serving  # noqa: E402
from tests.faults.client import ChatClient  # noqa: E402
from tests.faults.ledger import expected_views, stored_messages  # noqa: E402
from tests.faults.traffic import spread  # noqa: E402

DB_NAME = "parley_soak"
REDIS_URL = "redis://127.0.0.1:6379/13"
PREFIX = "parleysoak"
CONNECT_BATCH = 50  # Twisted listens with a backlog of 50.
SETTLE_SECONDS = 120


def soak_env() -> dict:
    import os

    env = parley_environment(
        db=DB_NAME, redis_url=REDIS_URL, prefix=PREFIX, settings="bench.parley_settings", allowed_hosts=HOST
    )
    return {**os.environ, **env, "PYTHONPATH": str(ROOT)}


def build_people(clients: int, room_size: int) -> tuple[list[str], list[int]]:
    """Verified people in rooms of room_size; each one's session cookie and room."""
    import os

    fresh_database(DB_NAME)
    os.environ.update({k: v for k, v in soak_env().items() if k != "PYTHONPATH"})
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connections
    from django.utils import timezone

    from accounts.models import User
    from rooms.models import Membership, Room

    now, unusable = timezone.now(), make_password(None)
    people = User.objects.bulk_create(
        [
            User(email=f"soak{i}@bench.test", handle=f"soak{i}", password=unusable, email_verified_at=now)
            for i in range(clients)
        ]
    )
    room_of = []
    for start in range(0, clients, room_size):
        members = people[start : start + room_size]
        room = Room.objects.create(kind=Room.Kind.GROUP, title=f"soak {start // room_size}", creator=members[0])
        Membership.objects.bulk_create([Membership(room=room, user=person) for person in members])
        room_of += [room.pk] * len(members)
    sessions = signed_in_sessions(people)
    connections.close_all()
    return sessions, room_of


async def clear_redis() -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(f"{PREFIX}*", count=1000)]
        for i in range(0, len(keys), 1000):
            await client.delete(*keys[i : i + 1000])
    finally:
        await client.aclose()


async def soak(servers: list[Server], sessions: list[str], room_of: list[int], args) -> dict:
    ports = [server.port for server in servers]
    clients = [
        ChatClient(f"c{n}", ports=spread(ports, n), cookie=cookie, rooms=[room])
        for n, (cookie, room) in enumerate(zip(sessions, room_of, strict=True))
    ]
    for start in range(0, len(clients), CONNECT_BATCH):
        batch = clients[start : start + CONNECT_BATCH]
        for client in batch:
            client.start()
        async with asyncio.timeout(60):
            await asyncio.gather(*(client.connected.wait() for client in batch))
    pairs = list(zip(clients, room_of, strict=True))
    log(f"{len(clients)} clients connected")
    rss_start = {server.pid: server.rss_kb() for server in servers}
    sent = 0
    stop_at = time.monotonic() + args.minutes * 60

    async def chat(client: ChatClient, room: int) -> None:
        nonlocal sent
        await asyncio.sleep(random.uniform(0, args.interval))
        while time.monotonic() < stop_at:
            await client.send(room, f"{client.name} at {time.time():.3f}")
            sent += 1
            await asyncio.sleep(random.uniform(0.5, 1.5) * args.interval)

    await asyncio.gather(*(chat(client, room) for client, room in pairs))
    log(f"sending stopped after {sent} messages; settling")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_SECONDS):
            while any(client.pending for client in clients):
                await asyncio.sleep(0.5)
    rooms = sorted(set(room_of))
    stored = await asyncio.to_thread(stored_messages, soak_env()["DATABASE_URL"], rooms)
    expected = expected_views(stored)
    await asyncio.gather(*(client.settle({room: expected[room]}, timeout=60) for client, room in pairs))
    rss_end = {server.pid: server.rss_kb() for server in servers}
    members = Counter(room_of)
    stored_ids = [client_id for rows in stored.values() for _, _, client_id in rows]
    result = {
        "clients": len(clients),
        "sent": sent,
        "acked": sum(len(client.acked) for client in clients),
        "unacked": sum(len(client.pending) for client in clients),
        "stored": len(stored_ids),
        "doubled": len(stored_ids) - len(set(stored_ids)),
        "gaps": sum(1 for rows in stored.values() if [s for s, _, _ in rows] != list(range(1, len(rows) + 1))),
        "delivered": sum(len(client.views[room].messages) for client, room in pairs),
        "deliveries_due": sum(len(rows) * members[room] for room, rows in stored.items()),
        "views_wrong": sum(sorted(client.views[room].messages) != expected[room] for client, room in pairs),
        "refused": sum(client.refusals for client in clients),
        "reconnects": sum(client.connections - 1 for client in clients),
        "closes": Counter(code for client in clients for code in client.closes),
        "problems": [problem for client in clients for problem in client.problems][:10],
        "rss_kb": {pid: (rss_start[pid], rss_end[pid]) for pid in rss_start},
    }
    await asyncio.gather(*(client.stop() for client in clients))
    return result


def report(result: dict, servers: list[Server], args, seconds: float) -> str:
    errors = sum(
        1 for server in servers for line in Path(server.log.name).read_text().splitlines() if " ERROR " in line
    )
    lines = [
        f"command: cd /work/main && .venv/bin/python {' '.join(shlex.quote(a) for a in sys.argv)}",
        f"{result['clients']} clients in rooms of {args.room_size}, {args.servers} daphne processes, "
        f"{args.minutes:g} min, one message per {args.interval:g} s per client; {seconds:.0f} s in all",
    ]
    for number, (pid, (start, end)) in enumerate(result["rss_kb"].items()):
        lines.append(
            f"daphne {number} (pid {pid}) RSS: {start / 1024:.1f} MB connected, {end / 1024:.1f} MB at the end"
        )
    lines += [
        f"messages: sent {result['sent']}, acked {result['acked']}, stored {result['stored']}, "
        f"unacked {result['unacked']}, doubled {result['doubled']}, rooms with a gap {result['gaps']}",
        f"deliveries: {result['delivered']} of {result['deliveries_due']} (stored x members); "
        f"clients whose view differs from PostgreSQL: {result['views_wrong']}",
        f"errors: refused sends {result['refused']}, reconnects {result['reconnects']}, "
        f"closes {dict(result['closes'])}, daphne ERROR lines {errors}, client problems {result['problems']}",
    ]
    return "\n".join(lines)


def rows(result: dict, args) -> list[Row]:
    """The soak's lines in `python -m bench`'s table: nothing lost, and how much each daphne grew."""
    scenario = f"soak: {result['clients']} clients, {args.minutes:g} min"
    growth = [(end - start) / 1024 for start, end in result["rss_kb"].values()]
    return [
        Row(
            scenario,
            "messages lost or doubled",
            float(result["sent"] - result["stored"] + result["doubled"]),
            target="0",
            met=not lost_anything(result),
        ),
        Row(
            scenario,
            "deliveries missing",
            float(result["deliveries_due"] - result["delivered"]),
            target="0",
            met=result["delivered"] == result["deliveries_due"],
        ),
        Row(scenario, "largest daphne RSS growth (MB)", max(growth, default=0.0), spec=",.1f"),
    ]


def lost_anything(result: dict) -> bool:
    return bool(
        result["unacked"]
        or result["doubled"]
        or result["gaps"]
        or result["views_wrong"]
        or result["problems"]
        or result["stored"] != result["sent"]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between one client's messages, on average")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="20 clients for 15 seconds: proves it still runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.minutes, args.interval = 20, 0.25, 1.0

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    started = time.monotonic()
    asyncio.run(clear_redis())
    sessions, room_of = build_people(args.clients, args.room_size)
    log(f"{args.clients} people in {len(set(room_of))} rooms")
    result = None
    try:
        with serving("soak", "config.asgi:application", soak_env(), args.servers) as servers:
            result = asyncio.run(soak(servers, sessions, room_of, args))
            print(report(result, servers, args, time.monotonic() - started))
            record(rows(result, args))
    finally:
        asyncio.run(clear_redis())
    return 1 if result is None or lost_anything(result) else 0


if __name__ == "__main__":
    sys.exit(main())
