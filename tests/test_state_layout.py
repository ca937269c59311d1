"""The state's layout (tap_github_activity/state_layout.py): one partition per repository id, a
state written before that layout still loads, and what a repeated sync keeps stays small.

tests/data/state-before-issue-14.json is the state the tap wrote at commit 228c3a0 (before
issue 14's fleet work: partitions named by the whole context, every deployment status id and
whole ETags kept, no traffic read time, no statistics head) after a first sync of the seeded
world of tests/conftest.py, on the same fake clock, the simulator on port 18414."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from github_simulator import FakeClock, GitHubSimulator, World
from tap_github_activity.conditional import STATE_KEY
from tap_github_activity.state_layout import upgrade
from tests.conftest import alice_config, run_sync

# The simulator's port when the state was written.
PORT = 18414
BEFORE = json.loads((Path(__file__).parent / "data" / "state-before-issue-14.json").read_text())


def compact_size(state: dict[str, Any]) -> int:
    return len(json.dumps(state, separators=(",", ":")))


def without_runs(state: dict[str, Any]) -> dict[str, Any]:
    bookmarks = {k: v for k, v in state["bookmarks"].items() if k != "workflow_runs"}
    return {**state, "bookmarks": bookmarks}


def partitions(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        stream: bookmark["partitions"]
        for stream, bookmark in state["bookmarks"].items()
        if "partitions" in bookmark
    }


def test_a_state_from_before_loads_and_nothing_is_read_again(world: World, clock: FakeClock):
    assert clock.now() == 1795176000.0  # the moment the state was written at
    ids = {repo.id for repo in world.repos.values()}
    old_contexts = {p["context"]["repo"] for ps in partitions(BEFORE).values() for p in ps}
    assert old_contexts == {"api", "web", "infra"}
    # Served where it was (GitHub's ETags cover the URLs in the answers).
    with GitHubSimulator(world, port=PORT) as github:
        config = alice_config(github)

        again = run_sync(config, state=BEFORE)

        # Workflow runs keep fingerprints since: each slice is read whole once, its runs at the
        # bookmark emitted again (docs/incremental.md). Nothing else.
        assert set(again.records) == {"workflow_runs", "workflow_jobs"}
        runs = github.requests("/actions/runs$")
        assert [(r.status, r.if_none_match) for r in runs] == [(200, None)] * 3
        # Every other REST request asked with the ETag kept then, and free; the issues,
        # deployments and branch heads by the probe, one point.
        rest = [r for r in github.requests() if r.path != "/graphql" and r not in runs]
        assert len(rest) == 1 + 3 * (4 + 1 + 1 + 1)  # selection; traffic, stats, ...
        assert all(r.if_none_match for r in rest)
        assert {r.status for r in rest} == {304}
        assert github.requests("^/graphql$")[0].points == 1
        # Written in this version's layout (partitions named by the repository id, those that
        # keep nothing left out; ETags under their own key), and smaller.
        for stream, kept in partitions(again.state).items():
            assert {p["context"]["repo_id"] for p in kept} <= ids, stream
            assert [set(p["context"]) for p in kept] == [{"repo_id"}] * len(kept), stream
            assert all(len(p) > 1 for p in kept), stream
        assert len(partitions(again.state)["releases"]) == 3
        assert "conditional" not in json.dumps(again.state)
        # (The runs' fingerprints are new since: docs/incremental.md.) What did not change
        # keeps the forms it had until it does; a state written afresh is smaller yet.
        before = compact_size(without_runs(BEFORE))
        assert compact_size(without_runs(again.state)) < 0.85 * before
        afresh = run_sync(config).state
        assert compact_size(without_runs(afresh)) < 0.65 * before
        github.reset_log()

        third = run_sync(config, state=again.state)

        assert third.records == {}
        # Traffic and statistics were read at the last sync: not asked again.
        assert not github.requests("/traffic/|/stats/")
        assert sum(r.points for r in github.requests()) == 1


def test_a_renamed_repository_keeps_its_partitions(config, github: GitHubSimulator, world: World):
    first = run_sync(config)
    web = world.repo("acme", "web")
    assert web is not None
    with world.lock:
        web.name = "web-app"
    github.reset_log()

    second = run_sync(config, state=first.state)

    # Its bookmarks were found under its id: its history is not read again (answers that
    # carry its URLs, changed with its name, are).
    assert {r["name"] for r in second.records["repositories"]} >= {"web-app"}
    for stream in ("pull_requests", "commits", "issues", "deployments"):
        assert not second.records.get(stream), stream
    for stream, kept in partitions(second.state).items():
        ids = Counter(p["context"]["repo_id"] for p in kept)
        assert set(ids.values()) <= {1}, stream
    assert len(partitions(second.state)["pull_requests"]) == 3


def test_upgrade_names_partitions_by_repository_and_keeps_the_later_of_two():
    old = {
        "bookmarks": {
            "releases": {
                "partitions": [
                    {"context": {"repo_id": 1, "owner": "a", "repo": "x"}, "v": "old name"},
                    {"context": {"repo_id": 2, "owner": "a", "repo": "y"}, "conditional": {}},
                    {"context": {"repo_id": 1, "owner": "a", "repo": "z"}, "v": "new name"},
                ]
            },
            "contributor_stats": {"conditional": {"/repos/a/x/stats/contributors": "~x"}},
            "odd": {"partitions": [{"context": {"p": 1}, "v": 1}]},
        }
    }
    before = json.dumps(old, sort_keys=True)

    upgraded = upgrade(old)

    assert upgraded["bookmarks"]["releases"]["partitions"] == [
        {"context": {"repo_id": 2}, "etags": {}},
        {"context": {"repo_id": 1}, "v": "new name"},
    ]
    # ETags under their key of this version (conditional.STATE_KEY).
    assert upgraded["bookmarks"]["contributor_stats"] == {
        STATE_KEY: {"/repos/a/x/stats/contributors": "~x"}
    }
    assert upgraded["bookmarks"]["odd"] == old["bookmarks"]["odd"]  # not a repository's
    assert json.dumps(old, sort_keys=True) == before  # the input is left as it was
    assert upgrade({}) == {}
