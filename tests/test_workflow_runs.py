"""The workflow_runs and workflow_jobs streams: every attempt seen a row, the re-run window,
conditional pages, re-runs and their earlier attempts, batched jobs, and repositories without
Actions."""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator

from github_simulator import FakeClock, GitHubSimulator, World
from github_simulator import actions as sim
from github_simulator.world import iso
from tap_github_activity.errors import ConfigError
from tap_github_activity.fetch import actions as fetch_actions
from tap_github_activity.settings import Settings
from tap_github_activity.tap import TapGitHubActivity
from tests.conftest import SyncResult, run_sync, select

ACTIONS = {"workflow_runs", "workflow_jobs"}
LISTING = r"^/repos/[^/]+/[^/]+/actions/runs$"
ATTEMPT = r"/actions/runs/\d+/attempts/\d+$"
JOBS = r"/actions/runs/\d+/attempts/\d+/jobs$"
SHAPES = json.loads(
    (Path(__file__).parents[1] / "github_simulator" / "rest_shapes.json").read_text()
)
RUN_SHAPE = "GET /repos/{owner}/{repo}/actions/runs"
JOBS_SHAPE = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
RUNNER_FIELDS = ("runner_name", "labels")
EARLIER_ATTEMPTS = {"workflow_runs_earlier_attempts": True}


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography


RUN_FIELDS = (
    "repo_id",
    "run_number",
    "workflow_id",
    "workflow_name",
    "event",
    "status",
    "conclusion",
    "head_branch",
    "head_sha",
    "actor_login",
    "actor_id",
    "triggering_actor_login",
    "triggering_actor_id",
    "created_at",
    "updated_at",
    "run_started_at",
    "duration_seconds",
)
JOB_FIELDS = (
    "repo_id",
    "run_id",
    "run_attempt",
    "name",
    "status",
    "conclusion",
    "started_at",
    "completed_at",
    "duration_seconds",
    "runner_name",
    "labels",
    "failed_steps",
)


def run_rows(result: SyncResult) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id, run_attempt) -> the fields the simulator's truth knows, of every run emitted."""
    return {
        (r["id"], r["run_attempt"]): {name: r[name] for name in RUN_FIELDS}
        for r in result.records.get("workflow_runs", [])
    }


def job_rows(
    result: SyncResult,
    *,
    without: tuple[str, ...] = (),
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id,) -> the fields the simulator's truth knows, of every job emitted."""
    fields = [name for name in JOB_FIELDS if name not in without]
    return {
        (r["id"],): {name: r[name] for name in fields}
        for r in result.records.get("workflow_jobs", [])
    }


