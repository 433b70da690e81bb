"""The friends list of a person with 1,000 friends: endpoint time, and a real server under 100 clients.

    .venv/bin/python bench/friends.py            # full run: 1,000 friends, 100 concurrent clients
    .venv/bin/python bench/friends.py --smoke    # 50 friends, 10 clients, few repetitions (CI, < 30 s)

Real PostgreSQL on 127.0.0.1 (database parley_bench_friends, or parley_bench_friends_smoke;
created and migrated when absent, filled once and reused) and Redis db 15 under its own prefix;
one friend in ten is online (presence entries in Redis, as a socket would make them).

Two measurements, labelled as such in the table:
  endpoint  IN-PROCESS: GET /api/friends/ through the whole stack (config.asgi.application, called
            as daphne calls it by bench.common.ASGIClient: the ASGI handler, middleware, JWT, DRF,
            serializer) with DEBUG=False, one request at a time; p50/p99 of many timed requests after a warm-up:
            server time without the network (the presence look-up runs on this event loop, reusing
            its Redis connection, as in daphne). The target
            (p50 < 10 ms) is for this figure. Beside the product's page of 100, a view that exists
            only in this file returns all 1,000 friends in one response, to show what paging saves.
  server    REAL SERVER: N daphne processes (one per CPU by default, as behind nginx), each on its
            own port, and 100 concurrent httpx clients on asyncio spread over them for a fixed
            time. Latency is what a client sees (queueing included: with 100 clients in flight it
            is about 100 / throughput), so its target is throughput, not latency.
"""

import argparse
import asyncio
import os
import shlex
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HOST, ROOT, ASGIClient, log, migrated, parley_environment, percentile, psql, remake_database  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/15"
PREFIX = "parleybenchfriends"
HUB = "hub"
ONLINE_EVERY = 10

PROFILES = {
    "full": dict(friends=1_000, reps=300, warmup=30, clients=100, seconds=15.0, db="parley_bench_friends"),
    "smoke": dict(friends=50, reps=20, warmup=3, clients=10, seconds=2.0, db="parley_bench_friends_smoke"),
}
TARGET_P50_MS = 10.0


def environment(db: str) -> dict[str, str]:
    """What config.settings reads, for this process and the servers it starts."""
    hosts = f"testserver,{HOST}"
    env = parley_environment(db=db, redis_url=REDIS_URL, prefix=PREFIX, settings="config.settings", allowed_hosts=hosts)
    return {**env, "JWT_ACCESS_MINUTES": "600"}


# Data: a hub with `friends` friends, a Friendship row each way


def filled(friends: int) -> bool:
    from accounts import selectors
    from accounts.models import User

    hub = User.objects.filter(handle=HUB).first()
    return hub is not None and len(selectors.friend_ids(user_id=hub.pk)) == friends


