"""The commits and commit_branches streams: GraphQL history walks per branch, bookmarks per
repository and branch, merges of old-dated branches, force-pushes, and what each run costs."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator

from github_simulator import FakeClock, GitHubSimulator, World, seeded_world
from github_simulator import commits as sim
from github_simulator.world import iso
from tap_github_activity.client import GitHubClient
from tap_github_activity.fetch.heads import read_oid, stored_oid
from tap_github_activity.streams.base import event_uuid
from tests.conftest import SyncResult, alice_config, run_sync

BOTH = {"commits", "commit_branches"}
SHAPES = json.loads(
    (Path(__file__).parents[1] / "github_simulator" / "rest_shapes.json").read_text()
)
FIELDS = (
    "message_headline",
    "message_body",
    "author_name",
    "author_login",
    "author_id",
    "author_email",
    "committer_name",
    "committer_login",
    "committer_id",
    "committer_email",
    "authored_at",
    "committed_at",
    "parent_count",
    "parent_shas",
    "additions",
    "deletions",
    "changed_files",
    "html_url",
)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography


def commit_rows(result: SyncResult) -> dict[tuple[Any, ...], dict[str, Any]]:
    rows = result.records.get("commits", [])
    table = {(r["repo_id"], r["sha"]): r for r in rows}
    assert len(table) == len(rows), "a commit was emitted twice in one run"
    return table


def membership(result: SyncResult) -> set[tuple[Any, ...]]:
    rows = result.keys("commit_branches", "repo_id", "branch", "sha")
    assert len(set(rows)) == len(rows), "a membership row was emitted twice in one run"
    return set(rows)


def graphql_requests(github: GitHubSimulator) -> list[Any]:
    return github.requests(r"^/graphql$", "POST")


def fields_of(rows: dict[tuple[Any, ...], dict[str, Any]]) -> dict[tuple[Any, ...], Any]:
    return {key: {f: row[f] for f in ("sha", *FIELDS)} for key, row in rows.items()}


def repo_named(world: World, name: str) -> Any:
    repo = world.repo("acme", name)
    assert repo is not None
    return repo


@pytest.fixture
def small_world(clock: FakeClock) -> World:
    return seeded_world(clock, scale={"repos": 1})


@pytest.fixture
def small(small_world: World) -> Iterator[tuple[World, GitHubSimulator, dict[str, Any]]]:
    with GitHubSimulator(small_world) as simulator:
        yield (
            small_world,
            simulator,
            {"auth_token": "ghp_alice", "api_url": simulator.api_url, "repositories": ["acme/*"]},
        )


# -- first sync ---------------------------------------------------------------------------------


def test_first_sync_emits_every_commit_of_the_default_branch_with_line_counts(
    config, github: GitHubSimulator, world: World
):
    result = run_sync(config, streams={"commits"})

    rows = commit_rows(result)
    expected = sim.expected_commits(world)
    assert fields_of(rows) == expected
    assert len(rows) == 90  # 30 commits on each of 3 default branches
    # The open feature branch is not selected by default.
    api = repo_named(world, "api")
    data = sim.git(world, api)
    feature_only = data.reachable(data.branches["feature/search"]) - data.reachable(
        data.branches["main"]
    )
    assert len(feature_only) == 3
    assert not {(api.id, oid) for oid in feature_only} & set(rows)
    # Merges are visible; line counts come with every commit; users are linked by id.
    assert any(r["parent_count"] == 2 for r in rows.values())
    assert all(
        isinstance(r["additions"], int) and isinstance(r["deletions"], int) for r in rows.values()
    )
    alice = world.accounts["alice"]
    assert any(r["author_login"] == "alice" and r["author_id"] == alice.id for r in rows.values())
    assert any(r["author_name"] == "Build Bot" and r["author_login"] is None for r in rows.values())
    # Event stores get a stable uuid per commit.
    for row in rows.values():
        assert row["event_uuid"] == event_uuid("commits", (row["repo_id"], row["sha"]))
    # One change probe for the three repositories' heads, then a page of history each.
    calls = graphql_requests(github)
    assert len(calls) == 1 + 3
    assert sum(c.points for c in calls) == 1 + 3
    # State: per repository (its partition named by its id), per branch, the head read (its
    # bytes in base64) and its date.
    partitions = result.state["bookmarks"]["commits"]["partitions"]
    assert {p["context"]["repo_id"]: p["branches"] for p in partitions}[api.id] == {
        "main": {
            "head": stored_oid(data.branches["main"]),
            "committed_at": iso(data.commits[data.branches["main"]].committed),
        }
    }


def test_history_is_read_100_commits_a_query(clock: FakeClock):
    world = seeded_world(clock, scale={"repos": 1, "commits_per_repo": 250})
    with GitHubSimulator(world) as github:
        config = {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]}
        result = run_sync(config, streams={"commits"})
        calls = graphql_requests(github)

    assert len(commit_rows(result)) == 250
    assert fields_of(commit_rows(result)) == sim.expected_commits(world)
    # The change probe (heads) + 3 history pages (100, 100, 50), 1 point each.
    assert len(calls) == 4
    assert [c.points for c in calls] == [1, 1, 1, 1]


def test_start_date_bounds_the_first_sync(config, github: GitHubSimulator, world: World):
    start = world.now() - timedelta(days=30)
    result = run_sync({**config, "start_date": iso(start)}, streams={"commits"})

    expected = sim.expected_commits(world, start_date=start)
    assert fields_of(commit_rows(result)) == expected
    assert 0 < len(expected) < len(sim.expected_commits(world))


# -- later syncs --------------------------------------------------------------------------------


def test_unchanged_branches_cost_one_probe_for_every_repository(config, github: GitHubSimulator):
    first = run_sync(config, streams=BOTH)
    github.reset_log()

    second = run_sync(config, state=first.state, streams=BOTH)

    assert second.records.get("commits", []) == []
    assert second.records.get("commit_branches", []) == []
    calls = graphql_requests(github)
    # One change probe for the three repositories' heads, shared by both streams; no history.
    assert len(calls) == 1
    assert sum(c.points for c in calls) == 1
    assert second.state["bookmarks"]["commits"] == first.state["bookmarks"]["commits"]


def test_new_commits_are_emitted_once(config, github: GitHubSimulator, world: World):
    first = run_sync(config, streams={"commits"})
    api = repo_named(world, "api")
    data = sim.git(world, api)
    now = world.now()
    made = [
        data.advance(
            "main", now - timedelta(minutes=m), message=f"Change {m}", additions=m, deletions=1
        )
        for m in (30, 20, 10)
    ]
    github.reset_log()

    second = run_sync(config, state=first.state, streams={"commits"})

    rows = commit_rows(second)
    assert set(rows) == {(api.id, c.oid) for c in made}
    assert fields_of(rows) == {k: v for k, v in sim.expected_commits(world).items() if k in rows}
    # The probe (every head), then api's one page stopping at the previous head.
    assert len(graphql_requests(github)) == 2


def test_an_old_dated_branch_merged_today_is_emitted(config, github: GitHubSimulator, world: World):
    first = run_sync(config, streams={"commits"})
    api = repo_named(world, "api")
    data = sim.git(world, api)
    previous_head = data.commits[data.branches["main"]]
    made = sim.merge_old_dated_branch(world, api, seeded(3), days_old=20)
    branch_commits, merge = made[:-1], made[-1]
    # The merged commits are older than the bookmark: a date filter would lose them.
    assert all(c.committed < previous_head.committed for c in branch_commits)
    github.reset_log()

    second = run_sync(config, state=first.state, streams={"commits"})

    rows = commit_rows(second)
    assert set(rows) == {(api.id, c.oid) for c in made}
    assert rows[(api.id, merge.oid)]["parent_count"] == 2
    assert fields_of(rows) == {k: v for k, v in sim.expected_commits(world).items() if k in rows}
    # The probe, then reaching the fork point 20 days back is one page here.
    assert len(graphql_requests(github)) == 2


def test_old_dated_merge_with_several_pages_to_its_fork_point(clock: FakeClock):
    world = seeded_world(clock, scale={"repos": 1, "commits_per_repo": 400})
    with GitHubSimulator(world) as github:
        config = {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]}
        first = run_sync(config, streams=BOTH)
        repo = repo_named(world, "api")
        # Forked 40 days ago: some 230 commits of main are newer than the fork point.
        made = sim.merge_old_dated_branch(world, repo, seeded(4), days_old=40)
        github.reset_log()
        second = run_sync(config, state=first.state, streams=BOTH)
        calls = graphql_requests(github)

    assert set(commit_rows(second)) == {(repo.id, c.oid) for c in made}
    assert membership(second) == {(repo.id, "main", c.oid) for c in made}
    # probe + 3 pages walked down to the fork point; commit_branches reused the walk.
    assert len(calls) == 4
    assert sum(c.points for c in calls) == 4


def test_a_force_push_does_not_break_the_run(
    config, github: GitHubSimulator, world: World, caplog: pytest.LogCaptureFixture
):
    config = {**config, "commit_branches": ["*"]}
    first = run_sync(config, streams=BOTH)
    api = repo_named(world, "api")
    data = sim.git(world, api)
    old_head = data.branches["feature/search"]
    rebased = sim.force_push(world, api, "feature/search")
    assert old_head not in data.reachable(data.branches["feature/search"])
    github.reset_log()

    with caplog.at_level(logging.WARNING):
        second = run_sync(config, state=first.state, streams=BOTH)

    # Exactly what the new history brings: the rebased commits (with their old committer
    # dates) and the default branch's commits the branch now stands on, down to the merge base.
    arrived = data.reachable(data.branches["feature/search"]) - data.reachable(old_head)
    assert all(c.committed <= data.commits[old_head].committed for c in rebased)
    assert membership(second) == {(api.id, "feature/search", sha) for sha in arrived}
    assert {(api.id, c.oid) for c in rebased} <= set(commit_rows(second))
    assert {sha for _, sha in commit_rows(second)} <= arrived
    # One REST compare for the merge base.
    assert [r.path for r in github.requests("/compare/")] == [
        f"/repos/acme/api/compare/{old_head}...{data.branches['feature/search']}"
    ]
    assert "force-pushed" in caplog.text
    heads = {
        p["context"]["repo_id"]: p["branches"]
        for p in second.state["bookmarks"]["commit_branches"]["partitions"]
    }
    assert read_oid(heads[api.id]["feature/search"]["head"]) == data.branches["feature/search"]
    github.reset_log()

    third = run_sync(config, state=second.state, streams=BOTH)
    assert third.records.get("commits", []) == []
    assert len(graphql_requests(github)) == 1  # the probe: every branch listed in it


def test_a_branch_reset_to_an_older_commit_emits_nothing(small):
    world, _, config = small
    config = {**config, "commit_branches": ["*"]}
    first = run_sync(config, streams=BOTH)
    repo = repo_named(world, "api")
    data = sim.git(world, repo)
    data.branches["main"] = data.first_parents(data.branches["main"])[5].oid

    second = run_sync(config, state=first.state, streams=BOTH)

    assert second.records.get("commits", []) == []
    assert second.records.get("commit_branches", []) == []


def test_an_empty_repository_yields_nothing(config, github: GitHubSimulator, world: World):
    empty = world.add_repo("acme/empty")
    result = run_sync(config, streams=BOTH)

    assert not [r for r in result.records["commits"] if r["repo_id"] == empty.id]
    assert not [r for r in result.records["commit_branches"] if r["repo_id"] == empty.id]
    assert result.tap.run_summary.skipped == {}
    # REST says so with 409; GraphQL with a null default branch.
    response = requests.get(
        f"{github.api_url}/repos/acme/empty/commits",
        headers={"Authorization": "token ghp_alice"},
        timeout=10,
    )
    assert response.status_code == 409
    assert response.json()["message"] == "Git Repository is empty."


def test_emails_only_when_asked(config, world: World):
    without = run_sync(config, streams={"commits"})
    with_emails = run_sync({**config, "include_emails": True}, streams={"commits"})

    assert all(
        r["author_email"] is None and r["committer_email"] is None
        for r in without.records["commits"]
    )
    assert fields_of(commit_rows(with_emails)) == sim.expected_commits(world, include_emails=True)
    assert any(
        r["author_email"] == "bob@users.noreply.github.test" for r in with_emails.records["commits"]
    )


def test_emails_are_not_even_requested_by_default(config, monkeypatch: pytest.MonkeyPatch):
    asked: list[str] = []
    original = GitHubClient.graphql

    def spy(self: GitHubClient, query: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(query)
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(GitHubClient, "graphql", spy)
    run_sync(config, streams={"commits"})
    assert asked
    assert not any("email" in q for q in asked)
    asked.clear()
    run_sync({**config, "include_emails": True}, streams={"commits"})
    assert any("email" in q for q in asked)


# -- branches -----------------------------------------------------------------------------------


def test_a_commit_on_two_branches_is_one_commit_and_two_memberships(
    config, github: GitHubSimulator, world: World
):
    branches = ["main", "feature/search"]
    result = run_sync({**config, "commit_branches": branches}, streams=BOTH)

    rows = commit_rows(result)
    assert fields_of(rows) == sim.expected_commits(world, branches)
    assert membership(result) == set(sim.expected_commit_branches(world, branches))
    api = repo_named(world, "api")
    data = sim.git(world, api)
    shared = data.reachable(data.branches["main"]) & data.reachable(data.branches["feature/search"])
    sha = next(iter(shared))
    assert sum(1 for key in rows if key == (api.id, sha)) == 1
    assert {b for (r, b, s) in membership(result) if (r, s) == (api.id, sha)} == set(branches)
    # Plain names are looked up in the probe (no branch listing); both branches walked in one
    # query per page; commit_branches reused the walk of commits.
    calls = graphql_requests(github)
    assert len(calls) == 1 + 3
    assert sum(c.points for c in calls) == 1 + 3 * 2


def test_branch_patterns(config, github: GitHubSimulator, world: World):
    features = run_sync({**config, "commit_branches": ["feature/*"]}, streams=BOTH)
    assert {b for _, b, _ in membership(features)} == {"feature/search"}
    assert membership(features) == set(sim.expected_commit_branches(world, ["feature/*"]))
    assert fields_of(commit_rows(features)) == sim.expected_commits(world, ["feature/*"])

    everything = run_sync({**config, "commit_branches": ["*"]}, streams=BOTH)
    assert {b for _, b, _ in membership(everything)} == {"main", "feature/search"}
    assert membership(everything) == set(sim.expected_commit_branches(world, ["*"]))

    nothing = run_sync({**config, "commit_branches": ["release/*", "nope"]}, streams=BOTH)
    assert nothing.records.get("commits", []) == []
    assert nothing.records.get("commit_branches", []) == []


def test_branches_that_moved_are_walked_together(small):
    world, github, config = small
    config = {**config, "commit_branches": ["*"]}
    first = run_sync(config, streams={"commits"})
    repo = repo_named(world, "api")
    data = sim.git(world, repo)
    now = world.now()
    made = []
    for index in range(7):
        data.branches[f"topic/{index}"] = data.branches["main"]
        made.append(
            data.advance(f"topic/{index}", now - timedelta(minutes=index), message=f"Topic {index}")
        )
    github.reset_log()

    second = run_sync(config, state=first.state, streams={"commits"})

    assert set(commit_rows(second)) == {(repo.id, c.oid) for c in made}
    calls = graphql_requests(github)
    # The branch listing, then 7 new branches in 2 queries (5 + 2). Without commit_branches
    # a new branch's walk stops at main's previous head: one commit each.
    assert len(calls) == 3
    assert [c.points for c in calls] == [1, 5, 2]


def test_membership_alone_and_a_new_branch_gets_its_whole_history(small):
    world, _, config = small
    config = {**config, "commit_branches": ["*"]}
    first = run_sync(config, streams={"commit_branches"})
    assert membership(first) == set(sim.expected_commit_branches(world, ["*"]))
    repo = repo_named(world, "api")
    data = sim.git(world, repo)
    data.branches["hotfix"] = data.branches["main"]
    fix = data.advance("hotfix", world.now(), message="Hotfix")

    second = run_sync(config, state=first.state, streams={"commit_branches"})

    expected = {(repo.id, "hotfix", oid) for oid in data.reachable(fix.oid)}
    assert membership(second) == expected


def test_streams_keep_their_own_bookmarks(small):
    world, _, config = small
    config = {**config, "commit_branches": ["*"]}
    first = run_sync(config, streams={"commits"})
    repo = repo_named(world, "api")
    made = sim.merge_old_dated_branch(world, repo, seeded(5))

    # commit_branches joins later: it reads every branch's history in full, commits only what
    # is new since its own bookmark.
    second = run_sync(config, state=first.state, streams=BOTH)

    assert set(commit_rows(second)) == {(repo.id, c.oid) for c in made}
    assert membership(second) == set(sim.expected_commit_branches(world, ["*"]))


# -- singer -------------------------------------------------------------------------------------


def test_no_activate_version_messages(small):
    _, _, config = small
    result = run_sync({**config, "emit_activate_version_messages": True}, streams=BOTH)
    assert result.records["commits"]
    assert not [
        m for m in result.messages if m["type"] == "ACTIVATE_VERSION" and m["stream"] in BOTH
    ]


def test_discovered_keys(config):
    result = run_sync(config, streams={"repositories"})
    catalog = {s.name: s for s in result.tap.streams.values()}
    assert tuple(catalog["commits"].primary_keys) == ("repo_id", "sha")
    assert tuple(catalog["commit_branches"].primary_keys) == ("repo_id", "branch", "sha")
    assert catalog["commits"].replication_key is None


# -- the simulator ------------------------------------------------------------------------------


def test_simulated_history_is_in_git_log_order(world: World):
    for repo in world.repos.values():
        data = sim.git(world, repo)
        for head in data.branches.values():
            listed = data.history(head)
            position = {c.oid: i for i, c in enumerate(listed)}
            assert len(listed) == len(data.reachable(head))
            for commit in listed:
                for parent in commit.parents:
                    assert position[parent] > position[commit.oid]
            dates = [c.committed for c in listed]
            assert dates == sorted(dates, reverse=True)  # seeded dates never skew


def test_simulated_commit_listing_matches_githubs_shape(github: GitHubSimulator, world: World):
    validator = Draft7Validator(SHAPES["GET /repos/{owner}/{repo}/commits"])
    headers = {"Authorization": "token ghp_alice"}
    response = requests.get(
        f"{github.api_url}/repos/acme/api/commits",
        headers=headers,
        params={"sha": "feature/search", "per_page": 100},
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    assert not list(validator.iter_errors(body))
    api = repo_named(world, "api")
    data = sim.git(world, api)
    assert [c["sha"] for c in body] == [
        c.oid for c in data.history(data.branches["feature/search"])
    ]
    since = datetime.fromisoformat(body[5]["commit"]["committer"]["date"].replace("Z", "+00:00"))
    recent = requests.get(
        f"{github.api_url}/repos/acme/api/commits",
        headers=headers,
        params={"since": iso(since)},
        timeout=10,
    ).json()
    assert recent
    assert all(c["commit"]["committer"]["date"] >= iso(since) for c in recent)


def test_mutation_makes_new_merged_old_dated_force_pushed_and_renamed_history(world: World):
    before = {repo.id: dict(sim.git(world, repo).branches) for repo in world.repos.values()}
    sim.mutate_commits(world, seeded(9))
    repos = sorted(world.repos.values(), key=lambda r: r.id)
    for position, repo in enumerate(repos):
        data = sim.git(world, repo)
        old_main = before[repo.id]["main"]
        assert data.branches["main"] != old_main
        assert old_main in data.reachable(data.branches["main"])
        # Commits dated older than their parent arrived by fast-forward.
        assert any(
            data.commits[p].committed > c.committed
            for c in data.history(data.branches["main"])
            if c.oid not in data.reachable(old_main)
            for p in c.parents
        )
        old_feature = before[repo.id]["feature/search"]
        if position % 2 == 0:
            assert old_feature not in data.reachable(data.branches["feature/search"])
        else:
            assert "feature/search" not in data.branches
            assert data.branches["feature/search-renamed"] == old_feature


def _random_activity(world: World, repo: Any, rng: random.Random) -> None:
    """A day of work on a repository: commits, new branches (some from old commits), merges,
    merged branches deleted."""
    data = sim.git(world, repo)
    for _ in range(rng.randint(1, 6)):
        now = world.now()
        branches = sorted(data.branches)
        action = rng.random()
        if action < 0.35:
            data.advance(
                rng.choice(branches), now - timedelta(minutes=rng.randint(0, 50)), message="work"
            )
        elif action < 0.55:
            source = data.history(data.branches[rng.choice(branches)])
            base = rng.choice(source[: min(len(source), 40)])
            name = f"b{world.new_id()}"
            data.branches[name] = base.oid
            for step in range(rng.randint(1, 4)):
                # Dated just after its fork point: an old-dated branch.
                data.advance(
                    name, base.committed + timedelta(minutes=5 * (step + 1)), message="old work"
                )
        elif action < 0.85 and len(branches) > 1:
            source, into = rng.sample(branches, 2)
            if data.branches[source] not in data.reachable(data.branches[into]):
                data.merge(into, source, now - timedelta(minutes=rng.randint(0, 50)))
        elif action < 0.9:
            # A fast-forward by commits dated days before their parent.
            branch = rng.choice(branches)
            then = now - timedelta(days=rng.randint(2, 30))
            for step in range(rng.randint(1, 3)):
                data.advance(branch, then + timedelta(minutes=step), message="imported")
        elif action < 0.95 and len(branches) > 1:
            # A force-push: the branch's own commits replayed onto another branch, dates kept.
            branch = rng.choice([b for b in branches if b != repo.default_branch])
            sim.force_push(world, repo, branch)
        elif len(branches) > 2:
            gone = rng.choice([b for b in branches if b != repo.default_branch])
            if rng.random() < 0.5:
                sim.rename_branch(world, repo, gone, f"{gone}-renamed")
            else:
                del data.branches[gone]
        world.clock.advance(3600)


@pytest.mark.parametrize("streams", [BOTH, {"commits"}, {"commit_branches"}])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_walks_match_the_ground_truth_through_random_histories(
    clock: FakeClock, seed: int, streams: set[str]
):
    world = seeded_world(clock, scale={"repos": 1, "commits_per_repo": 60})
    repo = repo_named(world, "api")
    rng = seeded(seed)
    commits: set[tuple[Any, ...]] = set()
    members: set[tuple[Any, ...]] = set()
    state: dict[str, Any] = {}
    with GitHubSimulator(world) as github:
        config = alice_config(github, commit_branches=["*"])
        for day in range(7):
            if day:
                _random_activity(world, repo, rng)
            result = run_sync(config, state=state, streams=streams)
            state = result.state
            commits |= set(commit_rows(result))
            members |= membership(result)
            # Branches deleted since stay in a warehouse: compare with all ever selected.
            if "commits" in streams:
                assert commits >= set(sim.expected_commits(world, ["*"]))
                assert commits <= {(repo.id, oid) for oid in sim.git(world, repo).commits}
            if "commit_branches" in streams:
                assert members >= set(sim.expected_commit_branches(world, ["*"]))
        # No branch moved: a last run reads nothing.
        github.reset_log()
        last = run_sync(config, state=state, streams=streams)
        assert last.records.get("commits", []) == []
        assert last.records.get("commit_branches", []) == []
        assert len(graphql_requests(github)) == 1
