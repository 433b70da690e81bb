"""Services of a fault test's own, on free ports, that the test may kill: never the machine's shared ones."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import ROOT, free_port

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
# initdb refuses to run as root: as root, the cluster belongs to (and runs as) the postgres user.
AS_ROOT = os.geteuid() == 0
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if AS_ROOT else []


def start_redis(port: int, directory: Path) -> subprocess.Popen:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([*command, "--dir", str(directory)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG":
            return process
        time.sleep(0.05)
    raise AssertionError("redis-server did not start")


class RedisServer:
    """redis-server without persistence: a kill loses everything it held, as a crash would."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = start_redis(self.port, directory)

    def kill(self) -> None:
        self.process.kill()  # SIGKILL
        self.process.wait()

    def start(self) -> None:
        self.process = start_redis(self.port, self.directory)

    def stop(self) -> None:
        self.kill()


class PostgresCluster:
    """A throwaway PostgreSQL cluster in a temporary directory, with fsync off: it is thrown away with the test."""

    def __init__(self):
        if not (POSTGRES_BIN / "initdb").exists():
            pytest.fail(f"PostgreSQL's server programs are not in {POSTGRES_BIN}")
        # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
        self.directory, self.port = Path(tempfile.mkdtemp(prefix="parley-pg-")), free_port()
        if AS_ROOT:
            shutil.chown(self.directory, "postgres")
        self._as_postgres("initdb", "-D", "data", "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _as_postgres(self, program: str, *args: str) -> None:
        command = [*AS_POSTGRES, str(POSTGRES_BIN / program), *args]
        done = subprocess.run(command, cwd=self.directory, capture_output=True, text=True)
        assert done.returncode == 0, f"{program} failed: {done.stdout}{done.stderr}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres("pg_ctl", "-D", "data", "-o", options, "-l", "log", "-w", "start")

    def crash(self) -> None:
        """Stop at once, as a crash would (`immediate`: no checkpoint, clients cut off; recovery on start)."""
        self._as_postgres("pg_ctl", "-D", "data", "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop for good and remove the cluster."""
        subprocess.run(
            [*AS_POSTGRES, str(POSTGRES_BIN / "pg_ctl"), "-D", "data", "-m", "immediate", "stop"],
            cwd=self.directory,
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new database with Parley's migrations applied; its URL."""
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        return url

    def make_cast(self, database_url: str, *, people: int, rooms: int) -> dict:
        """tests.faults.cast.make_cast, run in a child process on that database."""
        command = [sys.executable, "-m", "tests.faults.cast", database_url, str(people), str(rooms)]
        done = subprocess.run(command, cwd=ROOT, env=os.environ, check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
