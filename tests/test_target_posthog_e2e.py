"""`meltano run tap-github-activity target-posthog` against the GitHub simulator and the fake
PostHog: after PostHog's deduplication on (uuid, event, timestamp, distinct_id), exactly one event
per row of each event stream, carrying the truth's values (github_simulator/truth.py), after a
first run, after a day of changes, under injected 5xx, 429 and dropped connections, and after a
run killed in the middle of a send followed by a normal run.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from github_simulator import FakeClock, GitHubSimulator, World
from github_simulator.actions import latest_attempts
from github_simulator.truth import EXPECTED, MUTATIONS, SEEN_ATTEMPTS_STREAMS
from posthog_fake import FakePostHog, PostHogFault, serve_posthog
from target_posthog.mapping import DEFAULTS
from tests.e2e.posthog import PostHogDestination
from tests.e2e.project import EXTRACTOR, MeltanoProject, Run, require_installed
from tests.e2e.simulated import realtime_world, tap_config, tap_settings
from tests.e2e.tables import StreamInfo, Table, discover, mismatches

pytestmark = pytest.mark.meltano


@dataclass
class Pipeline:
    world: World
    clock: FakeClock
    github: GitHubSimulator
    posthog: FakePostHog
    destination: PostHogDestination
    project: MeltanoProject
    streams: dict[str, StreamInfo]
    mutations: int = 0
    seen_attempts: set[tuple[int, int]] = field(default_factory=set)

    def run(self, *options: str, check: bool = True) -> Run:
        self.seen_attempts |= latest_attempts(self.world)
        started = time.monotonic()
        requests = len(self.posthog.requests)
        run = self.project.run("run", EXTRACTOR, "target-posthog", *options, check=check)
        sent = self.posthog.requests[requests:]
        accepted = [r for r in sent if r.status == 200]
        # The figures a closing note quotes (shown with pytest -s).
        print(
            f"target-posthog run: {time.monotonic() - started:.1f} s, {len(sent)} requests "
            f"({len(accepted)} accepted, {sum(r.historical for r in accepted)} historical), "
            f"{sum(r.events for r in accepted)} events, {sum(r.body_bytes for r in accepted)} "
            f"bytes of JSON sent as {sum(r.sent_bytes for r in accepted)} gzipped; "
            f"{len(self.posthog.events)} events received in all, "
            f"{len(self.posthog.deduplicated())} after deduplication"
        )
        return run

    def mutate(self) -> None:
        self.mutations += 1
        self.clock.advance(max(int(time.time() - self.clock.now()), 1))
        for name, mutation in MUTATIONS.items():
            rng = random.Random(f"posthog-e2e:{name}:{self.mutations}")  # noqa: S311 -- test data
            mutation(self.world, rng)

    def check(self, moment: str) -> None:
        problems = []
        rows = 0
        for name in sorted(DEFAULTS.keys() & self.streams.keys()):
            assert name in EXPECTED, f"no ground truth for the event stream {name}"
            truth = (
                EXPECTED[name](self.world, self.seen_attempts)
                if name in SEEN_ATTEMPTS_STREAMS
                else EXPECTED[name](self.world)
            )
            rows += len(truth)
            problems += mismatches(Table(self.streams[name], self.destination.rows(name)), truth)
            problems += self.destination.problems(name)
        assert not self.posthog.dropped, self.posthog.dropped[:3]
        assert len(self.posthog.deduplicated()) == rows, (
            f"{moment}: {len(self.posthog.deduplicated())} events after deduplication, {rows} rows"
        )
        assert not problems, f"{moment}: {len(problems)} problems\n" + "\n".join(problems[:40])


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    require_installed("target-posthog")
    clock, world = realtime_world()
    with GitHubSimulator(world) as github, serve_posthog() as posthog:
        destination = PostHogDestination(tmp_path, posthog)
        project = MeltanoProject(
            tmp_path / "meltano", {**tap_settings(github.api_url), **destination.env()}
        )
        streams = discover(tap_config(github.api_url))
        yield Pipeline(world, clock, github, posthog, destination, project, streams)


def test_two_loads_give_one_event_per_row(pipeline: Pipeline):
    pipeline.run()
    pipeline.check("after the first run")
    pipeline.mutate()
    pipeline.run()
    pipeline.check("after new and updated objects of every kind")


def test_faults_and_a_killed_run_lose_nothing(pipeline: Pipeline):
    # Small batches: the target sends while the tap is still extracting.
    pipeline.project.env["TARGET_POSTHOG_BATCH_SIZE_ROWS"] = "25"
    for fault in (
        PostHogFault(status=503, times=2),
        PostHogFault(status=429, retry_after="1"),
        PostHogFault(drop=True),
        PostHogFault(status=502),
    ):
        pipeline.posthog.inject(fault)
    pipeline.run()
    assert sum(r.status != 200 for r in pipeline.posthog.requests) == 5
    pipeline.check("after a run with 5xx, 429 and a dropped connection")

    pipeline.mutate()
    stall = pipeline.posthog.inject(PostHogFault(stall=threading.Event()))
    process, _ = pipeline.project.start("run", EXTRACTOR, "target-posthog")
    try:
        assert stall.reached.wait(timeout=120), "the run never sent to PostHog"
    finally:
        pipeline.project.kill(process)
    pipeline.run("--force")  # Meltano sees the killed run as still running
    pipeline.check("after a run killed during a send and a normal run")
