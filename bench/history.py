"""History, rooms-list (and search) latency at the endpoint, on a room of a million messages.

    .venv/bin/python bench/history.py            # full run: 1,000,000 messages, a reader in 500 rooms
    .venv/bin/python bench/history.py --smoke    # 5,000 messages, 20 rooms, few repetitions (CI, < 30 s)
    .venv/bin/python bench/history.py --only rooms,search   # some of the scenarios below

Everything runs in this process against real PostgreSQL on 127.0.0.1 (database
parley_bench_history, or parley_bench_history_smoke; created and migrated when absent, filled
once and reused: a rerun skips the fill) and Redis db 13 under its own prefix. Requests go
through the whole Django stack (middleware, JWT authentication, DRF, serializers) with
django.test.Client and DEBUG=False; each figure is the p50/p99 of many timed requests after a
warm-up, so the numbers are server time without the network.

Scenarios:
  history   GET /api/rooms/<id>/messages/ at the newest page, the middle and the oldest, by cursor
            (the product), and side by side by LIMIT/OFFSET through the same serializer (a view
            that exists only in this file) to show what a cursor saves at depth.
  rooms     GET /api/rooms/ for a person in 500 rooms (half direct, half group, each with messages).
  search    GET /api/search/?q=&room= over the big room, when the product has that endpoint.
"""

import argparse
import gc
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, Row, log, migrated, parley_environment, percentile, psql, record, remake_database  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
PREFIX = "parleybenchhistory"
BIG_ROOM = "bench: a million messages"
AUTHORS = 5
PAGE = 50
WORDS = ("apple", "bicycle", "coffee", "dragon", "eclipse", "falcon", "garden", "harbour")
# Each of the 8 words is in about a quarter of the bodies: a common word, two of them, a rare hit, nothing.
SEARCHES = ("coffee", "dragon harbour", "eclipse 4242", "nothingmatchesthis")

PROFILES = {
    "full": dict(messages=1_000_000, rooms=500, reps=300, warmup=30, db="parley_bench_history"),
    "smoke": dict(messages=5_000, rooms=20, reps=15, warmup=3, db="parley_bench_history_smoke"),
}
TARGETS = {"history": (15.0, 40.0), "rooms": (50.0, None), "search": (100.0, None)}  # p50, p99 in ms


def configure(db: str) -> None:
    """The environment config.settings reads, set before Django starts."""
    sys.path.insert(0, str(ROOT))
    settings = "bench.parley_settings"
    os.environ.update(
        parley_environment(db=db, redis_url=REDIS_URL, prefix=PREFIX, settings=settings, allowed_hosts="testserver"),
        JWT_ACCESS_MINUTES="600",
    )


# Data: one big room by INSERT ... SELECT generate_series, and a reader of many rooms


def ensure_database(db: str) -> None:
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'"):
        psql(f"CREATE DATABASE {db}")


def filled(messages: int, rooms: int) -> bool:
    from accounts.models import User
    from rooms.models import Membership, Room

    big = Room.objects.filter(title=BIG_ROOM, last_seq=messages).exists()
    reader = User.objects.filter(handle="reader").first()
    return big and reader is not None and Membership.objects.filter(user=reader).count() == rooms


