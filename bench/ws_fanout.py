"""WebSocket fan-out benchmark: Parley (one real daphne process) against the Channels tutorial chat.

    .venv/bin/python bench/ws_fanout.py            # full run, about 15 minutes
    .venv/bin/python bench/ws_fanout.py --quick    # small sizes, about 3 minutes
    .venv/bin/python bench/ws_fanout.py --smoke    # a few seconds of each scenario, for CI

Everything runs on 127.0.0.1: a throwaway PostgreSQL database (parley_bench, dropped and
recreated), Redis db 14 under its own prefixes, daphne for Parley and for the reference peer
(bench/reference/), one server (or pair, for (e)) at a time, so that they never compete for the CPU.

Scenarios, each against both servers:
  (a) one room of N members, all connected; senders send at a target rate. An open-loop ramp
      finds the highest sustained rate (every copy delivered, no backlog: see ramp() and
      RateResult.sustained()), then a run at half that rate reports latency (the send time
      travels in the body).
  (b) many DM pairs, every member sending a burst of K messages at once: acked, delivered,
      stored (rows counted in PostgreSQL afterwards) and lost.
  (c) server memory per idle connection (RSS of the daphne process before and after M sockets).
  (d) connections per second: the M sockets of (c), opened 50 at a time (a full connect each).
  (e) two daphne processes (--processes, default 2; 1 skips it), socket i on process i mod 2: the
      biggest room of (a), the DM burst of (b) and a connect phase again; the scaling factor is the
      two-process figure over the one-process one (target: at least 1.5).

Users are marked online in Redis before they connect (the state "already open in another tab"),
so the connect of N members does not announce N presence events to N members each (an N^2 storm
that would swamp what is measured; it is a finding of its own, see docs/PERFORMANCE.md).
Parley runs with bench/parley_settings.py: config.settings with the per-person send rate raised.
A sender socket sends at most 10 frames a second: Parley closes a socket that sends 60 in 5 s.
Both servers are driven by the same client, bench/wsclient.py: at one daphne's max rate the load
generator receives over 50,000 frames a second, and what it costs a frame is CPU the servers lack
(each rate's log line gives it, in µs a copy).
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import wsclient  # noqa: E402
from bench.common import (  # noqa: E402
    HOST,
    ROOT,
    Row,
    fresh_database,
    log,
    parley_environment,
    percentile,
    psql,
    pyspy,
    record,
    signed_in_sessions,
    table,
)

BIN = Path(sys.executable).parent  # the virtualenv running this, wherever the checkout is
DB_NAME = "parley_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
PREFIX = "parleybench"
REF_PREFIX = "benchref"
PER_SENDER_MAX_RATE = 10.0  # frames/s; Parley's flood guard closes at 60 frames in 5 s
CONNECT_CONCURRENCY = 50  # Twisted listens with a backlog of 50

PROFILES = {
    "full": dict(sizes=[10, 100, 1000], pairs=500, burst=10, idle=1000, duration=10.0, step=3.0, grace=3.0, senders=50),
    "quick": dict(sizes=[10, 100], pairs=100, burst=2, idle=200, duration=4.0, step=1.5, grace=2.0, senders=20),
    "smoke": dict(sizes=[10], pairs=5, burst=3, idle=20, duration=1.5, step=1.0, grace=1.5, senders=10),
}
# Seconds the idle-memory scenario lets the server settle before each RSS reading: a few hundred
# sockets' memory is allocated by the time their hello arrives, a thousand's takes longer to show.
SETTLE = {"full": 3.0, "quick": 1.0, "smoke": 1.0}
# Steps of the ramp spent bisecting after its first failure (see ramp()): 1.6x becomes 1.6 ** (1 / 2 ** k).
BISECT = {"full": 3, "quick": 2, "smoke": 1}


# Processes


def parley_env() -> dict:
    settings = "bench.parley_settings"
    env = parley_environment(db=DB_NAME, redis_url=REDIS_URL, prefix=PREFIX, settings=settings, allowed_hosts=HOST)
    return {**os.environ, **env, "PYTHONPATH": str(ROOT)}


def reference_env() -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.reference.settings",
        BENCH_REFERENCE_REDIS=REDIS_URL,
        BENCH_REFERENCE_PREFIX=REF_PREFIX,
        PYTHONPATH=str(ROOT),
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """One daphne process in its own process group; stop() ends the group."""

    def __init__(self, name: str, app: str, env: dict, port: int, *, wait: bool = True):
        self.name, self.port = name, port
        self.command = [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), app]
        self.log = open(f"/tmp/bench-{name}-{port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if wait:
            self.wait_listening()

    def wait_listening(self) -> None:
        name, port = self.name, self.port
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} daphne exited; see {self.log.name}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} daphne did not listen on {port}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()


# Where the CPU goes: every process the measured path runs through, read from /proc before and after

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process so far; None once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
    return pids


def machine_busy_seconds() -> float:
    """CPU seconds every core spent not idle since boot (the first line of /proc/stat), for everyone's processes."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class CpuAccount:
    """CPU used by each party of a measured phase, as % of one core over its wall time (2 cores: 200 % at most).

    PostgreSQL is split into the backends serving this benchmark's database and the rest of it (WAL
    writer, checkpointer, and other databases' backends: other sessions' tests share the server, as
    they share Redis); a backend that opens during the phase counts from zero, one that exits is lost.
    """

    def __init__(self, servers: list[Server]):
        self.servers = servers
        self.started = time.perf_counter()
        self.machine = machine_busy_seconds()
        self.generator = time.process_time()
        self.before = {pid: process_cpu(pid) for pid in self.pids()}

    @staticmethod
    def backends() -> set[int]:
        return {int(pid) for pid in psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{DB_NAME}'").split()}

    def pids(self) -> set[int]:
        return {server.pid for server in self.servers} | set(pids_named("postgres")) | set(pids_named("redis-server"))

    def used(self, pids) -> float:
        total = 0.0
        for pid in pids:
            now = process_cpu(pid)
            if now is not None:
                total += now - (self.before.get(pid) or 0.0)
        return total

    def shares(self) -> dict[str, float]:
        wall = time.perf_counter() - self.started
        generator = time.process_time() - self.generator
        machine = machine_busy_seconds() - self.machine
        backends, postgres = self.backends(), set(pids_named("postgres"))
        used = {f"daphne {i + 1}": self.used([server.pid for server in self.servers[i : i + 1]])
                for i in range(len(self.servers))}  # fmt: skip
        used["PostgreSQL, this database's backends"] = self.used(backends & postgres)
        used["PostgreSQL, the rest (other databases too)"] = self.used(postgres - backends)
        used["Redis (shared)"] = self.used(pids_named("redis-server"))
        used["load generator (this process)"] = generator
        used["whole machine busy"] = machine
        return {name: 100 * seconds / wall for name, seconds in used.items()}


# Data: users, rooms, memberships and sessions, straight through the ORM


@dataclass
class Fixture:
    sessions: list[str]  # sessionid cookie of user i
    user_ids: list[int]
    room_of_size: dict[int, int]
    dm_rooms: list[int]  # pair i is users 2i and 2i+1


def build_fixture(users: int, sizes: list[int], pairs: int) -> Fixture:
    started = time.monotonic()
    fresh_database(DB_NAME)
    os.environ.update({k: v for k, v in parley_env().items() if k != "PYTHONPATH"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connections
    from django.utils import timezone

    from accounts.models import User
    from rooms.models import Membership, Room

    now = timezone.now()
    unusable = make_password(None)
    people = User.objects.bulk_create(
        [
            User(email=f"bench{i}@bench.test", handle=f"bench{i}", password=unusable, email_verified_at=now)
            for i in range(users)
        ],
        batch_size=1000,
    )
    memberships = []
    room_of_size = {}
    for size in sizes:
        room = Room.objects.create(kind=Room.Kind.GROUP, title=f"bench {size}", creator=people[0])
        room_of_size[size] = room.pk
        memberships += [
            Membership(room=room, user=person, role=Membership.Role.OWNER if i == 0 else Membership.Role.MEMBER)
            for i, person in enumerate(people[:size])
        ]
    dms = Room.objects.bulk_create(
        [
            Room(
                kind=Room.Kind.DIRECT,
                creator=people[2 * i],
                direct_key=Room.direct_key_for(people[2 * i].pk, people[2 * i + 1].pk),
            )
            for i in range(pairs)
        ],
        batch_size=1000,
    )
    for i, room in enumerate(dms):
        memberships += [Membership(room=room, user=people[2 * i]), Membership(room=room, user=people[2 * i + 1])]
    Membership.objects.bulk_create(memberships, batch_size=2000)
    sessions = signed_in_sessions(people)
    connections.close_all()
    log(f"fixture: {users} users, rooms {sizes}, {pairs} DM pairs in {time.monotonic() - started:.1f} s")
    return Fixture(sessions, [p.pk for p in people], room_of_size, [r.pk for r in dms])


async def clear_redis(prefixes: list[str]) -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        for prefix in prefixes:
            keys = [key async for key in client.scan_iter(f"{prefix}*", count=1000)]
            for i in range(0, len(keys), 1000):
                await client.delete(*keys[i : i + 1000])
    finally:
        await client.aclose()


async def mark_online(user_ids: list[int]) -> None:
    """Give each person a live presence entry, as if they had another tab open (see the docstring)."""
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        expiry = time.time() + 3600
        async with client.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                key = f"{PREFIX}:presence:{user_id}"
                pipe.zadd(key, {"bench-other-tab": expiry})
                pipe.expire(key, 3600)
            await pipe.execute()
    finally:
        await client.aclose()


# Measurements


@dataclass
class Phase:
    id: int
    # Which of the peers' messages arrived, each once (the DM burst's lost and doubled copies). A room's
    # phase counts its copies and times every one; it has no use for a second list of the same times and
    # a set holding each message once for its N copies, which cost the load generator CPU every copy.
    peers: bool = False
    sent: int = 0
    acks: int = 0
    delivered: int = 0
    peer_delivered: int = 0
    latencies: list = field(default_factory=list)
    peer_latencies: list = field(default_factory=list)
    ack_latencies: list = field(default_factory=list)
    peer_keys: set = field(default_factory=set)
    errors: Counter = field(default_factory=Counter)
    first_send: float = 0.0
    last_delivery: float = 0.0
    last_ack: float = 0.0


PHASE_IDS = itertools.count(1)  # unique over the run: stored rows are counted by the phase in their body


class Stats:
    def __init__(self):
        self.live: dict[bytes, Phase] = {}  # by the phase's id as it is written in the marker
        self.stale = 0
        self.other = 0
        self.errors: Counter = Counter()
        self.last_frame = time.perf_counter()

    def new_phase(self, *, peers: bool = False) -> Phase:
        phase = Phase(next(PHASE_IDS), peers)
        self.live[str(phase.id).encode()] = phase
        return phase

    def end_phase(self, phase: Phase) -> None:
        """Copies of its messages that arrive later count as stale."""
        del self.live[str(phase.id).encode()]


class Client:
    """One socket. Frames are recognised by prefix and the bench marker, as bytes, not parsed as JSON."""

    def __init__(self, index: int, url: str, origin: str, cookie: str | None, room: int | None, stats: Stats):
        self.index, self.url, self.origin, self.cookie, self.room, self.stats = index, url, origin, cookie, room, stats
        self.ws: wsclient.WebSocket | None = None
        self.ready = asyncio.Event()
        self.parley = cookie is not None
        self.me = str(index).encode()

    async def open(self) -> None:
        address, _, path = self.url.removeprefix("ws://").partition("/")
        host, _, port = address.partition(":")
        headers = {"Origin": self.origin}
        if self.cookie:
            headers["Cookie"] = f"sessionid={self.cookie}"
        self.ws = await wsclient.connect(host, int(port), "/" + path, self.received, headers=headers, timeout=60)
        if self.parley:
            await asyncio.wait_for(self.ready.wait(), 60)
        else:
            self.ready.set()

    def send(self, text: str) -> None:
        if self.ws.close_sent or self.ws.closed.done():
            # The server closed the socket (Parley's flood guard, a crash): the message is lost. An
            # error, so that the step is not sustained, as an exception ended it with websockets.
            self.stats.errors[f"sent on a closed socket ({self.ws.close_code})"] += 1
            return
        self.ws.send(text)

    def frame(self, phase: int, seq: int) -> str:
        body = f"B|{phase}|{self.index}|{seq}|{time.perf_counter():.6f}|E"
        return f'{{"type":"message.send","room":{self.room},"body":"{body}","client_id":"{uuid.uuid4()}"}}'

    def received(self, text: bytes, now: float) -> None:
        """One server message; `now` is when the read that brought it returned."""
        stats = self.stats
        stats.last_frame = now
        i = text.find(b"B|")
        if i >= 0:
            phase_key, who, seq, sent_at = text[i + 2 : text.find(b"|E", i)].split(b"|")
            phase = stats.live.get(phase_key)
            if phase is None:
                stats.stale += 1
                return
            latency = now - float(sent_at)
            if text.startswith(b'{"type":"message.ack"'):
                phase.acks += 1
                phase.ack_latencies.append(latency)
                phase.last_ack = now
                return
            phase.delivered += 1
            phase.latencies.append(latency)
            phase.last_delivery = now
            if phase.peers and who != self.me:
                phase.peer_delivered += 1
                phase.peer_latencies.append(latency)
                phase.peer_keys.add((who, seq))
        elif text.startswith(b'{"type":"hello"'):
            self.ready.set()
        elif text.startswith(b'{"type":"ping"'):
            self.send(json.dumps({"type": "pong", "id": json.loads(text).get("id")}))
        elif text.startswith(b'{"type":"error"'):
            code = text.split(b'"code":"', 1)[-1].split(b'"', 1)[0]
            stats.errors[code.decode(errors="replace")] += 1
        else:
            stats.other += 1

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close(timeout=10)


async def open_all(clients: list[Client]) -> float:
    started = time.perf_counter()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(client):
        async with gate:
            for attempt in range(3):
                try:
                    await client.open()
                    return
                except (OSError, wsclient.HandshakeError, TimeoutError):
                    if attempt == 2:
                        raise
                    await asyncio.sleep(0.5)

    await asyncio.gather(*(one(c) for c in clients))
    return time.perf_counter() - started


async def close_all(clients: list[Client]) -> None:
    gate = asyncio.Semaphore(200)

    async def one(client):
        async with gate:
            await client.close()

    await asyncio.gather(*(one(c) for c in clients))


async def quiet(stats: Stats, seconds: float, limit: float = 60.0) -> None:
    """Wait until no frame arrived for `seconds` (the server drained what it had queued)."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        idle = time.perf_counter() - stats.last_frame
        if idle >= seconds:
            return
        await asyncio.sleep(seconds - idle + 0.01)


@dataclass
class Target:
    """One server, or several sharing Redis (and PostgreSQL) as behind nginx: socket i goes to server i mod N."""

    name: str
    servers: list[Server]
    fixture: Fixture
    parley: bool
    profile_dir: Path | None = None

    @property
    def server(self) -> Server:
        """The first server: the one whose memory and profile are taken."""
        return self.servers[0]

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)

    def port(self, index: int) -> int:
        return self.servers[index % len(self.servers)].port

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.server.port}"

    def client(self, index: int, room_key: str, stats: Stats) -> Client:
        if self.parley:
            if room_key.startswith("n"):
                room = self.fixture.room_of_size[int(room_key[1:])]
            elif room_key.startswith("dm"):
                room = self.fixture.dm_rooms[int(room_key[2:])]
            else:
                room = None
            url = f"ws://{HOST}:{self.port(index)}/ws/"
            return Client(index, url, self.origin, self.fixture.sessions[index], room, stats)
        url = f"ws://{HOST}:{self.port(index)}/ws/chat/{room_key}/"
        return Client(index, url, self.origin, None, 0, stats)

    async def prepare(self) -> None:
        # Everyone, every time: Parley's sweeper announces "offline" for people whose presence
        # expired (51 s after their last socket closed); to the rooms measured next, that is a storm.
        if self.parley:
            await mark_online(self.fixture.user_ids)

    def profile(self, name: str, seconds: float):
        if not (self.parley and self.profile_dir):
            return None
        return pyspy(self.server.pid, seconds, self.profile_dir / f"{name}.txt")


@dataclass
class RateResult:
    rate: float
    n: int
    sent: int
    expected: int
    delivered: int
    seconds: float
    p50: float
    p95: float
    p99: float
    errors: int
    server_cpu: float
    client_cpu: float
    client_us: float  # load generator CPU per copy delivered, µs (sending, acks and the loop included)
    cpu: dict[str, float]  # CpuAccount.shares()

    def sustained(self, idle_p50: float) -> bool:
        """Every copy arrived and no backlog built up during the step.

        A backlog shows first in the median. A big room's median is never small (one message is
        a fan-out of N sends), so the bar is twice the median of messages sent one at a time into
        the idle room (see probe()), and at least 200 ms.
        """
        limit = max(0.2, 2 * idle_p50)
        return self.delivered >= 0.99 * self.expected and self.p50 < limit and self.p99 < 2.0 and self.errors == 0

    @property
    def deliveries_per_second(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0


async def run_rate(target: Target, stats: Stats, senders: list[Client], n: int, rate: float, seconds: float, grace):
    """Send `rate` messages/s into the room for `seconds`, spread over the senders; wait for every copy."""
    phase = stats.new_phase()
    per_sender = rate / len(senders)
    errors_before = sum(stats.errors.values())
    cpu0, client0 = target.cpu_seconds(), time.process_time()
    account = CpuAccount(target.servers)
    t0 = time.perf_counter() + 0.05
    phase.first_send = t0

    async def send(k: int, client: Client):
        interval = 1.0 / per_sender
        seq = 0
        while True:
            at = t0 + (k / len(senders)) * interval + seq * interval
            if at >= t0 + seconds:
                return
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            client.send(client.frame(phase.id, seq))
            phase.sent += 1
            seq += 1

    await asyncio.gather(*(send(k, c) for k, c in enumerate(senders)))
    expected = phase.sent * n
    deadline = time.perf_counter() + grace
    while phase.delivered < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    end = phase.last_delivery or time.perf_counter()
    wall = time.perf_counter() - t0
    client_s = time.process_time() - client0
    result = RateResult(
        rate=rate,
        n=n,
        sent=phase.sent,
        expected=expected,
        delivered=phase.delivered,
        seconds=max(end - t0, 1e-9),
        p50=percentile(phase.latencies, 50),
        p95=percentile(phase.latencies, 95),
        p99=percentile(phase.latencies, 99),
        errors=sum(stats.errors.values()) - errors_before,
        server_cpu=(target.cpu_seconds() - cpu0) / wall,
        client_cpu=client_s / wall,
        client_us=client_s / max(phase.delivered, 1) * 1e6,
        cpu=account.shares(),
    )
    log(
        f"  {target.name} n={n} rate={rate:.1f} msg/s: {result.delivered}/{expected} copies, "
        f"{result.deliveries_per_second:,.0f}/s, p50 {result.p50 * 1e3:.1f} p99 {result.p99 * 1e3:.1f} ms, "
        f"errors {result.errors}, server CPU {result.server_cpu:.0%}, client CPU {result.client_cpu:.0%} "
        f"({result.client_us:.1f} µs a copy)"
    )
    stats.end_phase(phase)
    return result


async def probe(stats: Stats, sender: Client, n: int, count: int = 5) -> float:
    """Median latency of messages sent one at a time, each after every copy of the previous arrived."""
    latencies = []
    for seq in range(count):
        phase = stats.new_phase()
        sender.send(sender.frame(phase.id, seq))
        deadline = time.perf_counter() + 10
        while phase.delivered < n and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        latencies += phase.latencies
        stats.end_phase(phase)
    return percentile(latencies, 50)


async def ramp(target: Target, stats: Stats, senders: list[Client], n: int, idle_p50: float, cfg: dict):
    """The highest sustained rate: up by `factor` a step, then bisected between the best and the first failed.

    Up to the first failure the rate grows by `factor` (1.6) a step, so on its own that would give
    the max to within 1.6x, and a ratio of two maxima (the scaling factor) would be noise around 1.0
    or 1.6. Then `bisect` steps halve the gap (geometrically) between the best sustained rate and
    the lowest failed one, while the ramp's time budget lasts: three of them leave it within 6 %.
    Returns (every step, the best sustained step or None, whether the senders' cap was reached).
    """
    cap = len(senders) * PER_SENDER_MAX_RATE
    rate = min(cap, max(1.0, cfg["start_deliveries"] / n))
    steps, best, failed, bisected = [], None, None, 0
    ramp_end = time.perf_counter() + cfg["ramp_budget"]
    while True:
        result = await run_rate(target, stats, senders, n, rate, cfg["step"], cfg["grace"])
        steps.append(result)
        if result.sustained(idle_p50):
            best = result
            if rate >= cap:
                return steps, best, True
        else:
            failed = rate if failed is None else min(failed, rate)
            await quiet(stats, 1.0, limit=60)  # drain the backlog, or it weighs on the next step
            if best is None:  # even the first rate was too much: search downwards
                if len(steps) >= 4 or rate <= 0.2:
                    return steps, None, False
                rate = max(0.2, rate / 2.5)
                continue
        if time.perf_counter() > ramp_end or (failed is not None and bisected >= cfg["bisect"]):
            return steps, best, False
        if failed is None:
            rate = min(cap, rate * cfg["factor"])
        else:
            rate = (best.rate * failed) ** 0.5
            bisected += 1


async def room_scenario(target: Target, n: int, cfg: dict) -> dict:
    stats = Stats()
    await target.prepare()
    clients = [target.client(i, f"n{n}", stats) for i in range(n)]
    connect = await open_all(clients)
    rss = target.server.rss_kb()
    log(f"{target.name}: {n} members connected in {connect:.1f} s (server RSS {rss / 1024:.0f} MB)")
    try:
        await quiet(stats, 1.0)
        senders = clients[: min(n, cfg["senders"])]
        idle_p50 = await probe(stats, senders[0], n)
        log(f"  {target.name} n={n}: one message at a time, p50 {idle_p50 * 1e3:.1f} ms")
        steps, best, capped = await ramp(target, stats, senders, n, idle_p50, cfg)
        await quiet(stats, 1.0, limit=60)
        max_rate = best.rate if best else steps[0].rate / 2
        peak = max(steps, key=lambda r: r.deliveries_per_second)
        profiler = target.profile(f"room{n}-half", cfg["duration"])
        half = await run_rate(target, stats, senders, n, max_rate / 2, cfg["duration"], cfg["grace"] + 2)
        if profiler:
            profiler.wait(timeout=60)
        return {
            "n": n,
            "idle_p50": idle_p50,
            "connect_s": connect,
            "max_rate": max_rate,
            "max_deliveries": best.deliveries_per_second if best else 0.0,
            "max_cpu": best.cpu if best else {},
            "peak_deliveries": peak.deliveries_per_second,
            "capped": capped,
            "half": half,
            "stale": stats.stale,
            "errors": dict(stats.errors),
        }
    finally:
        await close_all(clients)
        await asyncio.sleep(1)


async def dm_scenario(target: Target, pairs: int, burst: int, cfg: dict) -> dict:
    stats = Stats()
    await target.prepare()
    clients = [target.client(i, f"dm{i // 2}", stats) for i in range(2 * pairs)]
    connect = await open_all(clients)
    log(f"{target.name}: {pairs} DM pairs connected in {connect:.1f} s")
    try:
        await quiet(stats, 1.0)
        phase = stats.new_phase(peers=True)
        errors_before = Counter(stats.errors)
        cpu0 = target.cpu_seconds()
        account = CpuAccount(target.servers)
        profiler = target.profile("dm-burst", cfg["dm_profile_s"])
        t0 = phase.first_send = time.perf_counter()

        async def burst_of(client: Client):
            for seq in range(burst):
                client.send(client.frame(phase.id, seq))
                phase.sent += 1

        await asyncio.gather(*(burst_of(c) for c in clients))
        sent_s = time.perf_counter() - t0
        expected = 2 * pairs * burst
        started = time.perf_counter()
        deadline, last_progress, seen = started + cfg["dm_limit"], started, -1
        while time.perf_counter() < deadline:
            done = phase.peer_delivered >= expected and (not target.parley or phase.acks >= expected)
            progress = phase.peer_delivered + phase.acks
            if progress != seen:
                seen, last_progress = progress, time.perf_counter()
            if done or time.perf_counter() - last_progress > cfg["dm_stall"]:
                break
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - t0
        server_cpu = (target.cpu_seconds() - cpu0) / wall
        cpu = account.shares()
        if profiler:
            profiler.wait(timeout=60)
        stored = None
        if target.parley:
            stored = int(psql(f"SELECT count(*) FROM chat_message WHERE body LIKE 'B|{phase.id}|%'", db=DB_NAME))
        delivered_s = (phase.last_delivery - t0) if phase.last_delivery else float("nan")
        acked_s = (phase.last_ack - t0) if phase.last_ack else float("nan")
        errors = stats.errors - errors_before
        result = {
            "pairs": pairs,
            "burst": burst,
            "sent": phase.sent,
            "send_s": sent_s,
            "acked": phase.acks,
            "stored": stored,
            "delivered": len(phase.peer_keys),
            "peer_copies": phase.peer_delivered,
            "self_copies": phase.delivered - phase.peer_delivered,
            "lost": phase.sent - len(phase.peer_keys),
            "persisted_per_s": (stored / acked_s) if stored is not None and phase.last_ack else None,
            "delivered_per_s": len(phase.peer_keys) / delivered_s if phase.last_delivery else 0.0,
            "p50": percentile(phase.peer_latencies, 50),
            "p99": percentile(phase.peer_latencies, 99),
            "ack_p99": percentile(phase.ack_latencies, 99),
            "errors": dict(errors),
            "server_cpu": server_cpu,
            "cpu": cpu,
            "connect_s": connect,
        }
        log(f"{target.name} DM: {result}")
        return result
    finally:
        await close_all(clients)
        await asyncio.sleep(1)


async def idle_scenario(target: Target, count: int, settle: float) -> dict:
    stats = Stats()
    await target.prepare()
    warm = [target.client(i, f"idle{i}", stats) for i in range(min(20, count))]
    await open_all(warm)
    await close_all(warm)
    await asyncio.sleep(min(2.0, settle))
    before = target.server.rss_kb()
    clients = [target.client(i, f"idle{i}", stats) for i in range(count)]
    connect = await open_all(clients)
    await asyncio.sleep(settle)
    after = target.server.rss_kb()
    await close_all(clients)
    per = (after - before) / count
    log(f"{target.name}: {count} idle sockets: RSS {before / 1024:.1f} -> {after / 1024:.1f} MB = {per:.1f} KB each")
    await asyncio.sleep(1)
    return {"count": count, "before_kb": before, "after_kb": after, "per_kb": per, "connect_s": connect}


async def connect_scenario(target: Target, count: int) -> dict:
    """Connections per second: `count` sockets opened CONNECT_CONCURRENCY at a time into a warm server."""
    stats = Stats()
    await target.prepare()
    warm = [target.client(i, f"idle{i}", stats) for i in range(min(20, count))]
    await open_all(warm)
    await close_all(warm)
    clients = [target.client(i, f"idle{i}", stats) for i in range(count)]
    seconds = await open_all(clients)
    await close_all(clients)
    log(f"{target.name}: {count} sockets over {len(target.servers)} process(es) in {seconds:.2f} s")
    await asyncio.sleep(1)
    return {"count": count, "connect_s": seconds, "per_s": count / seconds}


async def run_target(target: Target, cfg: dict) -> dict:
    results = {"rss_start_kb": target.server.rss_kb()}
    results["idle"] = await idle_scenario(target, cfg["idle"], cfg["settle"])
    results["rooms"] = [await room_scenario(target, n, cfg) for n in cfg["sizes"]]
    results["dm"] = await dm_scenario(target, cfg["pairs"], cfg["burst"], cfg)
    results["rss_end_kb"] = target.server.rss_kb()
    return results


async def run_scaling(target: Target, cfg: dict) -> dict:
    """The same scenarios on several processes: the biggest room, the DM burst, and connecting."""
    return {
        "processes": len(target.servers),
        "connect": await connect_scenario(target, cfg["idle"]),
        "room": await room_scenario(target, max(cfg["sizes"]), cfg),
        "dm": await dm_scenario(target, cfg["pairs"], cfg["burst"], cfg),
    }


# Report

SCALING_TARGET = 1.5  # two processes against one, on this 2-core machine


def rows(parley: dict, reference: dict | None) -> list[Row]:
    ref = reference or {}
    out: list[Row] = []

    def row(scenario, metric, p, r, spec=",.0f", target="", met=None):
        out.append(Row(scenario, metric, p, r if reference else None, spec, target, met))

    for i, room in enumerate(parley["rooms"]):
        n = room["n"]
        rr = ref["rooms"][i] if ref else {}
        h, rh = room["half"], rr.get("half")
        cap = " (sender cap)" if room["capped"] else ""
        label = f"(a) room {n}"
        row(label, "connect all members, s", room["connect_s"], rr.get("connect_s"), ".1f")
        row(label, "one message at a time, p50 ms", room["idle_p50"] * 1e3, rr.get("idle_p50", 0) * 1e3, ".1f")
        row(label, f"max sustained rate, msg/s{cap}", room["max_rate"], rr.get("max_rate"), ",.1f")
        big = n >= 1000
        row(
            label, "max sustained deliveries/s", room["max_deliveries"], rr.get("max_deliveries"),
            target=">= 10,000" if big else "", met=room["max_deliveries"] >= 10_000 if big else None,
        )  # fmt: skip
        row(label, "peak deliveries/s (any step)", room["peak_deliveries"], rr.get("peak_deliveries"))
        row(label, "half rate, msg/s", h.rate, rh.rate if rh else None, ",.1f")
        row(label, "  delivered / expected", h.delivered, rh.delivered if rh else None)
        row(label, "  p50 ms", h.p50 * 1e3, rh.p50 * 1e3 if rh else None, ".1f")
        row(label, "  p95 ms", h.p95 * 1e3, rh.p95 * 1e3 if rh else None, ".1f")
        limit = 250 if big else 20 if n <= 100 else None
        row(
            label, "  p99 ms", h.p99 * 1e3, rh.p99 * 1e3 if rh else None, ".1f",
            target=f"< {limit}" if limit else "", met=h.p99 * 1e3 < limit if limit else None,
        )  # fmt: skip
        row(label, "  server CPU % at half rate", h.server_cpu * 100, rh.server_cpu * 100 if rh else None)
    dm, rdm = parley["dm"], ref.get("dm", {})
    label = f"(b) {dm['pairs']} DM pairs x{dm['burst']}"
    row(label, "sent", dm["sent"], rdm.get("sent"))
    row(label, "acked", dm["acked"], None)
    row(label, "stored (rows)", dm["stored"], None)
    row(label, "delivered to peer", dm["delivered"], rdm.get("delivered"))
    lost_ok = dm["lost"] == 0 and dm["stored"] == dm["sent"] and dm["acked"] == dm["sent"]
    row(label, "lost (sent - delivered)", dm["lost"], rdm.get("lost"), target="0", met=lost_ok)
    persisted = dm["persisted_per_s"] or 0
    row(label, "persisted msg/s", dm["persisted_per_s"], None, target=">= 800", met=persisted >= 800)
    delivered = dm["delivered_per_s"]
    row(label, "delivered msg/s", delivered, rdm.get("delivered_per_s"), target=">= 800", met=delivered >= 800)
    row(label, "delivery p50 ms", dm["p50"] * 1e3, rdm.get("p50", 0) * 1e3)
    row(label, "delivery p99 ms", dm["p99"] * 1e3, rdm.get("p99", 0) * 1e3)
    row(label, "errors", sum(dm["errors"].values()), sum(rdm.get("errors", {}).values()))
    idle, ridle = parley["idle"], ref.get("idle", {})
    label = f"(c) {idle['count']} idle sockets"
    row(label, "server RSS before, MB", idle["before_kb"] / 1024, ridle.get("before_kb", 0) / 1024 or None, ".1f")
    row(label, "server RSS after, MB", idle["after_kb"] / 1024, ridle.get("after_kb", 0) / 1024 or None, ".1f")
    ok = idle["per_kb"] <= 40
    row(label, "KB per idle connection", idle["per_kb"], ridle.get("per_kb"), ".1f", "<= 40", ok)
    label = f"(d) connect {idle['count']} sockets"
    ref_rate = ridle["count"] / ridle["connect_s"] if ridle else None
    row(label, f"connections/s, 1 daphne, {CONNECT_CONCURRENCY} at a time", idle["count"] / idle["connect_s"], ref_rate)
    if "scaling" in parley:
        out += scaling_rows(parley, reference)
    return out


def scaling_rows(parley: dict, reference: dict | None) -> list[Row]:
    """Two processes against one: the room fan-out, the DM burst, connecting."""
    out: list[Row] = []
    scaled, ref_scaled = parley["scaling"], (reference or {}).get("scaling")

    def pick(results: dict | None, path) -> float | None:
        return path(results) if results and "scaling" in results else None

    def row(scenario, metric, value, spec=",.0f", target="", met=None):
        out.append(Row(scenario, metric, pick(parley, value), pick(reference, value), spec, target, met))

    def factor(scenario, metric, value, *, targeted=True):
        def of(results):
            one = value(results, single=True)
            return value(results, single=False) / one if one else None

        p = of(parley)
        r = of(reference) if ref_scaled else None
        target = f">= {SCALING_TARGET}" if targeted else ""
        met = (p is not None and p >= SCALING_TARGET) if targeted else None
        out.append(Row(scenario, metric, p, r, ".2f", target, met))

    k, n = scaled["processes"], scaled["room"]["n"]

    def room_of(results, single):
        rooms = {room["n"]: room for room in results["rooms"]}
        return (rooms[n] if single else results["scaling"]["room"])["max_deliveries"]

    def dm_of(results, single):
        return (results["dm"] if single else results["scaling"]["dm"])["delivered_per_s"]

    def connect_of(results, single):
        if single:
            return results["idle"]["count"] / results["idle"]["connect_s"]
        return results["scaling"]["connect"]["per_s"]

    label = f"(e) room {n}, {k} daphne"
    capped = " (sender cap)" if scaled["room"]["capped"] else ""
    row(label, f"max sustained deliveries/s{capped}", lambda r: r["scaling"]["room"]["max_deliveries"])
    row(label, "  p99 ms at half rate", lambda r: r["scaling"]["room"]["half"].p99 * 1e3, ".1f")
    row(label, "  server CPU % at half rate (all processes)", lambda r: r["scaling"]["room"]["half"].server_cpu * 100)
    factor(label, f"deliveries/s, {k} processes / 1", room_of)
    dm = scaled["dm"]
    label = f"(e) {dm['pairs']} DM pairs x{dm['burst']}, {k} daphne"
    row(label, "delivered msg/s", lambda r: r["scaling"]["dm"]["delivered_per_s"])
    out.append(Row(label, "persisted msg/s", dm["persisted_per_s"]))
    out.append(Row(label, "lost (sent - delivered)", dm["lost"], target="0", met=dm["lost"] == 0))
    factor(label, f"delivered msg/s, {k} processes / 1", dm_of)
    label = f"(e) connect {scaled['connect']['count']} sockets, {k} daphne"
    row(label, "connections/s", lambda r: r["scaling"]["connect"]["per_s"])
    factor(label, f"connections/s, {k} processes / 1", connect_of, targeted=False)
    return out + cpu_rows(parley, reference)


def cpu_rows(parley: dict, reference: dict | None) -> list[Row]:
    """Where the CPU went, per process, with one daphne and with several: is the machine full, or is something serial?

    The room's figures are those of its ramp step at the max sustained rate; the DM burst's from its
    first send to its last delivery and ack. The reference's DM burst is left out: it loses copies,
    so its wall time ends with the wait for deliveries that never come.
    """
    out: list[Row] = []
    k, n = parley["scaling"]["processes"], parley["scaling"]["room"]["n"]
    dm = parley["scaling"]["dm"]

    def room_cpu(results, single):
        rooms = {room["n"]: room for room in results["rooms"]}
        return (rooms[n] if single else results["scaling"]["room"])["max_cpu"]

    def dm_cpu(results, single):
        return (results["dm"] if single else results["scaling"]["dm"])["cpu"]

    phases = (
        (f"(e) room {n}, CPU % at max sustained", room_cpu, True),
        (f"(e) {dm['pairs']} DM pairs x{dm['burst']}, CPU % in the burst", dm_cpu, False),
    )
    for label, cpu_of, with_reference in phases:
        for single in (True, False):
            shares = cpu_of(parley, single)
            theirs = cpu_of(reference, single) if with_reference and reference and "scaling" in reference else {}
            where = f"{label}, {1 if single else k} daphne"
            out += [Row(where, name, value, theirs.get(name)) for name, value in shares.items()]
    return out


def report(parley: dict, reference: dict | None, command: str, cfg: dict) -> str:
    lines = [table(rows(parley, reference)), "", f"command: {command}"]
    lines.append(f"parley daphne: {' '.join(parley['command'])} (env: bench/ws_fanout.py parley_env())")
    if reference:
        lines.append(f"reference daphne: {' '.join(reference['command'])}")
    lines.append(f"config: {cfg}")
    return "\n".join(lines)


# Main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes, about 3 minutes")
    mode.add_argument("--smoke", action="store_true", help="tiny: proves it still runs (CI)")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], help="room sizes, e.g. 10,100,1000")
    parser.add_argument("--pairs", type=int, help="DM pairs (2 senders each)")
    parser.add_argument("--burst", type=int, help="messages per DM sender (at most 10: flood guard)")
    parser.add_argument("--idle", type=int, help="idle connections for the memory figure")
    parser.add_argument("--duration", type=float, help="seconds of the half-rate run")
    parser.add_argument("--step", type=float, help="seconds per ramp step")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference peer")
    parser.add_argument("--no-parley", action="store_true", help="only the reference peer (experiments)")
    parser.add_argument("--profile", type=Path, help="directory for py-spy raw profiles of the Parley daphne")
    parser.add_argument("--processes", type=int, help="daphne processes of the scaling scenario (e); 1: skip it")
    args = parser.parse_args()

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    cfg = dict(PROFILES[mode], processes=2, settle=SETTLE[mode])
    for key in ("sizes", "pairs", "burst", "idle", "duration", "step", "processes"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    # The quick ramp starts one step higher: a room of 100 sustains 2,000 deliveries/s on any run seen.
    cfg.update(start_deliveries=2000 if args.quick else 1000, factor=1.6, ramp_budget=60.0 if not args.smoke else 5.0)
    cfg.update(bisect=BISECT[mode])
    cfg.update(dm_limit=150.0 if not args.smoke else 30.0, dm_profile_s=10 if not args.smoke else 2)
    # The reference loses copies: the burst ends when none arrived for this long.
    cfg.update(dm_stall=10.0 if not (args.smoke or args.quick) else 3.0)
    command = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)

    # SIGTERM (and SIGINT, which a background shell ignores) unwind through the finally that stops daphne.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    users = max(max(cfg["sizes"]), 2 * cfg["pairs"], cfg["idle"])
    started = time.monotonic()
    wsclient.run(clear_redis([PREFIX, REF_PREFIX]))
    fixture = build_fixture(users, cfg["sizes"], cfg["pairs"])
    peers = []
    if not args.no_parley:
        peers.append(("parley", "config.asgi:application", parley_env(), True))
    if not args.no_reference:
        peers.append(("reference", "bench.reference.asgi:application", reference_env(), False))
    results = {}
    try:
        for name, app, env, parley in peers:
            profile = args.profile if parley else None
            # The smoke run proves the multi-process path once (Parley's): the reference's is the same code.
            # The quick run leaves out the reference's too (a quarter of its time): its scaling is context.
            scaling = cfg["processes"] > 1 and (parley or not (args.smoke or args.quick))
            # Every process started once: the one-process scenarios use the first, while the others
            # sit idle (a process subscribes to no group until a socket of its own joins one).
            with serving(name, app, env, cfg["processes"] if scaling else 1) as servers:
                results[name] = wsclient.run(run_target(Target(name, servers[:1], fixture, parley, profile), cfg))
                results[name]["command"] = servers[0].command
                if scaling:
                    results[name]["scaling"] = wsclient.run(run_scaling(Target(name, servers, fixture, parley), cfg))
    finally:
        wsclient.run(clear_redis([PREFIX, REF_PREFIX]))
    print()
    # --no-parley: the reference in the Parley column
    parley, reference = results.get("parley") or results.get("reference"), results.get("reference")
    if parley is reference:
        reference = None
    print(report(parley, reference, command, cfg))
    record(rows(parley, reference))
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    return 0


@contextlib.contextmanager
def serving(name: str, app: str, env: dict, count: int):
    """`count` daphne processes of one application (ports of their own), stopped on the way out."""
    servers: list[Server] = []
    try:
        # Started together, then waited for: each takes seconds to import Django, and there are two cores.
        ports: set[int] = set()
        while len(ports) < count:  # a port is free until its daphne binds it: none may come twice
            ports.add(free_port())
        for number, port in enumerate(sorted(ports)):
            servers.append(Server(f"{name}{number}", app, env, port, wait=False))
        for number, server in enumerate(servers):
            server.wait_listening()
            log(f"{name} daphne {number + 1}/{count}: pid {server.pid} on {server.port}")
        yield servers
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
