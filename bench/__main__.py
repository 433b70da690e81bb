"""Every benchmark, each bounded in time, and ONE table of their figures against the targets.

    .venv/bin/python -m bench             # make bench: full sizes (about 35 minutes on an idle machine)
    .venv/bin/python -m bench --quick     # small sizes, under 3 minutes
    .venv/bin/python -m bench --smoke     # make bench-smoke: tiny sizes, two at a time (CI, under 90 s)
    .venv/bin/python -m bench --only ws_fanout,rest

Everything runs on 127.0.0.1 against real daphne, PostgreSQL (127.0.0.1:5432) and Redis
(127.0.0.1:6379); each benchmark makes its own databases and Redis prefixes (their docstrings
say which). Each runs as its own process, `bench/<name>.py` with the mode's arguments (BENCHMARKS
below), under a time limit: at the limit it gets SIGTERM (it stops its servers) and then SIGKILL.
Its output goes to a log file; its figures come back as rows (bench/common.py's record()) and
are printed together: scenario, metric, Parley, the Channels reference peer where one is
measured, Parley ÷ reference, target, met. A missed target is a result, not an error: the exit
code is 1 only when a benchmark failed or overran its limit.
"""

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import RESULTS_ENV, ROOT, Row, read_results, table


@dataclass(frozen=True)
class Benchmark:
    name: str
    arguments: dict[str, list[str]]  # per mode
    limits: dict[str, int]  # seconds, per mode
    lane: int  # --smoke runs lanes side by side; benchmarks sharing a Redis database share a lane


# Limits are about three times what each takes on an idle machine: a busy machine still finishes,
# a run that hangs is stopped. --quick's sizes are cut to fit its 3 minutes (about 150 s idle): the
# runner prints each benchmark's own duration, docs/PERFORMANCE.md gives them.

BENCHMARKS = (
    Benchmark(
        "ws_fanout",
        {
            "full": [],
            "quick": ["--quick", "--sizes", "100", "--pairs", "50", "--idle", "100", "--duration", "2"],
            "smoke": ["--smoke"],
        },
        {"full": 1800, "quick": 300, "smoke": 150},
        lane=0,
    ),
    Benchmark(
        "rest",
        {"full": [], "quick": ["--quick", "--seconds", "3"], "smoke": ["--smoke"]},
        {"full": 600, "quick": 150, "smoke": 150},
        lane=1,
    ),
    # --quick reads the small (smoke) database, filled in seconds; the full run fills a million messages once.
    Benchmark(
        "history",
        {"full": [], "quick": ["--smoke", "--reps", "40"], "smoke": ["--smoke"]},
        {"full": 1800, "quick": 150, "smoke": 150},
        lane=1,
    ),
    Benchmark(
        "friends",
        {"full": [], "quick": ["--reps", "60", "--seconds", "3", "--clients", "50"], "smoke": ["--smoke"]},
        {"full": 600, "quick": 150, "smoke": 150},
        lane=1,
    ),
    Benchmark(
        "matching",
        {"full": [], "quick": ["--users", "200", "--rounds", "1"], "smoke": ["--smoke"]},
        {"full": 900, "quick": 150, "smoke": 150},
        lane=0,
    ),
    Benchmark(
        "attachments",
        {"full": [], "quick": ["--smoke", "--reps", "5"], "smoke": ["--smoke"]},
        {"full": 900, "quick": 150, "smoke": 150},
        lane=1,
    ),
    Benchmark(
        "admin_lists",
        {"full": [], "quick": ["--quick"], "smoke": ["--smoke"]},
        {"full": 1800, "quick": 300, "smoke": 150},
        lane=1,
    ),
    # Not a speed figure: what a long run does to memory and delivery (the full run is ten minutes).
    Benchmark(
        "soak",
        {"full": [], "quick": ["--clients", "50", "--minutes", "0.15", "--interval", "2"], "smoke": ["--smoke"]},
        {"full": 1200, "quick": 150, "smoke": 150},
        lane=0,
    ),
)
LOG_TAIL = 25  # lines of a failed benchmark's log printed under the table
GRACE = 30  # seconds between SIGTERM and SIGKILL: time to stop the servers a benchmark started


@dataclass
class Outcome:
    benchmark: Benchmark
    code: int | None  # None: overran its limit
    seconds: float
    log: Path
    rows: list[Row]