def fill(*, db: str, messages: int, rooms: int) -> None:
    """Start from an empty database (a half-finished fill is dropped) and fill it."""
    from django.db import connection

    remake_database(db)
    started = time.monotonic()
    authors = make_users([f"author{number}" for number in range(AUTHORS)])
    big_room = fill_big_room(authors=authors, messages=messages)
    log(f"filled {big_room.title!r}: {messages:,} messages in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    fill_reader(rooms=rooms)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"filled a reader of {rooms} rooms in {time.monotonic() - started:.1f} s")


def make_users(handles: list[str]):
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import User

    password = make_password("bench")  # hashed once: the bench never logs in with it
    now = timezone.now()
    users = [
        User(
            handle=handle,
            email=f"{handle}@bench.invalid",
            display_name=handle.title(),
            password=password,
            email_verified_at=now,
        )
        for handle in handles
    ]
    return User.objects.bulk_create(users)


def fill_big_room(*, authors, messages: int):
    from django.db import connection
    from django.utils import timezone

    from chat.models import Message, Reaction
    from rooms.models import Membership, Room

    room = Room.objects.create(kind=Room.Kind.GROUP, title=BIG_ROOM, creator=authors[0])
    Membership.objects.bulk_create(
        [
            Membership(room=room, user=user, role="owner" if not number else "member")
            for number, user in enumerate(authors)
        ]
    )
    author_ids = [user.pk for user in authors]
    words = "ARRAY[" + ",".join(f"'{word}'" for word in WORDS) + "]"
    table, reactions = Message._meta.db_table, Reaction._meta.db_table
    with connection.cursor() as cursor:
        # Bodies name a word and the seq, so that searches have something to find; one in 50 is
        # deleted (a tombstone), one in 10 replies to the message three before it, one in 7 has
        # reactions from two or three authors.
        cursor.execute(
            f"""
            INSERT INTO {table} (room_id, author_id, seq, body, client_id, created_at, deleted_at)
            SELECT %s, (%s::bigint[])[1 + s %% %s], s,
                   CASE WHEN s %% 50 = 0 THEN ''
                        ELSE 'message ' || s || ' about the ' || ({words})[1 + s %% {len(WORDS)}]
                             || ' and the ' || ({words})[1 + (s / 7) %% {len(WORDS)}] END,
                   gen_random_uuid(), now() - make_interval(secs => %s - s),
                   CASE WHEN s %% 50 = 0 THEN now() END
            FROM generate_series(1, %s) AS s
            """,
            [room.pk, author_ids, len(author_ids), messages, messages],
        )
        cursor.execute(
            f"""
            UPDATE {table} AS reply SET reply_to_id = target.id
            FROM {table} AS target
            WHERE reply.room_id = %s AND target.room_id = %s AND reply.seq %% 10 = 0 AND target.seq = reply.seq - 3
            """,
            [room.pk, room.pk],
        )
        cursor.execute(
            f"""
            INSERT INTO {reactions} (message_id, user_id, emoji, created_at)
            SELECT m.id, author.id, emoji.e, now()
            FROM {table} AS m
            CROSS JOIN unnest(%s::bigint[]) WITH ORDINALITY AS author(id, n)
            CROSS JOIN (VALUES ('👍'), ('🎉')) AS emoji(e)
            WHERE m.room_id = %s AND m.seq %% 7 = 0 AND m.deleted_at IS NULL AND author.n <= 2 + m.seq %% 2
              AND (emoji.e = '👍' OR author.n = 1)
            """,
            [author_ids, room.pk],
        )
    Room.objects.filter(pk=room.pk).update(last_seq=messages, last_message_at=timezone.now())
    return room


def fill_reader(*, rooms: int) -> None:
    """A reader in `rooms` rooms, half direct (each with its own peer) and half group, 3 messages each."""
    from django.db import connection
    from django.utils import timezone

    from chat.models import Message
    from rooms.models import Membership, Room

    reader, *peers = make_users(["reader"] + [f"peer{number}" for number in range(rooms // 2)])
    now = timezone.now()
    made = Room.objects.bulk_create(
        [
            Room(
                kind=Room.Kind.DIRECT,
                direct_key=Room.direct_key_for(reader.pk, peer.pk),
                creator=reader,
                last_seq=3,
                last_message_at=now,
            )
            for peer in peers
        ]
        + [
            Room(kind=Room.Kind.GROUP, title=f"group {number}", creator=reader, last_seq=3, last_message_at=now)
            for number in range(rooms - len(peers))
        ]
    )
    memberships = [Membership(room=room, user=reader, role="owner") for room in made]
    memberships += [Membership(room=room, user=peer) for room, peer in zip(made, peers, strict=False)]
    Membership.objects.bulk_create(memberships)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Message._meta.db_table} (room_id, author_id, seq, body, client_id, created_at)
            SELECT room.id, %s, s, 'message ' || s || ' in room ' || room.id, gen_random_uuid(),
                   now() - make_interval(secs => 3 - s)
            FROM unnest(%s::bigint[]) AS room(id) CROSS JOIN generate_series(1, 3) AS s
            """,
            [reader.pk, [room.pk for room in made]],
        )


# The offset-paginated twin of the history view: only here, to compare with the cursor


def offset_view():
    from rest_framework.response import Response

    from chat.api import HistoryMessageSerializer
    from chat.selectors import messages_for_lists
    from rooms.api import RoomScopedView
    from rooms.selectors import membership_access

    class OffsetMessagesView(RoomScopedView):
        def get(self, request, room_id: int):
            membership_access(user=request.user, room_id=room_id)
            offset = int(request.query_params.get("offset", 0))
            page = list(messages_for_lists().filter(room_id=room_id).order_by("-seq")[offset : offset + PAGE])
            page.reverse()
            results = HistoryMessageSerializer(page, many=True, context={"viewer": request.user}).data
            return Response({"results": results, "next": None, "previous": None})

    return OffsetMessagesView.as_view()


urlpatterns: list = []  # this module is the URLconf: the product's routes plus the offset view


def install_urls() -> None:
    from django.conf import settings
    from django.urls import include, path

    urlpatterns[:] = [
        path("bench/rooms/<int:room_id>/offset-messages/", offset_view()),
        path("", include(settings.ROOT_URLCONF)),
    ]
    settings.ROOT_URLCONF = __name__


# Measuring


def client_for(user):
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    return Client(headers={"authorization": f"Bearer {RefreshToken.for_user(user).access_token}"})


def timed(client, urls: dict[str, str], *, reps: int, warmup: int) -> dict[str, dict]:
    """p50/p99 in ms of each url, requested in turn (round robin), so that whatever else the machine is
    doing at some moment weighs on every url alike instead of on whichever was being measured."""
    for _ in range(warmup):
        for url in urls.values():
            check(client.get(url), url)
    samples: dict[str, list[float]] = {label: [] for label in urls}
    for _ in range(reps):
        for label, url in urls.items():
            started = time.perf_counter()
            response = client.get(url)
            samples[label].append((time.perf_counter() - started) * 1000)
            check(response, url)
    return {
        label: {"p50": percentile(values, 50), "p99": percentile(values, 99), "n": reps}
        for label, values in samples.items()
    }


def check(response, url: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")


def search_built() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/search/")
    except Resolver404:
        return False
    return True


SCENARIOS = ("history", "rooms", "search")


def measure(*, messages: int, reps: int, warmup: int, only: tuple[str, ...] = SCENARIOS) -> list[tuple]:
    from accounts.models import User
    from rooms.models import Room

    room = Room.objects.get(title=BIG_ROOM)
    author = User.objects.get(handle="author1")
    client = client_for(author)
    rows = []
    if "history" in only:
        rows += measure_history(client, room=room, messages=messages, reps=reps, warmup=warmup)
    if "rooms" in only:
        reader = User.objects.get(handle="reader")
        count = reader.memberships.count()
        log(f"rooms list of a reader in {count} rooms")
        figures = timed(client_for(reader), {"rooms": "/api/rooms/"}, reps=reps, warmup=warmup)["rooms"]
        rows.append(("rooms list", f"{count} rooms", figures, "rooms"))
    if "search" in only:
        rows += measure_search(client, room=room, reps=reps)
    return rows


def measure_history(client, *, room, messages: int, reps: int, warmup: int) -> list[tuple]:
    from chat.models import Message
    from chat.pagination import cursor_encode

    rows = []
    depths = {"newest": messages + 1, "middle": messages // 2, "oldest": PAGE + 1}
    cursor_urls = {
        depth: f"/api/rooms/{room.pk}/messages/"
        + ("" if depth == "newest" else f"?cursor={cursor_encode(direction='b', seq=before)}")
        for depth, before in depths.items()
    }
    # Jumping to a message (a search hit) in the middle: the page around it.
    middle_id = Message.objects.filter(room=room, seq=messages // 2).values_list("pk", flat=True).get()
    cursor_urls["around middle"] = f"/api/rooms/{room.pk}/messages/?around={middle_id}"
    log(f"history by cursor: {', '.join(cursor_urls.values())}")
    for depth, figures in timed(client, cursor_urls, reps=reps, warmup=warmup).items():
        rows.append(("history, cursor", depth, figures, "history"))
    offset_urls = {
        depth: f"/bench/rooms/{room.pk}/offset-messages/?offset={messages + 1 - before}"
        for depth, before in depths.items()
    }
    log(f"history by offset: {', '.join(offset_urls.values())}")
    # An offset page deep in a million rows takes seconds: fewer repetitions, so p99 is near the max.
    for depth, figures in timed(client, offset_urls, reps=max(5, reps // 15), warmup=2).items():
        rows.append(("history, offset", depth, figures, None))
    return rows


def measure_search(client, *, room, reps: int) -> list[tuple]:
    """GET /api/search/?q=&room= (chat/search.py) over the big room, once the product has it."""
    rows = []
    if search_built():
        search_urls = {repr(query): f"/api/search/?q={query.replace(' ', '+')}&room={room.pk}" for query in SEARCHES}
        log(f"search: {', '.join(search_urls.values())}")
        for query, figures in timed(client, search_urls, reps=max(5, reps // 5), warmup=2).items():
            rows.append(("search", query, figures, "search"))
    else:
        rows.append(("search", "not built yet", None, None))
    return rows


def report(rows: list[tuple], command: str) -> str:
    lines = [
        f"{'scenario':<18} {'where':<20} {'p50 ms':>8} {'p99 ms':>8} {'n':>5}  target",
        "-" * 82,
    ]
    for scenario, where, figures, target_key in rows:
        if figures is None:
            lines.append(f"{scenario:<18} {where}")
            continue
        target = ""
        if target_key:
            p50_max, p99_max = TARGETS[target_key]
            met = figures["p50"] < p50_max and (p99_max is None or figures["p99"] < p99_max)
            target = (
                f"p50 < {p50_max:g}" + (f", p99 < {p99_max:g}" if p99_max else "") + ("  ok" if met else "  MISSED")
            )
        lines.append(
            f"{scenario:<18} {where:<20} {figures['p50']:>8.2f} {figures['p99']:>8.2f} {figures['n']:>5}  {target}"
        )
    lines.append("")
    lines.append("Cursor time must not grow with depth; offset time does (PostgreSQL walks past every skipped row).")
    lines.append(f"command: {command}")
    lines.append(
        f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end"
    )
    return "\n".join(lines)


def table_rows(rows: list[tuple], *, messages: int) -> list[Row]:
    """The rows of `python -m bench`'s table: p50 and p99 of each figure, with their targets."""
    out = []
    for scenario, where, figures, target_key in rows:
        if figures is None:
            continue
        label = f"(g) {scenario}" + (f", {messages:,} messages" if scenario.startswith("history") else "")
        p50_max, p99_max = TARGETS[target_key] if target_key else (None, None)
        for name, limit in (("p50", p50_max), ("p99", p99_max)):
            target, met = (f"< {limit:g}", figures[name] < limit) if limit else ("", None)
            out.append(Row(label, f"{where}, {name} ms", figures[name], spec=",.1f", target=target, met=met))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, under 30 s (CI)")
    parser.add_argument("--messages", type=int, help="messages in the big room")
    parser.add_argument("--rooms", type=int, help="rooms of the rooms-list reader")
    parser.add_argument("--reps", type=int, help="timed requests per figure")
    parser.add_argument("--refill", action="store_true", help="drop the database and fill it again")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios (default: all)")
    args = parser.parse_args()
    cfg = dict(PROFILES["smoke" if args.smoke else "full"])
    for key in ("messages", "rooms", "reps"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    command = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)
    started = time.monotonic()

    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic: pages are not measured
    configure(cfg["db"])
    ensure_database(cfg["db"])
    import django

    django.setup()

    if not migrated(cfg["db"]) or args.refill or not filled(cfg["messages"], cfg["rooms"]):
        fill(db=cfg["db"], messages=cfg["messages"], rooms=cfg["rooms"])
    else:
        log(f"{cfg['db']} is filled already ({cfg['messages']:,} messages, {cfg['rooms']} rooms): no refill")
    install_urls()
    # As config/asgi.py does in every server process: what is loaded by now is never scanned again.
    gc.freeze()
    only = tuple(name for name in args.only.split(",") if name)
    if not only or set(only) - set(SCENARIOS):
        parser.error(f"--only takes names among {', '.join(SCENARIOS)}")
    rows = measure(messages=cfg["messages"], reps=cfg["reps"], warmup=cfg["warmup"], only=only)
    print()
    print(report(rows, command))
    record(table_rows(rows, messages=cfg["messages"]))
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
