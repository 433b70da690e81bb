"""The files under deploy/ agree with each other, and systemd accepts the units."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
UNITS = ["parley-daphne@8001.service", "parley-worker.service", "parley-beat.service", "parley-purge.service"]


def test_the_target_starts_the_daphne_instances_nginx_balances_over():
    upstream = re.search(r"upstream parley_daphne \{(.*?)\}", (DEPLOY / "nginx" / "parley.conf").read_text(), re.S)
    nginx_ports = set(re.findall(r"server 127\.0\.0\.1:(\d+)", upstream.group(1)))
    target_ports = set(re.findall(r"parley-daphne@(\d+)\.service", (DEPLOY / "systemd" / "parley.target").read_text()))
    assert nginx_ports == target_ports and len(nginx_ports) >= 2


def test_every_unit_reads_the_documented_environment_file_and_nothing_holds_a_secret():
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text()
        assert "EnvironmentFile=/etc/parley/parley.env" in text, unit.name
        assert not re.search(r"(?i)^Environment=.*(secret|password|key)", text, re.M), unit.name


def test_nginx_accepts_uploads_as_large_as_attachments():
    assert "client_max_body_size 26m;" in (DEPLOY / "nginx" / "parley.conf").read_text()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path):
    # The units' paths, pointed at this checkout: systemd checks that the programs exist.
    venv = Path(sys.executable).parent.parent
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/srv/parley/app/.venv", str(venv)).replace("/srv/parley/app", str(ROOT))
        text = text.replace("/etc/parley/parley.env", str(DEPLOY / "parley.env.example"))
        (tmp_path / unit.name.replace("@.service", "@8001.service")).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / unit) for unit in [*UNITS, "parley-purge.timer"])],
        capture_output=True, text=True, timeout=60, env={"SYSTEMD_LOG_LEVEL": "notice", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
