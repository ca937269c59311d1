"""What the change probe lets a sync leave unasked (tap_github_activity/probe.py), and that each
skip is exact: deployments with no new deployment and no new status on an open one, the issue
listing when no issue changed (a pull request's change is not the issues stream's), and
contributor statistics while the default branch's head has not moved
(tests/test_contributor_stats.py)."""

from __future__ import annotations

import random
from datetime import timedelta

from github_simulator import FakeClock, GitHubSimulator, World
from github_simulator.deployments import Deployment, add_deployment, add_status, deployments_of
from github_simulator.issues import comment_on, issue_store
from github_simulator.pulls import pulls_of
from github_simulator.truth import EXPECTED
from github_simulator.world import Repo
from tests.conftest import run_sync

DEPLOYMENTS = {"deployments", "deployment_statuses"}
ISSUES = {"issues", "issue_comments"}


def rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data


def repo_named(world: World, name: str) -> Repo:
    repo = world.repo("acme", name)
    assert repo is not None
    return repo


def open_deployment(world: World, repo_name: str) -> Deployment:
    repo = repo_named(world, repo_name)
    return next(
        d
        for d in reversed(deployments_of(world, repo))
        if d.latest is not None and d.latest.state in ("success", "in_progress", "queued")
    )


def test_deployments_are_not_asked_without_a_change(config, github: GitHubSimulator):
    first = run_sync(config, streams=DEPLOYMENTS)
    github.reset_log()

    again = run_sync(config, state=first.state, streams=DEPLOYMENTS)

    assert again.records == {}
    # The probe alone: one point for the three repositories.
    assert [r.points for r in github.requests("^/graphql$")] == [1]
    assert again.state["bookmarks"]["deployments"] == first.state["bookmarks"]["deployments"]


def test_a_new_status_on_an_open_deployment_is_caught(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    first = run_sync(config, streams=DEPLOYMENTS)
    watched = open_deployment(world, "web")
    clock.advance(3600)
    add_status(world, watched, "inactive", world.now())
    github.reset_log()

    second = run_sync(config, state=first.state, streams=DEPLOYMENTS)

    assert [r["id"] for r in second.records["deployments"]] == [watched.id]
    assert [r["state"] for r in second.records["deployment_statuses"]] == ["inactive"]
    # The probe, then web's deployments alone (one point).
    assert len(github.requests("^/graphql$")) == 2
    truth = EXPECTED["deployment_statuses"](world)
    assert {(r["id"],) for r in second.records["deployment_statuses"]} <= set(truth)


def test_a_new_deployment_is_caught(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    first = run_sync(config, streams=DEPLOYMENTS)
    clock.advance(3600)
    new = add_deployment(world, rng(1), repo_named(world, "infra"), world.now(), 1)
    github.reset_log()

    second = run_sync(config, state=first.state, streams=DEPLOYMENTS)

    assert [r["id"] for r in second.records["deployments"]] == [new.id]
    assert "deployment_statuses" not in second.records  # it has none yet
    # Open (no status yet): watched, and its first status caught the sync after.
    clock.advance(3600)
    add_status(world, new, "queued", world.now())
    third = run_sync(config, state=second.state, streams=DEPLOYMENTS)
    assert [r["state"] for r in third.records["deployment_statuses"]] == ["queued"]
    assert run_sync(config, state=third.state, streams=DEPLOYMENTS).records == {}


def test_a_deleted_open_deployment_leaves_the_watch(config, github: GitHubSimulator, world: World):
    first = run_sync(config, streams=DEPLOYMENTS)
    watched = open_deployment(world, "api")
    api = repo_named(world, "api")
    deployments_of(world, api).remove(watched)

    second = run_sync(config, state=first.state, streams=DEPLOYMENTS)

    assert second.records == {}
    kept = {
        p["context"]["repo_id"]: p["open"]
        for p in second.state["bookmarks"]["deployments"]["partitions"]
    }
    assert watched.node_id not in kept[api.id]
    github.reset_log()
    assert run_sync(config, state=second.state, streams=DEPLOYMENTS).records == {}
    assert len(github.requests("^/graphql$")) == 1  # the probe alone again


def test_the_issue_listing_is_asked_only_when_an_issue_changed(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    first = run_sync(config, streams=ISSUES)
    api = repo_named(world, "api")
    # A pull request's change and a comment on it: in GitHub's issue listing, not an issue.
    clock.advance(3600)
    pull = pulls_of(world).by_repo[api.id][0]
    comment_on(world, rng(2), api, pull.number, world.now())
    github.reset_log()

    second = run_sync(config, state=first.state, streams=ISSUES)

    assert not github.requests(r"/issues$")  # no issue changed: not asked
    assert "issues" not in second.records
    [comment] = second.records["issue_comments"]
    assert (comment["issue_number"], comment["is_pull_request"]) == (pull.number, True)

    # An issue retitled: the listing is asked and gives it.
    clock.advance(3600)
    issue = issue_store(world).issues[api.id][0]
    issue.title += " (retitled)"
    issue.updated_at = world.now() - timedelta(seconds=1)
    github.reset_log()

    third = run_sync(config, state=second.state, streams=ISSUES)

    assert [r["id"] for r in third.records["issues"]] == [issue.id]
    assert [r.path for r in github.requests(r"/issues$")] == ["/repos/acme/api/issues"]
    assert run_sync(config, state=third.state, streams=ISSUES).records == {}
