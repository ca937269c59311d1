"""The github_activity DAG run for real by `dag.test()` (in-process, SQLite metadata database):
two shards of the simulated GitHub through the real Meltano CLI into a throw-away PostgreSQL
database, each with its own extractor and state, and a third shard whose plugin was never
generated, which fails alone."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from airflow.dag_processing.dagbag import BundleDagBag
from airflow.utils.db import resetdb
from psycopg import sql

from tests.airflow.conftest import DAGS, ROOT

pytestmark = pytest.mark.meltano

PYTHON = ROOT / ".venv" / "bin" / "python"
MELTANO = ROOT / ".venv" / "bin" / "meltano"
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
# Variables of the caller's shell that would change the runs' settings.
FOREIGN_PREFIXES = ("TAP_GITHUB_ACTIVITY", "TARGET_POSTGRES_", "MELTANO_", "GITHUB_TOKEN_")
SHARDS = {"platform": ["acme/api"], "product": ["acme/web", "acme/infra"]}
# One token from the worker's environment, the other from an Airflow connection.
CREDENTIALS = {
    "platform": {"env": "GITHUB_TOKEN_PLATFORM"},
    "product": {"connection": "github_product", "field": "password"},
    "forgotten": {"env": "GITHUB_TOKEN_FORGOTTEN"},
}


@dataclass
class Github:
    api_url: str
    tokens: dict[str, str]


@pytest.fixture
def github() -> Iterator[Github]:
    """The simulator, served by the project's .venv (it needs the tap's dependencies)."""
    if not PYTHON.exists() or not MELTANO.exists():
        pytest.fail("Run scripts/install first: .venv/ with Meltano is missing", pytrace=False)
    with subprocess.Popen(
        [str(PYTHON), str(ROOT / "tests" / "airflow" / "serve_github.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stdout is not None
        assert server.stdin is not None
        started = json.loads(server.stdout.readline())
        try:
            yield Github(started["api_url"], started["tokens"])
        finally:
            server.stdin.close()
            server.wait(timeout=30)


@pytest.fixture
def database() -> Iterator[str]:
    name = f"tga_airflow_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **POSTGRES) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **POSTGRES) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def meltano_project(workdir: Path) -> Path:
    """A copy of the repository's Meltano project using its installed plugins."""
    project = workdir / "project"
    (project / ".meltano").mkdir(parents=True)
    shutil.copy(ROOT / "meltano.yml", project / "meltano.yml")
    for kind in ("extractors", "loaders"):
        (project / ".meltano" / kind).symlink_to(ROOT / ".meltano" / kind)
    return project


def shard_file(path: Path, project: Path, shards: dict[str, list[str]]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "meltano": {"project": str(project), "executable": str(MELTANO)},
                "loader": "target-postgres",
                "max_parallel_shards": 1,
                "shards": [
                    {
                        "name": name,
                        "settings": {"repositories": repositories},
                        "credentials": {"auth_token": CREDENTIALS[name]},
                    }
                    for name, repositories in shards.items()
                ],
            }
        )
    )
    return path


def rows(database: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dbname=database, **POSTGRES) as connection:
        return list(connection.execute(query))


@dataclass
class Captured:
    """What a `dag.test()` logged: Airflow's logging goes to the log records or to the standard
    streams, depending on when pytest started capturing them."""

    capfd: pytest.CaptureFixture[str]
    caplog: pytest.LogCaptureFixture

    def clear(self) -> None:
        self.capfd.readouterr()
        self.caplog.clear()

    def text(self) -> str:
        return "".join(self.capfd.readouterr()) + "\n" + self.caplog.text


