"""Run the test suite against the real services when they answer, embedded otherwise.

PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are used when reachable; with CI=true
they must be. An explicitly set DATABASE_URL or REDIS_URL is respected as it is. With no
arguments, three runs: the benchmarks at tiny sizes (`--smoke`, with the services up, so that
they cannot rot), the browser tests (tests/e2e, Debian's Chromium) as their own pytest
run, and the main suite. Arguments run only the main suite, with them.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


def reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def service_environment() -> dict[str, str]:
    env = dict(os.environ)
    ci = env.get("CI", "").lower() in ("1", "true", "yes")
    have_services = (env.get("DATABASE_URL") or reachable(POSTGRES)) and (env.get("REDIS_URL") or reachable(REDIS))
    if not have_services:
        if ci:
            sys.exit("CI=true but PostgreSQL on 127.0.0.1:5432 or Redis on 127.0.0.1:6379 is not reachable.")
        print("PostgreSQL/Redis not reachable: running embedded; tests marked `services` are skipped.")
        env["PARLEY_SERVICES"] = "0"
        return env
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parley")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
    env["PARLEY_SERVICES"] = "1"
    print(f"Testing against {env['DATABASE_URL']} and {env['REDIS_URL']}")
    return env


CHROMIUM = Path("/usr/bin/chromium")
# Sync Playwright and the async tests break each other's event loop: the browser suite runs alone.
BROWSER_SUITE = ["tests/e2e", "-p", "no:asyncio", "-W", "ignore::pytest.PytestConfigWarning"]


def browser_suite(python: str, ci: bool) -> list[list[str]]:
    if CHROMIUM.exists():
        return [[python, "-m", "pytest", *BROWSER_SUITE]]
    if ci:
        sys.exit("CI=true but Chromium is not installed at /usr/bin/chromium (make test installs it as root).")
    print("Chromium not found at /usr/bin/chromium: the browser tests are skipped.")
    return []


SMOKE_BENCHMARKS = ("ws_fanout", "history", "friends", "matching", "attachments")


def main() -> int:
    env = service_environment()
    env.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    env.setdefault("CACHE_KEY_PREFIX", "parley-test")
    env.setdefault("CHANNEL_PREFIX", "parley-test")
    python = sys.executable
    suites = []
    if not sys.argv[1:]:
        if env["PARLEY_SERVICES"] == "1":
            # Not tests (they assert nothing about speed): they prove the benchmarks still run.
            suites += [[python, f"bench/{name}.py", "--smoke"] for name in SMOKE_BENCHMARKS]
        suites += browser_suite(python, ci=env.get("CI", "").lower() in ("1", "true", "yes"))
    # The main suite runs last, so that its summary is the closing line of the whole run.
    suites.append([python, "-m", "pytest", *sys.argv[1:]])
    for command in suites:
        # Exit code 5 ("no tests ran") is a failure here like any other non-zero code.
        code = subprocess.call(command, cwd=ROOT, env=env)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