def fill(*, db: str, friends: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Friendship, User

    remake_database(db)
    started = time.monotonic()
    password, now = make_password("bench"), timezone.now()
    people = User.objects.bulk_create(
        [
            User(
                handle=handle,
                email=f"{handle}@bench.invalid",
                display_name=handle.title(),
                password=password,
                email_verified_at=now,
                last_seen=now - timezone.timedelta(minutes=number),
            )
            for number, handle in enumerate([HUB] + [f"friend{number:05d}" for number in range(friends)])
        ]
    )
    hub, others = people[0], people[1:]
    Friendship.objects.bulk_create(
        [Friendship(user=hub, friend=other, created_at=now) for other in others]
        + [Friendship(user=other, friend=hub, created_at=now) for other in others],
        batch_size=5_000,
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # a steady state: counts read the index alone, as autovacuum allows
    log(f"filled {HUB} with {friends:,} friends in {time.monotonic() - started:.1f} s")


def mark_online(friend_ids: list[int]) -> int:
    from asgiref.sync import async_to_sync

    from chat import presence

    online = friend_ids[::ONLINE_EVERY]

    async def alive():
        for user_id in online:
            await presence.connection_alive(user_id=user_id, connection="bench")

    async_to_sync(alive)()
    return len(online)


# The unpaged twin of the friends view: only here, to compare with the product's page of 100


def all_friends_view():
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from accounts import selectors
    from accounts.api import FriendSerializer
    from accounts.permissions import IsVerified

    class AllFriendsView(APIView):
        permission_classes = [IsVerified]

        def get(self, request):
            page = selectors.friends_page(user=request.user, limit=10**9)
            return Response({"results": FriendSerializer(page.friends, many=True).data, "next": None})

    return AllFriendsView.as_view()


urlpatterns: list = []  # this module is the URLconf of the in-process phase: the product's routes plus one


def install_urls() -> None:
    from django.conf import settings
    from django.urls import include, path

    urlpatterns[:] = [path("bench/all-friends/", all_friends_view()), path("", include(settings.ROOT_URLCONF))]
    settings.ROOT_URLCONF = __name__


# Measuring in process


def access_token(user) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


def check(status: int, body: bytes, url: str) -> None:
    if status != 200:
        raise SystemExit(f"{url}: {status} {body[:300]!r}")


async def timed(client, url: str, *, token: str, reps: int, warmup: int) -> dict:
    headers = {"authorization": f"Bearer {token}"}
    for _ in range(warmup):
        response = await client.get(url, headers=headers)
        check(response.status_code, response.content, url)
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        response = await client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        check(response.status_code, response.content, url)
    return {"p50": percentile(samples, 50), "p99": percentile(samples, 99), "n": reps, "rps": None}


async def measure_in_process(*, token: str, reps: int, warmup: int) -> list[tuple]:
    client = ASGIClient()
    first = (await client.get("/api/friends/", headers={"authorization": f"Bearer {token}"})).json()
    figures = await timed(client, "/api/friends/", token=token, reps=reps, warmup=warmup)
    rows = [("endpoint", "first page of 100", figures, True)]
    if first["next"]:
        url = first["next"].replace("http://testserver", "")
        rows.append(("endpoint", "second page", await timed(client, url, token=token, reps=reps, warmup=warmup), True))
    all_figures = await timed(client, "/bench/all-friends/", token=token, reps=max(5, reps // 5), warmup=2)
    rows.append(("endpoint", f"all {first['count']:,} at once", all_figures, False))
    # The floor: the same stack and sign-in around one row, so a loaded machine shows as such.
    rows.append(
        (
            "endpoint",
            "GET /api/me/ (floor)",
            await timed(client, "/api/me/", token=token, reps=reps, warmup=warmup),
            None,
        )
    )
    return rows


# Measuring a real server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_servers(count: int, env: dict[str, str]) -> tuple[list[subprocess.Popen], list[int]]:
    ports = [free_port() for _ in range(count)]
    daphne = str(Path(sys.executable).with_name("daphne"))
    processes = [
        subprocess.Popen(
            [daphne, "-b", HOST, "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    deadline = time.monotonic() + 30
    for port in ports:
        while True:
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    stop_servers(processes)
                    raise SystemExit(f"daphne on port {port} did not start") from None
                time.sleep(0.1)
    return processes, ports


def stop_servers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def load(*, ports: list[int], token: str, clients: int, seconds: float) -> dict:
    import httpx

    headers = {"authorization": f"Bearer {token}"}
    samples: list[float] = []
    errors = 0

    async def client(number: int) -> None:
        nonlocal errors
        url = f"http://{HOST}:{ports[number % len(ports)]}/api/friends/"
        async with httpx.AsyncClient(headers=headers, timeout=30) as http:
            # Each client warms its connection and its server up before the clock starts.
            await http.get(url)
            await ready.wait()
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                response = await http.get(url)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code == 200:
                    samples.append(elapsed)
                else:
                    errors += 1

    ready = asyncio.Event()
    stop_at = float("inf")
    tasks = [asyncio.create_task(client(number)) for number in range(clients)]
    await asyncio.sleep(2)
    stop_at = time.perf_counter() + seconds
    began = time.perf_counter()
    ready.set()
    await asyncio.gather(*tasks)
    took = time.perf_counter() - began
    if not samples:
        raise SystemExit(f"no successful request ({errors} errors)")
    return {
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "n": len(samples),
        "rps": len(samples) / took,
        "errors": errors,
    }


def measure_server(*, env: dict[str, str], token: str, clients: int, seconds: float, processes: int) -> tuple:
    servers, ports = start_servers(processes, env)
    try:
        log(f"{processes} daphne process(es) on ports {ports}; {clients} clients for {seconds:g} s")
        figures = asyncio.run(load(ports=ports, token=token, clients=clients, seconds=seconds))
    finally:
        stop_servers(servers)
    where = f"{clients} clients, {processes} daphne"
    return ("server", where, figures, False)


def report(rows: list[tuple], *, friends: int, online: int, command: str) -> str:
    lines = [
        f"GET /api/friends/ for a person with {friends:,} friends ({online} online)",
        "",
        f"{'measured':<9} {'what':<26} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'n':>6}  target",
        "-" * 86,
    ]
    for measured, what, figures, has_target in rows:
        rps = f"{figures['rps']:>8.0f}" if figures["rps"] else f"{'':>8}"
        if has_target:
            met = figures["p50"] < TARGET_P50_MS
            target = f"p50 < {TARGET_P50_MS:g} ms  {'ok' if met else 'MISSED'}"
        elif has_target is None:
            target = "(the stack's fixed cost on this machine now)"
        elif measured == "server":
            target = "(throughput; latency includes queueing)" + (
                f"  {figures['errors']} errors" if figures.get("errors") else ""
            )
        else:
            target = "(comparison: no paging)"
        lines.append(
            f"{measured:<9} {what:<26} {figures['p50']:>8.2f} {figures['p99']:>8.2f} {rps} {figures['n']:>6}  {target}"
        )
    lines += [
        "",
        "endpoint = in-process, one request at a time (server time, no network); "
        "server = real daphne processes over HTTP, client-observed.",
        f"command: {command}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, under 30 s (CI)")
    parser.add_argument("--friends", type=int, help="friends of the measured person")
    parser.add_argument("--reps", type=int, help="timed in-process requests per figure")
    parser.add_argument("--clients", type=int, help="concurrent HTTP clients against the server")
    parser.add_argument("--seconds", type=float, help="how long the clients run")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="daphne processes (default: CPUs)")
    parser.add_argument("--refill", action="store_true", help="drop the database and fill it again")
    args = parser.parse_args()
    cfg = dict(PROFILES["smoke" if args.smoke else "full"])
    for key in ("friends", "reps", "clients", "seconds"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    command = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)
    started = time.monotonic()

    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic: pages are not measured
    env = environment(cfg["db"])
    sys.path.insert(0, str(ROOT))
    os.environ.update(env)
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{cfg['db']}'"):
        psql(f"CREATE DATABASE {cfg['db']}")
    import django

    django.setup()

    from accounts import selectors
    from accounts.models import User

    if not migrated(cfg["db"]) or args.refill or not filled(cfg["friends"]):
        fill(db=cfg["db"], friends=cfg["friends"])
    else:
        log(f"{cfg['db']} is filled already ({cfg['friends']:,} friends): no refill")
    hub = User.objects.get(handle=HUB)
    token = access_token(hub)
    install_urls()
    friend_ids = sorted(selectors.friend_ids(user_id=hub.pk))
    online = mark_online(friend_ids)
    rows = asyncio.run(measure_in_process(token=token, reps=cfg["reps"], warmup=cfg["warmup"]))
    mark_online(friend_ids)  # presence entries live 50 s; refreshed as a socket's heartbeat would
    rows.append(
        measure_server(env=env, token=token, clients=cfg["clients"], seconds=cfg["seconds"], processes=args.processes)
    )
    print()
    print(report(rows, friends=cfg["friends"], online=online, command=command))
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
