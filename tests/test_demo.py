"""scripts/demo: a fresh clone sees data without a token or GitHub, and the demo leaves the
user's own database and Meltano state alone; `python -m github_simulator` serves until stopped."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from github_simulator.truth import EXPECTED
from tests.e2e.project import ROOT, require_installed

DEMO_DATABASE = ROOT / "output" / "demo.duckdb"
USER_DATABASE = ROOT / "output" / "github_activity.duckdb"
SYSTEM_DATABASE = ROOT / ".meltano" / "meltano.db"


def saved_state() -> list[tuple[object, ...]]:
    """Every state Meltano keeps for the repository's own project."""
    if not SYSTEM_DATABASE.exists():
        return []
    with contextlib.closing(sqlite3.connect(SYSTEM_DATABASE)) as db:
        return sorted(db.execute("select * from state").fetchall())


def fingerprint(path: Path) -> tuple[int, int] | None:
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.meltano
def test_demo_loads_every_stream_into_its_own_database_only():
    require_installed("target-duckdb")
    state_before, user_database_before = saved_state(), fingerprint(USER_DATABASE)
    started = time.monotonic()
    demo = subprocess.run(
        [str(ROOT / "scripts" / "demo")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # A user's settings in the shell must not reach the demo.
        env={**os.environ, "TAP_GITHUB_ACTIVITY_AUTH_TOKEN": "ghp_real", "MELTANO_ENVIRONMENT": ""},
    )
    seconds = time.monotonic() - started
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert seconds < 120

    assert "GitHub requests this run:" in demo.stdout
    assert re.search(r"^total\s+\d+\s+\d+", demo.stdout, flags=re.MULTILINE), demo.stdout
    assert "CI failure rate and duration by workflow" in demo.stdout
    assert "Pull request lead time" in demo.stdout
    with duckdb.connect(str(DEMO_DATABASE), read_only=True) as db:
        rows = {
            stream: db.sql(f"select count(*) from github.{stream}").fetchone()[0]  # noqa: S608 -- the tap's stream names
            for stream in EXPECTED
        }
    assert all(rows.values()), rows
    assert rows["repositories"] == 3

    log = (ROOT / "output" / "demo.log").read_text()
    assert "METRIC" not in log  # singer-sdk's metric lines are off in meltano.yml
    # The tap's part of the log: its own few lines, and none of singer-sdk's per-stream lines
    # (README, "Logs"; tests/test_logs.py has the details).
    assert "Finished: 3 of 3 repositories" in log
    for chatter in ("Beginning sync of", "as child stream", "not resumable", "Forcing full table"):
        assert chatter not in log, chatter
    assert saved_state() == state_before
    assert fingerprint(USER_DATABASE) == user_database_before


def test_simulator_entry_point_serves_until_interrupted(tmp_path: Path):
    env_file = tmp_path / "simulator.env"
    with subprocess.Popen(
        [sys.executable, "-m", "github_simulator", "--repos", "2", "--env-file", str(env_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            banner = server.stdout.readline()
            assert "acme/api, acme/web" in banner, banner
            settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
            assert settings["TAP_GITHUB_ACTIVITY_AUTH_TOKEN"] == "ghp_alice"
            assert settings["TAP_GITHUB_ACTIVITY_REPOSITORIES"] == '["acme/*"]'
            port = int(settings["TAP_GITHUB_ACTIVITY_API_URL"].rsplit(":", 1)[1])
            assert port_open(port)
            server.send_signal(signal.SIGINT)
            assert server.wait(timeout=10) == 0
            assert not port_open(port)
        finally:
            if server.poll() is None:
                server.kill()


@pytest.mark.meltano
def test_interrupted_demo_stops_the_simulator():
    require_installed("target-duckdb")
    # Its own session, as a terminal's Ctrl-C reaches every process of the foreground job.
    with subprocess.Popen(
        [str(ROOT / "scripts" / "demo")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    ) as demo:
        try:
            assert demo.stdout is not None
            lines = iter(demo.stdout.readline, "")
            banner = next(line for line in lines if line.startswith("Simulated GitHub at"))
            port = int(re.search(r"127\.0\.0\.1:(\d+)", banner)[1])
            next(line for line in lines if line.startswith("Running:"))
            os.killpg(demo.pid, signal.SIGINT)
            assert demo.wait(timeout=60) != 0
            assert not port_open(port)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(demo.pid, signal.SIGKILL)
