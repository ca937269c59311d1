"""Starting over: scripts/quickstart notices that the database file is gone and runs a full
refresh, so a deleted database is refilled instead of staying empty behind Meltano's state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from github_simulator import GitHubSimulator
from github_simulator.actions import latest_attempts
from github_simulator.truth import EXPECTED, SEEN_ATTEMPTS_STREAMS
from tests.e2e.destinations import destination
from tests.e2e.project import FOREIGN_PREFIXES, ROOT, require_installed, run_in_root
from tests.e2e.simulated import realtime_world, tap_config, tap_settings
from tests.e2e.tables import Table, discover, mismatches

FULL_REFRESH = "does not exist: running with --full-refresh"


def quickstart(env: dict[str, str]) -> str:
    return run_in_root([str(ROOT / "scripts" / "quickstart")], env)


@pytest.mark.meltano
def test_quickstart_refills_a_deleted_database(tmp_path: Path):
    require_installed("target-duckdb")
    _, world = realtime_world()
    with GitHubSimulator(world) as github, destination("duckdb", tmp_path) as duck:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)},
            **tap_settings(github.api_url),
            **duck.env(),
            # Meltano's state in the test's own system database, not the developer's.
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        assert FULL_REFRESH in quickstart(env)  # no file yet
        assert duck.rows("repositories")

        assert FULL_REFRESH not in quickstart(env)  # the file is there: incremental

        duck.path.unlink()
        assert FULL_REFRESH in quickstart(env)

        seen = latest_attempts(world)
        problems = []
        for name, info in discover(tap_config(github.api_url)).items():
            if name not in EXPECTED:
                continue
            truth = (
                EXPECTED[name](world, seen)
                if name in SEEN_ATTEMPTS_STREAMS
                else EXPECTED[name](world)
            )
            problems += mismatches(Table(info, duck.rows(name), empty_is_null=True), truth)
        assert not problems, "\n".join(problems[:40])