def run(benchmark: Benchmark, mode: str, logs: Path, results: Path) -> Outcome:
    command = [sys.executable, f"bench/{benchmark.name}.py", *benchmark.arguments[mode]]
    log = logs / f"{benchmark.name}.log"
    out = results / f"{benchmark.name}.jsonl"
    env = {**os.environ, RESULTS_ENV: str(out), "PYTHONPATH": str(ROOT)}
    say(f"{benchmark.name}: started ({' '.join(command[1:])}; limit {benchmark.limits[mode]} s; log {log})")
    started = time.monotonic()
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=benchmark.limits[mode])
        except subprocess.TimeoutExpired:
            stop(process)
            code = None
    seconds = time.monotonic() - started
    rows = read_results(out)
    if benchmark.name == "friends" and code == 0:
        rows = friends_rows(log.read_text())
        code = 0 if rows else 2
    status = "ok" if code == 0 else "OVERRAN its limit" if code is None else f"FAILED (exit {code})"
    say(f"{benchmark.name}: {status} in {seconds:.0f} s")
    return Outcome(benchmark, code, seconds, log, rows)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the benchmark's process group, then SIGKILL: its servers do not outlive it."""
    for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


FRIENDS_LINE = re.compile(r"^endpoint\s+(first page of \d+|GET /api/me/ \(floor\))\s+([\d.]+)\s+([\d.]+)", re.M)


def friends_rows(report: str) -> list[Row]:
    """bench/friends.py's printed report, read back (its file is another helper's work in progress)."""
    found = {what: (float(p50), float(p99)) for what, p50, p99 in FRIENDS_LINE.findall(report)}
    page = next((what for what in found if what.startswith("first page")), None)
    floor = "GET /api/me/ (floor)"
    if page is None or floor not in found:
        return []
    (p50, p99), floor_p50 = found[page], found[floor][0]
    label = "(h) friends, 1 request at a time"
    return [
        Row(label, f"{page}, p50 ms", p50, spec=".1f", target="< 10", met=p50 < 10),
        Row(label, f"{page}, p99 ms", p99, spec=".1f"),
        Row(label, "GET /api/me/ (the fixed cost), p50 ms", floor_p50, spec=".1f"),
    ]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def run_all(chosen: list[Benchmark], mode: str, logs: Path, results: Path, side_by_side: bool) -> list[Outcome]:
    if not side_by_side:
        return [run(benchmark, mode, logs, results) for benchmark in chosen]
    outcomes: dict[str, Outcome] = {}

    def lane(members: list[Benchmark]) -> None:
        for benchmark in members:
            outcomes[benchmark.name] = run(benchmark, mode, logs, results)

    lanes = sorted({benchmark.lane for benchmark in chosen})
    threads = [threading.Thread(target=lane, args=([b for b in chosen if b.lane == n],)) for n in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcomes[benchmark.name] for benchmark in chosen]


def durations(outcomes: list[Outcome]) -> str:
    """Each benchmark's own wall time: where a mode's time budget goes (the lanes of --smoke overlap)."""
    parts = [f"{outcome.benchmark.name} {outcome.seconds:.0f} s" for outcome in outcomes]
    return f"durations: {', '.join(parts)}"


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:  # no git: a source tree without its history
        return "unknown"
    return out.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes, under 3 minutes")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, side by side: proves they run (CI)")
    names = [benchmark.name for benchmark in BENCHMARKS]
    parser.add_argument("--only", default=",".join(names), help=f"comma-separated, among {', '.join(names)}")
    parser.add_argument("--logs", type=Path, default=Path(tempfile.gettempdir()) / "parley-bench")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    only = [name for name in args.only.split(",") if name]
    if not only or set(only) - set(names):
        parser.error(f"--only takes names among {', '.join(names)}")
    chosen = [benchmark for benchmark in BENCHMARKS if benchmark.name in only]
    args.logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory(prefix="parley-bench-results-") as results:
        # Figures taken side by side would disturb each other: only the smoke run, which proves they run, does it.
        outcomes = run_all(chosen, mode, args.logs, Path(results), side_by_side=mode == "smoke")
    rows = [row for outcome in outcomes for row in outcome.rows]
    print()
    print(table(rows))
    print()
    missed = [row for row in rows if row.met is False]
    note = " (smoke sizes: the targets are for the full run)" if mode == "smoke" else ""
    print(f"{len(missed)} of {sum(row.met is not None for row in rows)} targets missed{note}")
    print(durations(outcomes))
    for outcome in outcomes:
        if outcome.code != 0:
            state = "overran its limit" if outcome.code is None else f"failed (exit {outcome.code})"
            # The end of its log here too: in CI the log file does not outlive the machine.
            tail = "\n".join(outcome.log.read_text(errors="replace").splitlines()[-LOG_TAIL:])
            print(f"{outcome.benchmark.name} {state}; the end of {outcome.log}:\n{tail}\n")
    print(
        f"mode {mode}, commit {commit()}, {os.cpu_count()} CPUs, load average {' '.join(load_before)} before, "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])} after; {time.monotonic() - started:.0f} s; "
        f"logs in {args.logs}"
    )
    return 0 if all(outcome.code == 0 for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