def strip(
    table: dict[tuple[Any, ...], dict[str, Any]],
    *names: str,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {key: {k: v for k, v in row.items() if k not in names} for key, row in table.items()}


def expected_runs(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The simulator's runs as a first sync emits them by default: their latest attempts (see
    workflow_runs_earlier_attempts)."""
    return sim.expected_workflow_runs(world, sim.latest_attempts(world))


def expected_jobs(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The simulator's jobs as a first sync emits them by default: the latest attempts', runner
    fields null (GraphQL has none; see workflow_jobs_runner_details)."""
    return sim.expected_workflow_jobs(world, sim.latest_attempts(world))


def unsuccessful_repos(world: World, runs: set[int] | None = None) -> int:
    """Repositories with a failed or cancelled job in a latest attempt (of `runs`): each costs
    one steps query."""
    return sum(
        any(
            job.conclusion in ("failure", "cancelled", "timed_out")
            for run in sim.runs_of(world, repo)
            if runs is None or run.id in runs
            for job in run.latest.jobs
        )
        for repo in sim.readable_repos(world)
    )


def attempts(world: World) -> list[tuple[sim.Run, sim.Attempt]]:
    return [
        (run, attempt)
        for repo in sim.readable_repos(world)
        for run in sim.runs_of(world, repo)
        for attempt in run.attempts
    ]


def bookmarks(result: SyncResult) -> dict[int, str]:
    """repo_id -> the workflow_runs bookmark (read it before the next sync, which updates the
    state it is given)."""
    return {
        p["context"]["repo_id"]: p["replication_key_value"]
        for p in result.state["bookmarks"]["workflow_runs"]["partitions"]
        if "replication_key_value" in p
    }


def midnight(moment: datetime, days_before: int) -> datetime:
    return (moment - timedelta(days=days_before)).replace(hour=0, minute=0, second=0, microsecond=0)


def midnight_before(moment: datetime, days: int) -> str:
    return iso(midnight(moment, days))


def sync_catalog(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    streams: set[str],
    deselect: dict[str, tuple[str, ...]],
) -> SyncResult:
    """run_sync with some properties deselected in the catalog."""
    discovered = TapGitHubActivity(config=config, validate_config=True)
    catalog = select(discovered.catalog_dict, streams)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            crumb = metadata["breadcrumb"]
            if len(crumb) == 2 and crumb[1] in deselect.get(entry["tap_stream_id"], ()):
                metadata["metadata"]["selected"] = False
    tap = TapGitHubActivity(config=config, state=state or {}, catalog=catalog, validate_config=True)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap.sync_all()
    return SyncResult([json.loads(line) for line in buffer.getvalue().splitlines() if line], tap)


# -- first sync ----------------------------------------------------------------------------------


def test_first_sync_emits_each_runs_latest_attempt_and_its_jobs(
    config, github: GitHubSimulator, world: World
):
    result = run_sync(config, streams=ACTIONS)

    assert run_rows(result) == expected_runs(world)
    assert job_rows(result) == expected_jobs(world)
    assert any(key[1] > 1 for key in run_rows(result))  # re-runs: their latest attempt
    # Per repository: every run in one unfiltered page (10 runs: one slice, nothing to cut);
    # the jobs in one GraphQL query per repository, and the steps of its unsuccessful jobs in
    # one more. No earlier attempt is asked.
    assert [r.query.get("created") for r in github.requests(LISTING)] == [None] * 3
    assert github.requests(ATTEMPT) == []
    assert github.requests(JOBS) == []
    assert github.points("core") == 1 + 3
    queries = github.requests("^/graphql$")
    assert len(queries) == 3 + unsuccessful_repos(world)
    assert all(q.points == 1 for q in queries)


def test_first_sync_with_earlier_attempts_emits_every_attempt_and_job(
    config, github: GitHubSimulator, world: World
):
    result = run_sync({**config, **EARLIER_ATTEMPTS}, streams=ACTIONS)

    assert run_rows(result) == sim.expected_workflow_runs(world)
    assert job_rows(result) == sim.expected_workflow_jobs(world)
    every = attempts(world)
    reruns = [(run, a) for run, a in every if a.number > 1]
    assert reruns  # re-runs were seeded: their first attempts were fetched
    assert any(
        r["status"] == "in_progress" and r["duration_seconds"] is None
        for r in result.records["workflow_runs"]
    )
    assert any(r["failed_steps"] for r in result.records["workflow_jobs"])
    # Per repository: every run in one page; one request per earlier attempt of a re-run, and
    # one for its jobs (a check suite lists the latest attempt's only); the latest attempts'
    # jobs in one GraphQL query per repository, and the steps of its unsuccessful jobs in one
    # more.
    assert len(github.requests(LISTING)) == 3
    earlier = len(every) - len({run.id for run, _ in every})
    assert len(github.requests(ATTEMPT)) == earlier
    assert len(github.requests(JOBS)) == earlier
    assert github.points("core") == 1 + 3 + 2 * earlier
    queries = github.requests("^/graphql$")
    assert len(queries) == 3 + unsuccessful_repos(world)
    assert all(q.points == 1 for q in queries)


def test_unchanged_window_costs_nothing(config, github: GitHubSimulator, world: World):
    first = run_sync(config, streams=ACTIONS)
    github.reset_log()

    second = run_sync(config, state=first.state, streams=ACTIONS)

    assert "workflow_runs" not in second.records
    assert "workflow_jobs" not in second.records
    listings = github.requests(LISTING)
    assert [(r.status, r.points) for r in listings] == [(304, 0)] * 3
    assert github.points() == 1  # the repository listing
    partitions = first.state["bookmarks"]["workflow_runs"]["partitions"]
    assert max(len(json.dumps(p)) for p in partitions) < 1024


def test_changes_are_emitted_exactly(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    first = run_sync(config, streams=ACTIONS)
    before = sim.expected_workflow_runs(world)
    running = {key for key, row in before.items() if row["status"] != "completed"}
    clock.advance(3600)
    sim.mutate_actions(world, seeded(1))
    github.reset_log()

    second = run_sync(config, state=first.state, streams=ACTIONS)

    now = sim.expected_workflow_runs(world)
    changed = {key for key, row in now.items() if before.get(key) != row}
    # Emitted: what changed, nothing else.
    emitted = run_rows(second)
    assert set(emitted) == changed
    assert emitted == {key: now[key] for key in emitted}
    # The runs in progress finished; a re-run is a new row; new runs arrived.
    assert running
    assert all(emitted[key]["status"] == "completed" for key in running)
    new_attempts = [key for key in changed if key not in before and key[1] > 1]
    assert len(new_attempts) == 6  # a recent run and the oldest run re-run, per repository
    old_runs = {
        run.id
        for repo in sim.readable_repos(world)
        for run in sim.runs_of(world, repo)
        if world.now() - run.created_at > timedelta(days=20)
    }
    assert len({key[0] for key in new_attempts} & old_runs) == 3  # 25 days old, not lost
    assert len([key for key in changed if key not in before and key[1] == 1]) == 6
    # Jobs of exactly the emitted attempts; no earlier attempt had to be fetched. All are
    # latest attempts: their jobs come from GraphQL, one query per repository (and one for
    # the steps of the failed ones, if any).
    jobs = expected_jobs(world)
    assert job_rows(second) == {
        key: row for key, row in jobs.items() if (row["run_id"], row["run_attempt"]) in emitted
    }
    assert github.requests(ATTEMPT) == []
    assert github.requests(JOBS) == []
    assert len(github.requests("^/graphql$")) == 3 + unsuccessful_repos(
        world, {key[0] for key in emitted}
    )
    # And then nothing again.
    github.reset_log()
    third = run_sync(config, state=second.state, streams=ACTIONS)
    assert "workflow_runs" not in third.records
    assert github.points() == 1


def test_a_rerun_in_an_older_slice_costs_that_slice_only(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    api = world.repo("acme", "api")
    assert api is not None
    rng = seeded(2)
    now = world.now()
    for index in range(120):  # 130 runs: two slices of the window
        sim.add_run(
            world, api, rng, now - timedelta(hours=30) + timedelta(minutes=index), "success", jobs=1
        )
    first = run_sync(config, streams=ACTIONS)
    # Every run in one unfiltered listing (2 pages), then the two slices cut from it, read once
    # each for their ETags: the older one closed, the newer one open-ended.
    queries = [r.query.get("created") for r in github.requests("/repos/acme/api/actions/runs$")]
    assert queries[:2] == [None, None]
    assert len(queries) == 4
    assert ".." in queries[2]
    assert queries[3].startswith(">=")
    window = sorted(sim.runs_of(world, api), key=lambda r: (r.created_at, r.id), reverse=True)
    old = next(r for r in window[100:] if r.latest.status == "completed")
    clock.advance(3600)
    sim.rerun(world, old, rng, world.now() - timedelta(minutes=3))
    github.reset_log()

    second = run_sync(config, state=first.state, streams=ACTIONS)

    assert [
        (r.query["created"], r.status, r.points)
        for r in github.requests("/repos/acme/api/actions/runs$")
    ] == [(queries[2], 200, 1), (queries[3], 304, 0)]
    assert list(run_rows(second)) == [(old.id, old.latest.number)]
    assert {r["run_attempt"] for r in second.records["workflow_jobs"]} == {old.latest.number}
    # The new attempt is the latest: its jobs in one GraphQL query (it succeeded: no steps).
    assert github.requests(JOBS) == []
    assert len(github.requests("^/graphql$")) == 1
    github.reset_log()
    third = run_sync(config, state=second.state, streams=ACTIONS)
    assert "workflow_runs" not in third.records
    assert github.points() == 1


def rerun_run(world: World, rng: random.Random, reruns: int) -> sim.Run:
    """A failing run of acme/api, 3 hours old, re-run `reruns` times since, an hour apart."""
    api = world.repo("acme", "api")
    assert api is not None
    run = sim.add_run(world, api, rng, world.now() - timedelta(hours=3), "failure")
    for hours in range(reruns, 0, -1):
        sim.rerun(
            world,
            run,
            rng,
            world.now() - timedelta(hours=hours),
            "failure" if hours > 1 else "success",
        )
    return run


def test_earlier_attempts_are_read_for_runs_new_since_the_bookmark(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    rng = seeded(3)
    run = rerun_run(world, rng, reruns=2)
    config = {**config, **EARLIER_ATTEMPTS}

    first = run_sync(config, streams=ACTIONS)

    assert {1, 2, 3} <= {key[1] for key in run_rows(first) if key[0] == run.id}
    assert sorted(r.path for r in github.requests(f"/runs/{run.id}/attempts/\\d+$")) == [
        f"/repos/acme/api/actions/runs/{run.id}/attempts/{n}" for n in (1, 2)
    ]

    # Known at the last sync and re-run once: only the new attempt is read.
    clock.advance(3600)
    sim.rerun(world, run, rng, world.now())
    github.reset_log()
    second = run_sync(config, state=first.state, streams=ACTIONS)
    assert [key for key in run_rows(second) if key[0] == run.id] == [(run.id, 4)]
    assert github.requests(ATTEMPT) == []

    # Re-run twice between two syncs: attempt 5 was never the latest at a sync, and is lost
    # (the module documents it; reading every attempt of every re-run would cost more).
    clock.advance(3600)
    sim.rerun(world, run, rng, world.now() - timedelta(minutes=30))
    sim.rerun(world, run, rng, world.now())
    third = run_sync(config, state=second.state, streams=ACTIONS)
    assert [key for key in run_rows(third) if key[0] == run.id] == [(run.id, 6)]


def test_without_earlier_attempts_a_rerun_seen_later_adds_its_attempt(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    rng = seeded(3)
    run = rerun_run(world, rng, reruns=1)

    first = run_sync(config, streams=ACTIONS)

    assert [key for key in run_rows(first) if key[0] == run.id] == [(run.id, 2)]
    assert {r["run_attempt"] for r in first.records["workflow_jobs"] if r["run_id"] == run.id} == {
        2
    }
    assert github.requests(ATTEMPT) == []

    clock.advance(3600)
    sim.rerun(world, run, rng, world.now())
    github.reset_log()
    second = run_sync(config, state=first.state, streams=ACTIONS)
    assert run_rows(second) == sim.expected_workflow_runs(world, {(run.id, 3)})
    assert job_rows(second) == sim.expected_workflow_jobs(world, {(run.id, 3)})
    assert github.requests(ATTEMPT) == []
    assert github.requests(JOBS) == []


# -- jobs ----------------------------------------------------------------------------------------


def test_jobs_come_from_graphql_in_batches_without_runner_fields(
    config, github: GitHubSimulator, world: World
):
    result = run_sync({**config, **EARLIER_ATTEMPTS}, streams=ACTIONS)

    assert job_rows(result) == sim.expected_workflow_jobs(world)
    assert all(
        r["runner_name"] is None and r["labels"] is None for r in result.records["workflow_jobs"]
    )
    assert any(r["failed_steps"] for r in result.records["workflow_jobs"])
    # Latest attempts: one query per repository (up to 100 runs each), check runs without
    # steps: 10 runs are 10 connection requests, 1 point. Then the steps of the unsuccessful
    # jobs, by their node ids: 1 point. Earlier attempts' jobs are not in the check suite:
    # REST.
    queries = github.requests("^/graphql$")
    assert len(queries) == 3 + unsuccessful_repos(world)
    assert [r.points for r in queries] == [1] * len(queries)
    earlier = [a for run, a in attempts(world) if a is not run.latest]
    assert len(github.requests(JOBS)) == len(earlier)


def test_runner_details_read_every_attempts_jobs_from_rest(
    config, github: GitHubSimulator, world: World
):
    result = run_sync({**config, "workflow_jobs_runner_details": True}, streams=ACTIONS)

    latest = sim.latest_attempts(world)
    assert job_rows(result) == sim.expected_workflow_jobs(world, latest, runner_details=True)
    assert any(r["runner_name"] for r in result.records["workflow_jobs"])
    assert len(github.requests(JOBS)) == len(latest)
    assert github.requests("^/graphql$") == []


def test_graphql_batches_hold_batch_size_runs(
    config, github: GitHubSimulator, world: World, clock: FakeClock, monkeypatch
):
    first = run_sync(config, streams=ACTIONS)
    api = world.repo("acme", "api")
    assert api is not None
    bookmark = bookmarks(first)[api.id]
    clock.advance(3600)
    rng = seeded(4)
    new = [
        sim.add_run(world, api, rng, world.now() - timedelta(minutes=20 - i), "success")
        for i in range(10)
    ]
    monkeypatch.setattr(fetch_actions, "JOBS_BATCH_SIZE", 4)
    github.reset_log()

    second = sync_catalog(
        config, state=first.state, streams=ACTIONS, deselect={"workflow_jobs": RUNNER_FIELDS}
    )

    # The new runs; not the run updated in the bookmark's second (the slice held its row).
    at_bookmark = {
        run.id for run in sim.runs_of(world, api) if sim.iso(run.latest.updated_at) == bookmark
    }
    assert at_bookmark
    emitted = {key[0] for key in run_rows(second)}
    assert emitted == {run.id for run in new}
    assert len(github.requests("^/graphql$")) == math.ceil(len(emitted) / 4) == 3
    assert github.requests(JOBS) == []
    assert {r["id"] for r in second.records["workflow_jobs"]} == {
        job.id for run in sim.runs_of(world, api) if run.id in emitted for job in run.latest.jobs
    }


def test_jobs_alone_still_read_the_runs_and_keep_the_bookmark(
    config, github: GitHubSimulator, world: World
):
    first = run_sync(config, streams={"workflow_jobs"})

    assert "workflow_runs" not in first.records
    assert job_rows(first) == expected_jobs(world)
    github.reset_log()
    second = run_sync(config, state=first.state, streams={"workflow_jobs"})
    assert "workflow_jobs" not in second.records
    assert github.points() == 1


def test_repositories_without_actions_are_skipped_and_counted(
    config, github: GitHubSimulator, world: World
):
    web, infra = world.repo("acme", "web"), world.repo("acme", "infra")
    assert web is not None
    assert infra is not None
    sim.store(world).unavailable.update({web.id: 403, infra.id: 404})

    result = run_sync(config, streams=ACTIONS)

    assert run_rows(result) == expected_runs(world)
    assert {r["repo_id"] for r in result.records["workflow_runs"]} == {world.repo("acme", "api").id}  # type: ignore[union-attr]
    assert job_rows(result) == expected_jobs(world)
    skipped = result.tap.run_summary.skipped["workflow_runs"]
    assert sorted(skipped) == ["acme/infra (404)", "acme/web (403)"]
    assert sorted(r.status for r in github.requests("/repos/acme/(web|infra)/")) == [403, 404]


def test_listings_over_githubs_cap_are_read_in_ranges(
    config, github: GitHubSimulator, world: World
):
    api = world.repo("acme", "api")
    assert api is not None
    rng = seeded(5)
    oldest = world.now() - timedelta(days=200)
    for index in range(1050):  # all before the window
        sim.add_run(
            world,
            api,
            rng,
            oldest + timedelta(hours=4 * index, seconds=index % 2),
            "success",
            jobs=1,
        )
    start_date = iso(oldest - timedelta(days=1))

    result = run_sync({**config, "start_date": start_date}, streams={"workflow_runs"})

    assert run_rows(result) == expected_runs(world)
    queries = [r.query["created"] for r in github.requests("/repos/acme/api/actions/runs$")]
    # 1,000 runs (10 pages), then those up to the oldest read; then the window's slice (the
    # seeded runs of the last 30 days), read once for its ETags.
    assert queries.count(f">={start_date}") == 10
    assert queries[10].startswith(start_date)
    assert queries[11] == f">={iso(world.now() - timedelta(days=30))}"
    assert len(queries) == 12


# -- the re-run window setting and the simulator -------------------------------------------------


def test_the_rerun_window_bounds_the_watched_slices(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    api = world.repo("acme", "api")
    assert api is not None
    rng = seeded(6)
    for index in range(150):  # 5 days of runs, every 48 minutes
        sim.add_run(world, api, rng, world.now() - timedelta(minutes=48 * index + 5), "success")
    first = run_sync({**config, "workflow_runs_rerun_window_days": 1}, streams={"workflow_runs"})
    slices = next(
        p["slices"]
        for p in first.state["bookmarks"]["workflow_runs"]["partitions"]
        if p["context"]["repo_id"] == api.id
    )
    # Only the last day is watched (and what was running): one slice of 30-odd runs, with a
    # fingerprint (8 characters) of each.
    assert len(slices) == 1
    assert slices[0]["low"] >= iso(world.now() - timedelta(days=1, minutes=1))
    assert slices[0]["high"] is None
    watched = [r for r in sim.runs_of(world, api) if iso(r.created_at) >= slices[0]["low"]]
    assert 30 <= len(watched) < 40
    assert [len(page) for page in slices[0]["seen"]] == [8 * len(watched)]
    assert len(json.dumps({**slices[0], "seen": []})) < 100
    # A re-run of a run older than the window is not seen (documented); a newer one is.
    older = next(
        r for r in sim.runs_of(world, api) if world.now() - r.created_at > timedelta(days=2)
    )
    newer = max(sim.runs_of(world, api)[:-1], key=lambda r: r.created_at)
    clock.advance(600)
    sim.rerun(world, older, rng, world.now())
    sim.rerun(world, newer, rng, world.now())
    second = run_sync(
        {**config, "workflow_runs_rerun_window_days": 1},
        state=first.state,
        streams={"workflow_runs"},
    )
    assert {key[0] for key in run_rows(second) if key[1] > 1} == {newer.id}


def test_the_rerun_window_setting_is_checked(config):
    for value in (-1, 31, "30"):
        with pytest.raises(ConfigError, match="workflow_runs_rerun_window_days"):
            Settings.from_config({**config, "workflow_runs_rerun_window_days": value}, version="0")


def test_start_date_bounds_the_first_sync(config, github: GitHubSimulator, world: World):
    recent = world.now() - timedelta(days=1)
    first = run_sync({**config, "start_date": iso(recent)}, streams={"workflow_runs"})

    assert {r.query["created"] for r in github.requests(LISTING)} == {f">={iso(recent)}"}
    assert set(run_rows(first)) == {
        key for key, row in expected_runs(world).items() if row["created_at"] >= iso(recent)
    }


def test_simulated_endpoints_match_githubs_shapes(github: GitHubSimulator, world: World):
    headers = {"Authorization": "token ghp_alice"}
    base = f"{github.api_url}/repos/acme/api/actions/runs"

    def get(url: str, **params: str) -> Any:
        response = requests.get(url, headers=headers, params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    runs = get(base)
    assert list(Draft7Validator(SHAPES[RUN_SHAPE]).iter_errors(runs)) == []
    item_shape = SHAPES[RUN_SHAPE]["properties"]["workflow_runs"]["items"]
    rerun = next(r for r in runs["workflow_runs"] if r["run_attempt"] > 1)
    attempt = get(f"{base}/{rerun['id']}/attempts/1")
    assert list(Draft7Validator(item_shape).iter_errors(attempt)) == []
    assert attempt["run_attempt"] == 1
    assert attempt["previous_attempt_url"] is None
    run_url = f"{base}/{rerun['id']}"
    for jobs in (
        get(f"{run_url}/jobs"),
        get(f"{run_url}/jobs", filter="all"),
        get(f"{run_url}/attempts/1/jobs"),
    ):
        assert list(Draft7Validator(SHAPES[JOBS_SHAPE]).iter_errors(jobs)) == []
    assert len(get(f"{base}/{rerun['id']}/jobs", filter="all")["jobs"]) == sum(
        len(get(f"{base}/{rerun['id']}/attempts/{n}/jobs")["jobs"])
        for n in range(1, rerun["run_attempt"] + 1)
    )
    # GitHub's date qualifiers.
    created = sorted(r["created_at"] for r in runs["workflow_runs"])
    middle = created[len(created) // 2]
    half = len(created) // 2
    assert len(get(base, created=f">={middle}")["workflow_runs"]) == len(created) - half
    assert len(get(base, created=f"<{middle}")["workflow_runs"]) == len(created) // 2
    assert (
        len(get(base, created=f"{created[0]}..{middle}")["workflow_runs"]) == len(created) // 2 + 1
    )
    assert len(get(base, created=middle[:10])["workflow_runs"]) == sum(
        c[:10] == middle[:10] for c in created
    )
    assert all(
        r["status"] == "in_progress" for r in get(base, status="in_progress")["workflow_runs"]
    )
    assert all(r["conclusion"] == "failure" for r in get(base, status="failure")["workflow_runs"])
