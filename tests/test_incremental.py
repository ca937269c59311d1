"""Every change reaches the warehouse: after each of the world's mutations (github_simulator/
truth.py MUTATIONS: old-dated fast-forwards, merges of old branches, force-pushes keeping their
dates, renamed branches, re-runs of runs up to 30 days old, ...), the next sync emits exactly
the changed rows, and an incremental chain equals a fresh full sync of the same world after
upsert by key."""

from __future__ import annotations

import copy
import random
from datetime import timedelta
from typing import Any

import pytest

from github_simulator import FakeClock, GitHubSimulator, World, seeded_world
from github_simulator import actions as runs_sim
from github_simulator import commits as git_sim
from github_simulator.truth import MUTATIONS, caught_rows, changed_rows
from tests.conftest import SyncResult, alice_config, run_sync

ACTIONS = {"workflow_runs", "workflow_jobs"}
STREAMS = {"commits", "commit_branches", *ACTIONS}
LISTING = r"^/repos/[^/]+/[^/]+/actions/runs$"
KEYS = {
    "commits": ("repo_id", "sha"),
    "commit_branches": ("repo_id", "branch", "sha"),
    "workflow_runs": ("id", "run_attempt"),
    "workflow_jobs": ("id",),
}


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography


def truth(world: World, stream: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """What a full sync emits now (runs and jobs: each run's latest attempt)."""
    if stream == "commits":
        return git_sim.expected_commits(world, ["*"])
    if stream == "commit_branches":
        return git_sim.expected_commit_branches(world, ["*"])
    latest = runs_sim.latest_attempts(world)
    if stream == "workflow_runs":
        return runs_sim.expected_workflow_runs(world, latest)
    return runs_sim.expected_workflow_jobs(world, latest)


def rows(result: SyncResult, stream: str, like: dict[tuple[Any, ...], dict[str, Any]]) -> Any:
    """The emitted rows by key, with the fields the truth knows."""
    fields = next(iter(like.values()), {}).keys()
    return {
        tuple(r[k] for k in KEYS[stream]): {f: r[f] for f in fields}
        for r in result.records.get(stream, [])
    }


@pytest.fixture
def scenario(clock: FakeClock) -> Any:
    world = seeded_world(clock)
    with GitHubSimulator(world) as github:
        config = alice_config(github, commit_branches=["*"])
        first = run_sync(config, streams=STREAMS)
        before = {stream: truth(world, stream) for stream in STREAMS}
        clock.advance(3600)
        MUTATIONS["commits"](world, seeded(13))
        MUTATIONS["actions"](world, seeded(13))
        clock.advance(60)  # the sync starts after the changes' second
        second = run_sync(config, state=first.state, streams=STREAMS)
        fresh = run_sync(config, streams=STREAMS)
        yield world, first, before, second, fresh


def test_the_next_sync_emits_every_changed_row(scenario: Any) -> None:
    world, _, before, second, _ = scenario
    for stream in STREAMS:
        after = truth(world, stream)
        changed = changed_rows(before[stream], after)
        emitted = rows(second, stream, after)
        assert changed, stream
        assert caught_rows(emitted, after, changed) == changed, stream


def test_the_next_sync_emits_nothing_else(scenario: Any) -> None:
    world, _, before, second, _ = scenario
    after = truth(world, "commit_branches")
    assert set(rows(second, "commit_branches", after)) == changed_rows(
        before["commit_branches"], after
    )
    # Runs: exactly the changed rows (each slice knows the rows it held: no date decides).
    after = truth(world, "workflow_runs")
    emitted_runs = set(rows(second, "workflow_runs", after))
    assert emitted_runs == changed_rows(before["workflow_runs"], after)
    # Jobs: every job of each emitted attempt (a job carries no change of its own to tell).
    jobs = truth(world, "workflow_jobs")
    assert set(rows(second, "workflow_jobs", jobs)) == {
        k for k, job in jobs.items() if (job["run_id"], job["run_attempt"]) in emitted_runs
    }
    # Commits: exactly the new ones, although a force-push rebased a branch onto the default
    # branch and a branch was renamed (their commits are newly on a branch, not new).
    after = truth(world, "commits")
    assert set(rows(second, "commits", after)) == changed_rows(before["commits"], after)


def test_the_incremental_chain_equals_a_fresh_full_sync(scenario: Any) -> None:
    world, first, _, second, fresh = scenario
    for stream in STREAMS:
        after = truth(world, stream)
        chain = rows(first, stream, after) | rows(second, stream, after)
        full = rows(fresh, stream, after)
        assert full == after, stream
        assert {k: chain.get(k) for k in full} == full, stream
        left = set(chain) - set(full)
        if stream in ("commits", "commit_branches"):
            # Commits that left a branch (force-pushed away, renamed branch) stay: no delete.
            data = {repo.id: git_sim.git(world, repo) for repo in world.repos.values()}
            assert all(
                key[-1] not in data[key[0]].reachable(data[key[0]].branches.get(key[1], ""))
                if stream == "commit_branches"
                else True
                for key in left
            )
        else:
            # Attempts (and their jobs) that were the latest at the first sync.
            assert all(k not in after for k in left), stream


# -- workflow runs: no date decides which run is new ---------------------------------------------


def bookmarks(state: dict[str, Any]) -> dict[int, str]:
    """repo_id -> the workflow_runs bookmark of a state."""
    return {
        p["context"]["repo_id"]: p["replication_key_value"]
        for p in state["bookmarks"]["workflow_runs"]["partitions"]
        if "replication_key_value" in p
    }


def assert_exactly_the_changes(
    world: World, before: dict[str, Any], result: SyncResult
) -> set[tuple[Any, ...]]:
    """The sync emitted every changed run attempt and nothing else, and the jobs of exactly the
    attempts it emitted (a job carries no change of its own to tell); the changed runs."""
    after = truth(world, "workflow_runs")
    changed = changed_rows(before["workflow_runs"], after)
    emitted = rows(result, "workflow_runs", after)
    assert set(emitted) == changed
    assert caught_rows(emitted, after, changed) == changed
    jobs = truth(world, "workflow_jobs")
    emitted_jobs = rows(result, "workflow_jobs", jobs)
    assert set(emitted_jobs) == {
        k for k, job in jobs.items() if (job["run_id"], job["run_attempt"]) in changed
    }
    changed_jobs = changed_rows(before["workflow_jobs"], jobs)
    assert caught_rows(emitted_jobs, jobs, changed_jobs) == changed_jobs
    return changed


def test_runs_reaching_the_listing_behind_the_bookmark_are_emitted(clock: FakeClock) -> None:
    # The world changes twice, two minutes apart: the second time with runs back-dated behind
    # the bookmark the sync in between wrote (mutate_actions adds a run 9 minutes old).
    world = seeded_world(clock)
    with GitHubSimulator(world) as github:
        config = alice_config(github)
        state = run_sync(config, streams=ACTIONS).state
        for step, advance in enumerate((3600, 120)):
            before = {stream: truth(world, stream) for stream in ACTIONS}
            marks = bookmarks(state)
            clock.advance(advance)
            for mutate in MUTATIONS.values():
                mutate(world, seeded(13 + step))
            result = run_sync(config, state=state, streams=ACTIONS)
            state = result.state
            changed = assert_exactly_the_changes(world, before, result)
            after = truth(world, "workflow_runs")
            behind = {
                k for k in changed if after[k]["updated_at"] < marks.get(after[k]["repo_id"], "")
            }
            # The second change holds new runs whose updated_at is behind the bookmark.
            assert (len(behind) >= 4) if step else not behind


def test_an_incremental_chain_equals_a_fresh_full_sync(clock: FakeClock) -> None:
    world = seeded_world(clock)
    rng = seeded(21)
    with GitHubSimulator(world) as github:
        config = alice_config(github)
        chain: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {s: {} for s in ACTIONS}
        state: dict[str, Any] = {}
        for step in range(7):
            result = run_sync(config, state=state, streams=ACTIONS)
            state = result.state
            for stream in ACTIONS:  # upsert by key
                chain[stream].update(
                    {tuple(r[k] for k in KEYS[stream]): r for r in result.records.get(stream, [])}
                )
            if step == 6:
                break
            clock.advance(rng.choice((30, 120, 900, 3600)))
            # Runs finish, recent and 29-day-old runs are re-run, new runs start (one back-dated
            # 9 minutes); and runs reach the listing late: created up to 20 minutes ago, some
            # re-run at once.
            runs_sim.mutate_actions(world, rng)
            for repo in runs_sim.readable_repos(world):
                created = world.now() - timedelta(minutes=rng.randint(2, 20))
                outcome = rng.choice(("success", "failure", "in_progress"))
                run = runs_sim.add_run(world, repo, rng, created, outcome)
                if outcome == "failure" and rng.random() < 0.5:
                    runs_sim.rerun(world, run, rng, created + timedelta(minutes=1))
        fresh = run_sync(config, streams=ACTIONS)
    for stream in ACTIONS:
        after = truth(world, stream)
        full = rows(fresh, stream, after)
        assert full == after, stream
        fields = next(iter(after.values())).keys()
        loaded = {key: {f: row[f] for f in fields} for key, row in chain[stream].items()}
        assert {key: loaded.get(key) for key in full} == full, stream
        # Besides: attempts (and their jobs) that were the latest at an earlier sync.
        assert all(key not in after for key in set(loaded) - set(full)), stream


def test_a_state_without_fingerprints_is_judged_by_the_bookmark_once(
    clock: FakeClock,
) -> None:
    # A state of an earlier version: slices and ETags, no fingerprints. Each slice is read
    # whole once (a point each), its runs emitted when updated since the bookmark, as that
    # version did; then it keeps its fingerprints and no date decides.
    world = seeded_world(clock)
    with GitHubSimulator(world) as github:
        config = alice_config(github)
        state = copy.deepcopy(run_sync(config, streams=ACTIONS).state)
        partitions = state["bookmarks"]["workflow_runs"]["partitions"]
        for partition in partitions:
            for piece in partition["slices"]:
                assert piece.pop("seen")
        slices = sum(len(p["slices"]) for p in partitions)
        for step, advance in enumerate((3600, 120, 600)):
            before = {stream: truth(world, stream) for stream in ACTIONS}
            clock.advance(advance)
            if step < 2:
                runs_sim.mutate_actions(world, seeded(30 + step))
            github.reset_log()
            result = run_sync(config, state=state, streams=ACTIONS)
            state = result.state
            assert_exactly_the_changes(world, before, result)
            listings = github.requests(LISTING)
            if step == 0:
                assert len(listings) == slices
                assert all(r.status == 200 and r.if_none_match is None for r in listings)
            assert all(
                "seen" in piece
                for p in state["bookmarks"]["workflow_runs"]["partitions"]
                for piece in p["slices"]
            )
        # Nothing changed at the last step: every slice answered 304.
        assert "workflow_runs" not in result.records
        assert {(r.status, r.points) for r in listings} == {(304, 0)}
