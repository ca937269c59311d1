"""Every change reaches the warehouse: after each of the world's mutations (github_simulator/
truth.py MUTATIONS: old-dated fast-forwards, merges of old branches, force-pushes keeping their
dates, renamed branches, re-runs of runs up to 30 days old, ...), the next sync emits exactly
the changed rows, and an incremental chain equals a fresh full sync of the same world after
upsert by key."""

from __future__ import annotations

import random
from typing import Any

import pytest

from github_simulator import FakeClock, GitHubSimulator, World, seeded_world
from github_simulator import actions as runs_sim
from github_simulator import commits as git_sim
from github_simulator.truth import MUTATIONS, caught_rows, changed_rows
from tests.conftest import SyncResult, alice_config, run_sync

STREAMS = {"commits", "commit_branches", "workflow_runs", "workflow_jobs"}
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
    world, first, before, second, _ = scenario
    after = truth(world, "commit_branches")
    assert set(rows(second, "commit_branches", after)) == changed_rows(
        before["commit_branches"], after
    )
    # Runs: also those updated in the bookmark's own second (the bookmark is inclusive).
    after = truth(world, "workflow_runs")
    bookmarks = {
        p["context"]["repo_id"]: p.get("replication_key_value")
        for p in first.state["bookmarks"]["workflow_runs"]["partitions"]
    }
    at_bookmark = {k for k, r in after.items() if r["updated_at"] == bookmarks.get(r["repo_id"])}
    emitted_runs = set(rows(second, "workflow_runs", after))
    assert emitted_runs - changed_rows(before["workflow_runs"], after) <= at_bookmark
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
