"""Idempotent loading: the real Meltano CLI runs the tap into real loaders, and after every run
each table holds exactly the simulator's truth, once per key, with a small bookmark per repository.

The scenario (first run, an unchanged second run, every registered mutation, a third run) runs
against target-jsonl, target-duckdb and meltanolabs-target-postgres. A run killed part-way and a
run failing on an outage are each followed by a normal run that must lose nothing. Streams whose
ground truth is not registered in github_simulator/truth.py yet are named and left out of the
comparison; `repositories` always takes part.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from github_simulator import FakeClock, Fault, GitHubSimulator, World
from github_simulator.actions import latest_attempts
from github_simulator.truth import EXPECTED, MUTATIONS, SEEN_ATTEMPTS_STREAMS
from tests.conftest import run_sync
from tests.e2e.destinations import DESTINATIONS, Destination, destination
from tests.e2e.project import EXTRACTOR, ROOT, MeltanoProject, Run, require_installed
from tests.e2e.simulated import realtime_world, tap_config, tap_settings
from tests.e2e.tables import StreamInfo, Table, discover, mismatches, state_problems

pytestmark = pytest.mark.meltano

# Endpoints every run asks whatever streams exist; a fault is put on a stream's own request.
_SETUP_PATHS = re.compile(r"^/(user|rate_limit|app\b.*)$")


class Stall(Fault):
    """A request that hangs for `seconds`; `reached` is set when it arrives."""

    def __init__(self, path: str, seconds: float = 600.0) -> None:
        self.reached = threading.Event()
        self._seconds = seconds
        super().__init__(path, times=1)

    @property  # type: ignore[override]
    def latency(self) -> float:
        """Read by the simulator once it has taken this fault for a request."""
        self.reached.set()
        return self._seconds

    @latency.setter
    def latency(self, _value: float) -> None:
        """The dataclass's initial value is replaced by `seconds`."""

    def __repr__(self) -> str:
        return f"Stall({self.path!r}, reached={self.reached.is_set()})"


@dataclass
class Pipeline:
    """The simulator, its world, a destination and the Meltano project that connects them."""

    world: World
    clock: FakeClock
    github: GitHubSimulator
    destination: Destination
    project: MeltanoProject
    streams: dict[str, StreamInfo]
    mutations: int = 0
    skipped: set[str] = field(default_factory=set)
    # (run id, attempt) of the latest attempts at each run's start (see SEEN_ATTEMPTS_STREAMS).
    seen_attempts: set[tuple[int, int]] = field(default_factory=set)
    last_run_seconds: float = 0.0

    def run(self, *options: str, check: bool = True) -> Run:
        """`meltano run tap-github-activity <loader>` (the simulator logs this run only)."""
        self.github.reset_log()
        self.seen_attempts |= latest_attempts(self.world)
        started = time.monotonic()
        try:
            return self.project.run(
                "run", EXTRACTOR, self.destination.loader, *options, check=check
            )
        finally:
            self.last_run_seconds = time.monotonic() - started
            self.destination.after_run()

    def start(self, *options: str) -> subprocess.Popen[bytes]:
        """Start the same run without waiting for it."""
        self.github.reset_log()
        self.seen_attempts |= latest_attempts(self.world)
        process, _ = self.project.start("run", EXTRACTOR, self.destination.loader, *options)
        return process

    def mutate(self) -> None:
        """Time moves on to now, then every family's mutation changes the world."""
        self.mutations += 1
        self.clock.advance(max(int(time.time() - self.clock.now()), 1))
        for name, mutation in MUTATIONS.items():
            rng = random.Random(f"end-to-end:{name}:{self.mutations}")  # noqa: S311 -- test data
            mutation(self.world, rng)

    def stream_path(self, fraction: float = 0.5) -> str:
        """The path of a stream's request `fraction` of the way through the last run, as an
        exact regex. After a run with nothing new, these are requests every run makes."""
        paths = [r.path for r in self.github.requests() if not _SETUP_PATHS.match(r.path)]
        assert paths, "the run made no request"
        return "^" + re.escape(paths[min(int(len(paths) * fraction), len(paths) - 1)]) + "$"

    def check(self, moment: str) -> None:
        """Every compared table equals the truth, keys are unique, the state is small."""
        problems, tables = [], {}
        empty_is_null = self.destination.empty_string_is_null
        for name, info in sorted(self.streams.items()):
            table = tables[name] = Table(
                info, self.destination.rows(name), empty_is_null=empty_is_null
            )
            if self.destination.upserts:
                problems += [f"{name}: key {key} loaded more than once" for key in table.duplicates]
            else:
                for number, records in enumerate(self.destination.run_rows(name), 1):
                    problems += [
                        f"{name}: key {key} emitted twice by run {number}"
                        for key in Table(info, records).duplicates
                    ]
            if name not in EXPECTED:
                self.skipped.add(name)
                continue
            truth = (
                EXPECTED[name](self.world, self.seen_attempts)
                if name in SEEN_ATTEMPTS_STREAMS
                else EXPECTED[name](self.world)
            )
            problems += mismatches(table, truth)
        # The figures a closing note quotes (shown with pytest -s).
        print(
            f"{self.destination.loader}, {moment}: run took {self.last_run_seconds:.1f} s, "
            f"{len(self.github.requests())} requests; rows: "
            + ", ".join(f"{name} {len(table.rows)}" for name, table in sorted(tables.items()))
        )
        state = self.project.state(self.destination.loader)
        problems += state_problems(state, self.streams, tables, set(self.world.repos))
        # Every stream's table is compared with github_simulator/truth.py.
        assert not self.skipped, f"no ground truth registered for {sorted(self.skipped)}"
        assert not problems, (
            f"{self.destination.loader}, {moment}: {len(problems)} problems\n"
            + "\n".join(problems[:40])
        )


