"""What every benchmark shares: PostgreSQL on 127.0.0.1, logging, percentiles, the environment
config.settings reads for a Parley process under measurement, and the rows of the one table that
`python -m bench` prints."""

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789abcdef"


def parley_environment(*, db: str, redis_url: str, prefix: str, settings: str, allowed_hosts: str) -> dict[str, str]:
    """config.settings for production-like measurements: PostgreSQL, Redis, DEBUG off, quiet logs."""
    return dict(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=f"postgres://postgres@{HOST}:5432/{db}",
        REDIS_URL=redis_url,
        CHANNEL_PREFIX=prefix,
        CACHE_KEY_PREFIX=prefix,
        CELERY_TASK_ALWAYS_EAGER="true",
        DEBUG="False",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS=allowed_hosts,
        SECURE_SSL_REDIRECT="False",
        LOG_LEVEL="WARNING",
    )


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(
        ["psql", "-h", HOST, "-p", "5432", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def pyspy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """Record a process with py-spy (raw/collapsed stacks, every thread) for bench/pyspy_summary.py."""
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--duration",
         str(max(1, int(seconds))), "--rate", "100", "--nonblocking", "--threads", "--format", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# Results: each benchmark prints its own report, and also hands its rows to `python -m bench`
# (bench/__main__.py), which names a file in this variable and prints every benchmark's rows as one table.
RESULTS_ENV = "PARLEY_BENCH_RESULTS"


@dataclass
class Row:
    scenario: str
    metric: str
    parley: float | None
    reference: float | None = None
    spec: str = ",.0f"  # format() spec of both figures
    target: str = ""
    met: bool | None = None  # None: the row has no target


def record(rows: list[Row]) -> None:
    """Append the rows to the results file of `python -m bench`, when this benchmark runs under it."""
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a") as out:
            out.writelines(json.dumps(asdict(row)) + "\n" for row in rows)


def read_results(path: Path) -> list[Row]:
    if not path.exists():
        return []
    return [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def figure(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return format(value, spec)


def ratio(parley, reference) -> str:
    if parley is None or not reference or parley != parley or reference != reference:
        return "n/a"
    return f"{parley / reference:.2f}"


def table(rows: list[Row]) -> str:
    """A Markdown table: scenario, metric, Parley, reference, Parley ÷ reference, target, met."""
    headers = ("scenario", "metric", "Parley", "reference", "Parley/ref", "target", "met")
    cells = [
        (
            row.scenario,
            row.metric,
            figure(row.parley, row.spec),
            figure(row.reference, row.spec),
            ratio(row.parley, row.reference),
            row.target,
            "" if row.met is None else "yes" if row.met else "NO",
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [headers, *cells]) for i in range(len(headers))]

    def line(values) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def signed_in_sessions(people) -> list[str]:
    """A database session per person, made in bulk (a login each would take minutes): their cookies."""
    import datetime

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    store = SessionStore()
    expiry = timezone.now() + datetime.timedelta(days=1)
    backend = "django.contrib.auth.backends.ModelBackend"
    sessions = [
        Session(
            session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
            session_data=store.encode(
                {SESSION_KEY: str(p.pk), BACKEND_SESSION_KEY: backend, HASH_SESSION_KEY: p.get_session_auth_hash()}
            ),
            expire_date=expiry,
        )
        for p in people
    ]
    Session.objects.bulk_create(sessions, batch_size=1000)
    return [session.session_key for session in sessions]


def migrated(db: str) -> bool:
    """Migrate a kept benchmark database; False when it had to be made anew (it then needs filling).

    A database kept from another branch can hold a schema that today's migrations do not lead to
    (a migration renumbered when branches were merged): it is dropped and made again, not patched.
    """
    from django.core.management import call_command
    from django.db import DatabaseError

    try:
        call_command("migrate", verbosity=0)
        return True
    except DatabaseError as error:
        log(f"{db}: its schema does not follow today's migrations ({error}); making it anew")
    remake_database(db)
    return False


def drop_database(db: str) -> None:
    """Drop `db`, letting go of this process's connections to it first."""
    from django.db import connection

    connection.close()
    connection.close_pool()  # pooled connections would outlive the database they point at
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def remake_database(db: str) -> None:
    """`db` (this process's database) dropped, made empty and migrated."""
    from django.core.management import call_command

    drop_database(db)
    psql(f"CREATE DATABASE {db}")
    call_command("migrate", verbosity=0)


def report_latencies(rows: list[tuple[str, str, list[float]]], *, heading: str, scenario: str) -> None:
    """Print (kind, case, times) rows as a table of p50/p99, and record each p50 for the runner's table."""
    print(f"{heading:<9} {'case':<42} {'p50 ms':>8} {'p99 ms':>8} {'n':>5}")
    for kind, label, times in rows:
        print(f"{kind:<9} {label:<42} {percentile(times, 50):8.2f} {percentile(times, 99):8.2f} {len(times):5}")
    record(
        [
            Row(f"{scenario}{kind}", f"{label}, p50 ms", percentile(times, 50), spec=",.1f")
            for kind, label, times in rows
        ]
    )


def migrations_digest() -> str:
    """A short hash of every migration file, this repository's and its installed packages' (Django's
    own apps, simplejwt's token_blacklist, axes...): a template database made from other migrations,
    a dependency's upgrade included, is not reused. Read before Django is set up: every installed
    distribution's migration files, whether or not INSTALLED_APPS names it."""
    from importlib import metadata

    files = {str(path.relative_to(ROOT)): path for path in ROOT.glob("*/migrations/*.py")}
    for distribution in metadata.distributions():
        for file in distribution.files or ():
            if file.suffix == ".py" and "migrations" in file.parts[:-1]:
                files.setdefault(str(file), Path(file.locate()))
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(files[name].read_bytes())
    return digest.hexdigest()[:12]


TEMPLATE_PREFIX = "parley_bench_template_"
TEMPLATE_KEPT_SECONDS = 24 * 3600


def fresh_database(db: str) -> None:
    """Drop `db` and make it again, already migrated, as a copy of a template database.

    Migrating a new database takes seconds each time (most of a quick benchmark's set-up);
    PostgreSQL copies a migrated one in a fraction of that. The template is named after the
    migrations' digest, made once (by `manage.py migrate` in a child process, which leaves no
    connection open to it: CREATE DATABASE ... TEMPLATE needs none) and kept. Two benchmarks
    making it at once (the smoke run's lanes) each migrate a copy of their own and rename it:
    the second rename fails and its copy is dropped.
    """
    template = f"{TEMPLATE_PREFIX}{migrations_digest()}"
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{template}'"):
        make_template(template)
        drop_stale_templates()
    mark_used(template)
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(f"CREATE DATABASE {db} TEMPLATE {template}")


def mark_used(template: str) -> None:
    """The database's comment holds when a benchmark last copied it (drop_stale_templates)."""
    psql(f"COMMENT ON DATABASE {template} IS 'used {int(time.time())}'")


def drop_stale_templates() -> None:
    """Drop the templates no benchmark copied for TEMPLATE_KEPT_SECONDS: made from older migrations.

    Not every other one at once: worktrees of branches with other migrations share this server,
    each benchmarking with its own template (a dropped one is only made again, but a copy being
    started from it would fail). A template made before this rule has no comment: it is marked
    used now, and goes a day later if nobody uses it.
    """
    rows = psql(
        "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
        f"WHERE datname ~ '^{TEMPLATE_PREFIX}[0-9a-f]{{12}}$'"  # not a copy being built (_PID)
    )
    for row in filter(None, rows.splitlines()):
        name, _, comment = row.partition("|")
        if not comment.startswith("used "):
            mark_used(name)
        elif int(comment.removeprefix("used ")) < time.time() - TEMPLATE_KEPT_SECONDS:
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            log(f"template database {name} dropped: unused for a day")


def make_template(template: str) -> None:
    building = f"{template[:40]}_{os.getpid()}"
    psql(f"DROP DATABASE IF EXISTS {building} WITH (FORCE)")
    psql(f"CREATE DATABASE {building}")
    env = {
        **os.environ,
        **parley_environment(
            db=building,
            redis_url="",
            prefix="template",
            settings="config.settings",
            allowed_hosts=HOST,
        ),
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip  (no REDIS_URL: migrating touches no Redis database of anyone's)
    started = time.monotonic()
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True)
    try:
        psql(f"ALTER DATABASE {building} RENAME TO {template}")
        log(f"template database {template} migrated in {time.monotonic() - started:.1f} s")
    except subprocess.CalledProcessError:  # another benchmark made it meanwhile
        psql(f"DROP DATABASE IF EXISTS {building} WITH (FORCE)")


# Requests through the ASGI application in this process, as daphne calls it, without the network


@dataclass
class ASGIResponse:
    status_code: int
    headers: list[tuple[str, str]]  # (lower-case name, value), in the order sent
    content: bytes

    def json(self):
        return json.loads(self.content)

    def __getitem__(self, name: str) -> str:
        return [value for key, value in self.headers if key == name.lower()][-1]

    def cookies(self) -> dict[str, str]:
        from http.cookies import SimpleCookie

        jar = SimpleCookie()
        for key, value in self.headers:
            if key == "set-cookie":
                jar.load(value)
        return {name: morsel.value for name, morsel in jar.items()}


class ASGIClient:
    """Calls `config.asgi.application` (or `application`) with an HTTP scope and the request body in
    one message, and collects what it sends. The timings then include the server's own handler, which
    django.test.AsyncClient replaces with its own."""

    def __init__(self, application=None, *, host: str = "testserver", headers: dict[str, str] | None = None):
        if application is None:
            from config.asgi import application
        self.application, self.host, self.headers = application, host, headers or {}

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> ASGIResponse:
        return await self.request("GET", path, headers=headers)

    async def post(self, path: str, body: bytes = b"", *, headers: dict[str, str] | None = None) -> ASGIResponse:
        return await self.request("POST", path, body=body, headers=headers)

    async def request(self, method: str, path: str, *, body: bytes = b"", headers=None) -> ASGIResponse:
        import asyncio

        path, _, query = path.partition("?")
        sent_headers = {"host": self.host, **self.headers, **(headers or {})}
        if body:
            sent_headers.setdefault("content-length", str(len(body)))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(name.lower().encode(), value.encode("latin-1")) for name, value in sent_headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": (self.host, 80),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        never = asyncio.get_running_loop().create_future()  # the client stays: no http.disconnect

        async def receive():
            return messages.pop(0) if messages else await never

        started, chunks = {}, []

        async def send(message):
            if message["type"] == "http.response.start":
                started.update(message)
            else:
                chunks.append(message.get("body", b""))

        try:
            await self.application(scope, receive, send)
        finally:
            never.cancel()
        headers_out = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in started["headers"]]
        return ASGIResponse(started["status"], headers_out, b"".join(chunks))
