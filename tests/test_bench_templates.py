"""The benchmarks' template databases (bench/common.py): made again when any migration changes, an
installed package's included, and dropped once no benchmark has used them for a day."""

import secrets
import time

import pytest

from bench.common import TEMPLATE_KEPT_SECONDS, TEMPLATE_PREFIX, drop_stale_templates, migrations_digest, psql


def test_the_digest_covers_the_migrations_of_installed_packages(tmp_path, monkeypatch):
    # An installed distribution as pip leaves one: its files listed in RECORD (simplejwt, axes...).
    migration = tmp_path / "someapp" / "migrations" / "0001_initial.py"
    migration.parent.mkdir(parents=True)
    migration.write_text("operations = []\n")
    info = tmp_path / "someapp-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: someapp\nVersion: 1.0\n")
    (info / "RECORD").write_text("someapp/migrations/0001_initial.py,,\nsomeapp-1.0.dist-info/METADATA,,\n")
    without = migrations_digest()

    monkeypatch.syspath_prepend(tmp_path)  # installed
    installed = migrations_digest()
    migration.write_text("operations = ['a new column']\n")  # upgraded: same name, other content
    upgraded = migrations_digest()

    assert len({without, installed, upgraded}) == 3


def databases() -> dict[str, str]:
    rows = psql(
        "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
        f"WHERE datname LIKE '{TEMPLATE_PREFIX}%'"
    )
    return dict(row.split("|", 1) for row in rows.splitlines() if row)


@pytest.mark.services
def test_a_template_unused_for_a_day_is_dropped_and_one_used_since_or_never_marked_is_kept():
    stale, recent, unmarked = (f"{TEMPLATE_PREFIX}{secrets.token_hex(6)}" for _ in range(3))
    now = int(time.time())
    try:
        for name, used in [(stale, now - TEMPLATE_KEPT_SECONDS - 60), (recent, now - 60), (unmarked, None)]:
            psql(f"CREATE DATABASE {name}")
            if used is not None:
                psql(f"COMMENT ON DATABASE {name} IS 'used {used}'")

        drop_stale_templates()

        left = databases()
        assert stale not in left
        assert left[recent] == f"used {now - 60}"
        assert int(left[unmarked].removeprefix("used ")) >= now  # made before the rule: a day from now
    finally:
        for name in (stale, recent, unmarked):
            psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