@pytest.fixture(params=sorted(DESTINATIONS))
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pipeline]:
    loader = DESTINATIONS[request.param].loader
    require_installed(loader)
    clock, world = realtime_world()
    with GitHubSimulator(world) as github, destination(request.param, tmp_path) as loaded:
        project = MeltanoProject(
            tmp_path / "meltano", {**tap_settings(github.api_url), **loaded.env()}
        )
        yield Pipeline(world, clock, github, loaded, project, discover(tap_config(github.api_url)))


def test_every_run_loads_exactly_the_truth(pipeline: Pipeline):
    pipeline.run()
    pipeline.check("after the first run")
    pipeline.run()
    pipeline.check("after a second run with nothing changed")
    pipeline.mutate()
    pipeline.run()
    pipeline.check("after new and updated objects of every kind")


# Where in a run (the share of its requests made) the killed-run test kills it.
KILL_POINTS = (0.5, 0.1, 0.9)


def test_a_run_killed_part_way_loses_nothing(pipeline: Pipeline):
    pipeline.run()
    for number, fraction in enumerate(KILL_POINTS):
        pipeline.run("--force")  # nothing new: its requests are those every run makes
        stall = pipeline.github.inject(Stall(pipeline.stream_path(fraction)))
        if number == 0:
            # One mutation only: a second one minutes after the first loses workflow runs
            # without any kill (reported; a day apart it does not).
            pipeline.mutate()
        # After the first kill, Meltano sees a killed run as running: only --force starts one.
        process = pipeline.start(*(["--force"] if number else []))
        try:
            assert stall.reached.wait(timeout=60), f"the run never reached {stall}"
        finally:
            pipeline.project.kill(process)
            pipeline.destination.after_run()
        if number == 0:
            # Meltano still sees the killed run as running (for 5 minutes without a heartbeat).
            refused = pipeline.run(check=False)
            assert refused.returncode != 0
            assert "is already running" in refused.log, refused.tail()
        pipeline.run("--force")
        pipeline.check(f"after a run killed {fraction:.0%} of the way and a forced normal run")


def test_a_run_failing_on_an_outage_loses_nothing(pipeline: Pipeline):
    pipeline.run()
    pipeline.run()
    outage = pipeline.github.inject(Fault(pipeline.stream_path(), status=503, times=1000))
    pipeline.mutate()
    failed = pipeline.run(check=False)
    assert failed.returncode != 0, f"the run succeeded despite the outage:\n{failed.tail()}"
    assert "503" in failed.log, failed.tail()
    # The repositories of the failing endpoint failed, the rest was loaded: exit code 3, and
    # the summary names each failure.
    assert "(fail_on_repository_errors)" in failed.log, failed.tail()
    assert re.search(r"not read: \S+ \S+ answered status 503", failed.log), failed.tail()
    outage.times = 0
    pipeline.run()
    pipeline.check("after a failed run and a normal run")


def test_every_stream_declares_a_key_and_emits_each_key_once(config, world: World):
    streams = discover(config)
    assert not [name for name, info in streams.items() if not info.key], (
        "streams without primary keys"
    )
    state = None
    for moment in ("first sync", "sync after mutations"):
        result = run_sync(config, state=state)
        for name, records in result.records.items():
            info = streams[name]
            assert not Table(info, records).duplicates, f"{name}: duplicate keys in the {moment}"
            null_keys = [r for r in records if any(r.get(k) is None for k in info.key)]
            assert not null_keys, f"{name}: null key fields in the {moment}: {null_keys[:3]}"
        assert "repositories" in result.records
        state = result.state
        for name, mutation in MUTATIONS.items():
            mutation(world, random.Random(f"audit:{name}"))  # noqa: S311 -- test data


def test_target_duckdb_keeps_the_first_row_of_every_batch(tmp_path: Path):
    """DuckDB 1.1 and later take the first line of target-duckdb 0.8.0's headerless CSV batch
    for a header when its values look like one (all text, or time-zoned timestamps), and drop
    it; meltano.yml pins duckdb 1.0.0 in the loader's environment for that reason."""
    require_installed("target-duckdb")
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "note": {"type": ["string", "null"]},
            "at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    messages = [{"type": "SCHEMA", "stream": "notes", "schema": schema, "key_properties": ["name"]}]
    messages += [
        {
            "type": "RECORD",
            "stream": "notes",
            "record": {"name": f"n{i}", "note": "text", "at": "2026-01-01T00:00:00Z"},
        }
        for i in range(3)
    ]
    database = tmp_path / "first-row.duckdb"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"filepath": str(database), "default_target_schema": "s"}))
    executable = ROOT / ".meltano/loaders/target-duckdb/venv/bin/target-duckdb"
    subprocess.run(
        [str(executable), "--config", str(config)],
        check=True,
        capture_output=True,
        input="\n".join(json.dumps(m) for m in messages).encode(),
        timeout=120,
    )
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("SELECT name FROM s.notes ORDER BY name").fetchall()
    assert rows == [("n0",), ("n1",), ("n2",)]