@pytest.fixture
def captured(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Captured:
    caplog.set_level(logging.INFO)
    return Captured(capfd, caplog)


def run_dag(captured: Captured) -> tuple[dict[str, str], str]:
    """One `dag.test()` of the DAG as parsed now: each task's state (by shard), and the log."""
    bag = BundleDagBag(dag_folder=str(DAGS / "github_activity.py"), bundle_path=DAGS)
    assert bag.import_errors == {}
    dag = bag.dags["github_activity"]
    captured.clear()
    run = dag.test()
    output = captured.text()
    states = {}
    for ti in run.get_task_instances():
        states[ti.rendered_map_index or str(ti.map_index)] = str(ti.state)
    return states, output


@dataclass(frozen=True)
class Cost:
    """What one shard's tap reported at the end of its run."""

    requests: int
    points: int
    not_modified: int


def costs(output: str) -> dict[str, Cost]:
    """Per shard: the totals of the tap's run summary and its 304 responses, from the summary's
    table (its header names the shard's extractor; rows: stream, resource, requests, 304,
    points; then `total`, requests, points)."""
    totals: dict[str, tuple[int, int]] = {}
    not_modified: dict[str, int] = {}
    shard = None
    for line in output.splitlines():
        header = re.search(r"(tap-github-activity--\w+) GitHub requests this run:", line)
        if header:
            shard = header.group(1)
            continue
        if shard is None:
            continue
        total = re.search(r"\btotal\s+(\d+)\s+(\d+)\s+[\d.]+", line)
        row = re.search(r"\b\w+\s+(?:core|graphql)\s+\d+\s+(\d+)\s+\d+\s+[\d.]+", line)
        if total:
            totals[shard] = (int(total.group(1)), int(total.group(2)))
            shard = None
        elif row:
            not_modified[shard] = not_modified.get(shard, 0) + int(row.group(1))
    return {
        name: Cost(requests, points, not_modified.get(name, 0))
        for name, (requests, points) in totals.items()
    }


def test_two_shards_load_with_their_own_state_and_a_missing_plugin_fails_alone(
    tmp_path: Path,
    github: Github,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    captured: Captured,
):
    for name in list(os.environ):
        if name.startswith(FOREIGN_PREFIXES):
            monkeypatch.delenv(name)
    project = meltano_project(tmp_path)
    settings = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        # Shared by every shard: the namespace's variables reach every inherited extractor.
        "TAP_GITHUB_ACTIVITY_API_URL": github.api_url,
        "TARGET_POSTGRES_HOST": str(POSTGRES["host"]),
        "TARGET_POSTGRES_PORT": str(POSTGRES["port"]),
        "TARGET_POSTGRES_USER": str(POSTGRES["user"]),
        "TARGET_POSTGRES_PASSWORD": "",  # trust authentication; the loader wants one set
        "TARGET_POSTGRES_DATABASE": database,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": "github",
        "GITHUB_TOKEN_PLATFORM": github.tokens["platform"],
        # Airflow reads connections from AIRFLOW_CONN_<ID> variables, among other places.
        "AIRFLOW_CONN_GITHUB_PRODUCT": json.dumps(
            {"conn_type": "generic", "password": github.tokens["product"]}
        ),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    shards = shard_file(tmp_path / "shards.yml", project, SHARDS)
    generated = subprocess.run(
        [str(PYTHON), str(DAGS / "github_activity_shards.py"), str(shards)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tap-github-activity--platform, tap-github-activity--product" in generated.stdout
    # A shard added to the file after the plugins were generated.
    shard_file(shards, project, {**SHARDS, "forgotten": ["acme/docs"]})
    monkeypatch.setenv("GITHUB_TOKEN_FORGOTTEN", "ghp_alice")
    monkeypatch.setenv("GITHUB_ACTIVITY_SHARDS", str(shards))
    resetdb()

    states, output = run_dag(captured)
    first = costs(output)
    assert states == {"platform": "success", "product": "success", "forgotten": "failed"}, output
    assert "declares no extractor tap-github-activity--forgotten" in output
    assert all(token not in output for token in github.tokens.values())
    repositories = rows(database, "SELECT full_name FROM github.repositories ORDER BY 1")
    assert repositories == [("acme/api",), ("acme/infra",), ("acme/web",)]
    pull_requests = rows(
        database,
        "SELECT r.full_name, count(*) FROM github.pull_requests p "
        "JOIN github.repositories r ON r.id = p.repo_id GROUP BY 1 ORDER BY 1",
    )
    assert [name for name, _ in pull_requests] == ["acme/api", "acme/infra", "acme/web"]

    listed = subprocess.run(
        [str(MELTANO), "state", "list"], cwd=project, capture_output=True, text=True, check=True
    )
    assert sorted(listed.stdout.split()) == [
        "dev:tap-github-activity--platform-to-target-postgres:platform",
        "dev:tap-github-activity--product-to-target-postgres:product",
    ]

    # The second run of each shard starts from its own state: conditional requests answered 304.
    shard_file(shards, project, SHARDS)
    states, output = run_dag(captured)
    assert states == {"platform": "success", "product": "success"}, output
    second = costs(output)
    plugins = [f"tap-github-activity--{name}" for name in SHARDS]
    assert sorted(first) == sorted(second) == plugins, output
    for plugin in plugins:
        assert first[plugin].not_modified == 0, first
        assert second[plugin].not_modified > 0, second
        assert second[plugin].points < first[plugin].points, (first, second)
    assert rows(database, "SELECT count(*) FROM github.repositories") == [(3,)]
    print(f"first run: {first}\nsecond run: {second}")
