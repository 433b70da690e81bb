"""Moderation lists in Django admin on a large message table: what a moderator waits for.

    .venv/bin/python bench/admin_lists.py            # full run: 1,000,000 messages
    .venv/bin/python bench/admin_lists.py --quick    # 100,000 messages
    .venv/bin/python bench/admin_lists.py --smoke    # 20,000 messages (CI, seconds)

IN-PROCESS, through the whole Django stack with django.test.Client signed in as a superuser and
DEBUG=False, one request at a time, against real PostgreSQL on 127.0.0.1 (database
parley_bench_admin, dropped and made again each run; the messages are inserted with one
generate_series statement, then ANALYZEd). Each figure is the p50/p99 of the timed requests after
a warm-up: server time of the whole page.

  messages        the message list, unfiltered (counted from statistics: accounts.admin_moderation),
                  and the same page counted with COUNT(*) as Django does by default, for comparison;
                  a search (the GIN-indexed search vector); a room's messages; an author's messages.
  people, reports the user list (2,000 people) and the open reports queue (2,000 reports).
"""

import argparse
import shlex
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HOST, drop_database, fresh_database, log, parley_environment, report_latencies  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"
PREFIX = "parleybenchadmin"
DB = "parley_bench_admin"
PEOPLE, ROOMS, REPORTS = 2000, 1000, 2000
PROFILES = {
    "full": dict(messages=1_000_000, reps=20, warmup=3),
    "quick": dict(messages=100_000, reps=8, warmup=2),
    "smoke": dict(messages=20_000, reps=3, warmup=1),
}
# Bodies of a few words from a vocabulary of 1,000, so that a word matches one message in a thousand.
FILL_SQL = """
INSERT INTO chat_message (room_id, author_id, seq, body, client_id, created_at)
SELECT rooms[1 + n %% cardinality(rooms)], people[1 + (n * 7) %% cardinality(people)], n,
       'word' || (n %% 1000) || ' about chat number ' || n, gen_random_uuid(), now() - (n || ' seconds')::interval
FROM generate_series(1, %s) AS n,
     (SELECT array_agg(id) AS rooms FROM rooms_room) AS r,
     (SELECT array_agg(id) AS people FROM accounts_user WHERE NOT is_staff) AS p
"""


def fill(count: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Report, User
    from rooms.models import Room

    now = timezone.now()
    people = User.objects.bulk_create(
        User(email=f"p{n}@example.com", handle=f"p{n}", display_name=f"Person {n}", email_verified_at=now)
        for n in range(PEOPLE)
    )
    Room.objects.bulk_create(Room(kind=Room.Kind.GROUP, title=f"Room {n}") for n in range(ROOMS))
    Report.objects.bulk_create(
        Report(reporter=people[n], reported=people[(n + 1) % PEOPLE], reason=Report.Reason.SPAM) for n in range(REPORTS)
    )
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL, [count])  # seq is unique per room: n is unique overall.
        cursor.execute("ANALYZE")


def timed(get, *, reps: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        get()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        get()
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(cfg: dict) -> list[tuple]:
    from django.test import Client

    from accounts.admin_moderation import EstimatingPaginator
    from accounts.models import User
    from chat.models import Message

    boss = User.objects.create_superuser("boss@example.com", "x" * 12, handle="boss")
    client = Client()
    client.force_login(boss)
    some = Message.objects.order_by("-id").values("room_id", "author__handle").first()

    def page(url: str, params: dict | None = None):
        def get():
            response = client.get(url, params or {})
            assert response.status_code == 200, response.status_code

        return get

    cases = [
        ("messages", "unfiltered (estimated count)", page("/admin/chat/message/")),
        ("messages", "search one word", page("/admin/chat/message/", {"q": "word7"})),
        ("messages", "one room", page("/admin/chat/message/", {"room": some["room_id"]})),
        ("messages", "one author", page("/admin/chat/message/", {"author": some["author__handle"]})),
        ("people", f"{PEOPLE} people, unfiltered", page("/admin/accounts/user/")),
        ("reports", f"open queue of {REPORTS}", page("/admin/accounts/report/")),
    ]
    rows = [(kind, label, timed(get, reps=cfg["reps"], warmup=cfg["warmup"])) for kind, label, get in cases]
    EstimatingPaginator.exact_below = 10**12  # Django's default behaviour: COUNT(*) of the whole table.
    exact = timed(page("/admin/chat/message/"), reps=max(3, cfg["reps"] // 4), warmup=1)
    rows.insert(1, ("messages", "unfiltered, COUNT(*) (Django's default)", exact))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="100,000 messages")
    size.add_argument("--smoke", action="store_true", help="20,000 messages, few repetitions (CI)")
    args = parser.parse_args()
    cfg = PROFILES["smoke" if args.smoke else "quick" if args.quick else "full"]
    command = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)
    warnings.filterwarnings("ignore", message="No directory at")
    import os

    os.environ.update(
        parley_environment(
            db=DB, redis_url=REDIS_URL, prefix=PREFIX, settings="config.settings", allowed_hosts=f"testserver,{HOST}"
        )
    )
    fresh_database(DB)
    import django

    django.setup()
    from django.conf import settings

    # No collectstatic here: admin pages name their files without the manifest's hashes.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}

    log(f"filling {cfg['messages']:,} messages")
    fill(cfg["messages"])
    log(f"measuring ({cfg['reps']} requests per figure)")
    rows = measure(cfg)
    drop_database(DB)
    print(f"\n{command}\n")
    report_latencies(rows, heading="list", scenario="admin list: ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
