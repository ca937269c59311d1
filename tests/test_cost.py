"""Issues 6 and 14's cost targets on a medium world: what a first sync, a sync without change and
a sync after a small change cost, request by request, with GraphQL scored under the expensive
reading of GitHub's cost rule (count-only connections and each id of `nodes(ids:)` counted:
github_simulator/graphql_cost.py); and bounded concurrency, which must change neither the
requests nor what is emitted.

The medium world (bench/scales.py "medium"): 12 repositories, 2,196 pull requests with 5,474
submitted reviews, 3,504 commits, 1,104 workflow runs (1,352 attempts, 2,701 jobs), releases,
traffic and statistics. Its syncs run once for the module (about 15 s).

Where the first sync's points go: 1 point per 29 pull requests (with reviews, sizes, labels),
per 100 commits (with line counts), per 147 comment threads (with their comments), per listing
page and traffic answer, plus 2 points per repository for its jobs. The re-runs' earlier
attempts, read only with workflow_runs_earlier_attempts, add two requests each (the attempt
and its jobs: no GraphQL field or listing gives either): 496 points, more than the rest of the
sync.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from github_simulator import (
    FakeClock,
    Fault,
    GitHubSimulator,
    World,
    actions,
    commits,
    graphql_api,
    pulls,
    seeded_world,
)
from github_simulator.graphql_cost import EXPENSIVE
from github_simulator.server import Recorded
from tap_github_activity.clock import Clock
from tap_github_activity.probe import PROBE_STREAM
from tests.conftest import SyncResult, run_sync

MEDIUM = {
    "repos": 12,
    "pulls_per_repo": 183,
    "pulls_with_many_reviews": 0,
    "releases_per_repo": 5,
    "runs_per_repo": 92,
    "commits_per_repo": 292,
}
PAGE_OF_PULLS = 29  # a 1-point page of pull requests with their nested connections
TRAFFIC = ("traffic_views", "traffic_clones", "traffic_referrers", "traffic_paths")


@dataclass
class Sync:
    """One sync: its records and state, the tap's ledger, the simulator's log."""

    result: SyncResult
    log: list[Recorded]

    @property
    def points(self) -> int:
        return sum(r.points for r in self.log)

    def by_stream(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(stream, resource) -> (requests, points), from the tap's own accounting."""
        return {
            (row["stream"], row["resource"]): (row["requests"], row["points"])  # type: ignore[misc]
            for row in self.result.tap.client.ledger.rows()
        }

    def graphql(self) -> list[Recorded]:
        return [r for r in self.log if r.path == "/graphql"]


@dataclass
class Medium:
    """The medium world's syncs, and what its seed holds (read before any change)."""

    world: World
    first: Sync
    repeat: Sync
    with_earlier_attempts: Sync  # a first sync of the Actions streams with the setting on
    changed: dict[int, Sync] = field(default_factory=dict)  # repositories changed -> sync
    pull_pages: int = 0
    history_pages: int = 0
    earlier_attempts: int = 0
    repos_with_unsuccessful_jobs: int = 0


def _selected_repos(world: World) -> list[Any]:
    return sorted(world.repos.values(), key=lambda r: r.full_name)


def _seed_facts(world: World) -> dict[str, int]:
    repos = _selected_repos(world)
    history = [
        commits.git(world, r).history(commits.git(world, r).branches[r.default_branch])
        for r in repos
    ]
    runs = [run for r in repos for run in actions.runs_of(world, r)]
    return {
        "pull_pages": sum(
            math.ceil(len(pulls.pulls_of(world).by_repo[r.id]) / PAGE_OF_PULLS) for r in repos
        ),
        "history_pages": sum(math.ceil(len(h) / 100) for h in history),
        "earlier_attempts": sum(len(run.attempts) - 1 for run in runs),
        "repos_with_unsuccessful_jobs": sum(
            any(
                job.conclusion in ("failure", "cancelled")
                for run in actions.runs_of(world, r)
                for job in run.latest.jobs
            )
            for r in repos
        ),
    }


def _change(world: World, count: int, seed: int) -> list[Any]:
    """In `count` repositories: a pull request edited, a commit pushed to the default branch,
    a workflow run that completed."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible test data
    chosen = rng.sample(_selected_repos(world), count)
    with world.lock:
        now = world.now()
        for repo in chosen:
            pull = rng.choice(pulls.pulls_of(world).by_repo[repo.id])
            pull.title += " (edited)"
            pull.updated_at = now
            commits.git(world, repo).advance(
                repo.default_branch, now - timedelta(minutes=2), message=f"Change {seed}"
            )
            actions.add_run(world, repo, rng, now - timedelta(minutes=5), "success")
    return chosen


def _sync(
    github: GitHubSimulator,
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    streams: set[str] | None = None,
) -> Sync:
    github.reset_log()
    result = run_sync(config, state=state, streams=streams)
    return Sync(result, github.requests())


@pytest.fixture(scope="module")
def medium() -> Iterator[Medium]:
    fake = FakeClock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Clock, "now", lambda _self: fake.now())
        patch.setattr(Clock, "sleep", lambda _self, seconds: fake.sleep(seconds))
        world = seeded_world(fake, scale=MEDIUM)
        assert graphql_api.cost_reading(world) == EXPENSIVE
        facts = _seed_facts(world)
        with GitHubSimulator(world) as github:
            config = {
                "auth_token": "ghp_alice",
                "api_url": github.api_url,
                "repositories": ["acme/*"],
            }
            with_earlier_attempts = _sync(
                github,
                {**config, "workflow_runs_earlier_attempts": True},
                streams={"workflow_runs", "workflow_jobs"},
            )
            first = _sync(github, config)
            fake.advance(3600)
            repeat = _sync(github, config, first.result.state)
            medium = Medium(
                world,
                first,
                repeat,
                with_earlier_attempts,
                pull_pages=facts["pull_pages"],
                history_pages=facts["history_pages"],
                earlier_attempts=facts["earlier_attempts"],
                repos_with_unsuccessful_jobs=facts["repos_with_unsuccessful_jobs"],
            )
            state = repeat.result.state
            for count in (2, 6):
                fake.advance(3600)
                _change(world, count, seed=count)
                fake.advance(60)  # the sync starts after the changes' second
                medium.changed[count] = _sync(github, config, state)
                state = medium.changed[count].result.state
            yield medium


# -- first sync -------------------------------------------------------------------------------


def test_first_sync_requests_by_stream(medium: Medium) -> None:
    expected = {
        ("repositories", "core"): (1, 1),  # one listing page for 12 repositories
        (PROBE_STREAM, "graphql"): (1, 1),  # 12 repositories in one query
        ("pull_requests", "graphql"): (medium.pull_pages,) * 2,  # reviews come with them
        ("commits", "graphql"): (medium.history_pages,) * 2,  # commit_branches reuses them
        ("releases", "core"): (12, 12),
        ("contributor_stats", "core"): (12, 12),
        **{(name, "core"): (12, 12) for name in TRAFFIC},
        # Per repository every run in one unfiltered page (92 runs: one slice of the re-run
        # window, nothing to cut).
        ("workflow_runs", "core"): (12, 12),
        # Each run's latest attempt's jobs from GraphQL, one query per repository (92 runs),
        # and one for the steps of its unsuccessful jobs.
        ("workflow_jobs", "graphql"): (12 + medium.repos_with_unsuccessful_jobs,) * 2,
        # 100 issues and pull requests (GitHub's issue listing holds both) a page: 198 each.
        ("issues", "core"): (24, 24),
        # The 10,327 comments nested in their threads (GraphQL): per repository a query of its
        # 15 issues and 100 of its pull requests, then one of the other 83; then one REST
        # page of what changed during the walk, whose ETag the next sync asks with.
        ("issue_comments", "graphql"): (24, 24),
        ("issue_comments", "core"): (12, 12),
        # 100 deployments with their statuses a query.
        ("deployments", "graphql"): (12, 12),
    }
    assert medium.first.by_stream() == expected
    assert (medium.pull_pages, medium.history_pages) == (84, 36)
    # The target: at most 400 points (108 for the comments from the REST listing).
    assert medium.first.points == sum(points for _, points in expected.values()) == 302
    records = {name: len(rows) for name, rows in medium.first.result.records.items()}
    assert (records["workflow_runs"], records["workflow_jobs"]) == (1_104, 2_191)
    assert (records["issues"], records["issue_comments"]) == (180, 10_327)
    assert (records["deployments"], records["deployment_statuses"]) == (144, 463)
    assert sum(records.values()) == 29_821


def test_earlier_attempts_cost_two_requests_each(medium: Medium) -> None:
    earlier = medium.earlier_attempts
    assert earlier == 247  # a fifth of the runs were re-run once before the first sync
    sync = medium.with_earlier_attempts
    # The attempt, and its jobs (REST: a check suite lists the latest attempt's check runs).
    assert sync.by_stream() == {
        ("repositories", "core"): (1, 1),
        ("workflow_runs", "core"): (12 + earlier, 12 + earlier),
        ("workflow_jobs", "core"): (earlier, earlier),
        ("workflow_jobs", "graphql"): (12 + medium.repos_with_unsuccessful_jobs,) * 2,
    }
    records = sync.result.records
    assert (len(records["workflow_runs"]), len(records["workflow_jobs"])) == (1_351, 2_696)


def test_first_sync_graphql_queries_cost_what_the_design_says(medium: Medium) -> None:
    queries = medium.first.graphql()
    assert len(queries) == 1 + 84 + 36 + 12 + medium.repos_with_unsuccessful_jobs + 12 + 24
    # Every query costs 1 point: pages of 29 pull requests, 100 commits, 100 runs' check runs
    # without steps, 100 deployments with their statuses, 147 comment threads (145 beside
    # their newest updates), the probe's 12 repositories.
    assert {q.points for q in queries} == {1}
    # The tap's own check: every query family charged what its design expects.
    families = medium.first.result.tap.client.ledger.cost_check.rows()
    assert {name for name, *_ in families} == {
        "ChangeProbe",
        "PullRequestPage",
        "CommitHistory",
        "WorkflowJobs",
        "WorkflowJobSteps",
        "DeploymentPage",
        "CommentThreads",
    }
    assert all(queries == expected == charged for _, queries, expected, charged in families)


# -- a sync without change ----------------------------------------------------------------------


def test_repeated_sync_costs_the_probe_alone(medium: Medium) -> None:
    repeat = medium.repeat
    assert repeat.result.records == {}
    assert repeat.points == 1  # the target: at most 25
    # One probe for the 12 repositories: no pull request or issue is newer than its bookmark,
    # no branch head moved (statistics are of the default branch's), no deployment was
    # created and no open one has a new status, so no repository is asked for any of them.
    assert [(r.path, r.points) for r in repeat.graphql()] == [("/graphql", 1)]
    assert repeat.by_stream() == {
        ("repositories", "core"): (1, 0),
        (PROBE_STREAM, "graphql"): (1, 1),
        ("releases", "core"): (12, 0),
        ("workflow_runs", "core"): (12, 0),
        ("issue_comments", "core"): (12, 0),
        # Traffic once a day: the one repository whose hour came since the first sync.
        **{(name, "core"): (1, 0) for name in TRAFFIC},
    }
    families = repeat.result.tap.client.ledger.cost_check.rows()
    assert [name for name, *_ in families] == ["ChangeProbe"]
    assert all(queries == expected == charged for _, queries, expected, charged in families)
    # Every REST listing is asked with its ETag and answers 304 (no point).
    rest = [r for r in repeat.log if r.path != "/graphql"]
    assert {r.status for r in rest} == {304}
    # selection; releases, runs, comments; one repository's traffic
    assert len(rest) == 1 + 12 * 3 + 4
    assert all(r.if_none_match for r in rest)


# -- a sync after a change ----------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 6])
def test_after_a_change_points_follow_what_changed(medium: Medium, count: int) -> None:
    changed = medium.changed[count]
    # Per changed repository: its pull request page, a history page, the runs' window page
    # (changed: a new run), the new run's jobs in one GraphQL query; plus the probe. The
    # edited pull request is in the REST issue listing, but no issue changed: not asked.
    assert changed.points == 1 + 4 * count
    traffic = {2: 1, 6: 0}[count]  # the repositories whose hour came (once a day)
    assert changed.by_stream() == {
        ("repositories", "core"): (1, 0),
        (PROBE_STREAM, "graphql"): (1, 1),
        ("pull_requests", "graphql"): (count, count),
        ("commits", "graphql"): (count, count),
        ("releases", "core"): (12, 0),
        # The default branch moved: asked (GitHub's statistics did not change, 304).
        ("contributor_stats", "core"): (count, 0),
        **{(name, "core"): (traffic, 0) for name in TRAFFIC if traffic},
        ("workflow_runs", "core"): (12, count),
        ("workflow_jobs", "graphql"): (count, count),
        ("issue_comments", "core"): (12, 0),
    }
    records = changed.result.records
    assert len(records["pull_requests"]) == len(records["commits"]) == count
    assert len(records["workflow_runs"]) >= count
    # Unchanged repositories answer 304 everywhere (or are not asked at all).
    spent = {r.path.split("/")[3] for r in changed.log if r.points and r.path != "/graphql"}
    assert len(spent) == count


# -- bounded concurrency ------------------------------------------------------------------------


def _canonical(result: SyncResult) -> dict[str, list[str]]:
    return {
        stream: sorted(json.dumps(r, sort_keys=True) for r in rows)
        for stream, rows in result.records.items()
    }


def test_requests_in_flight_are_capped_and_results_equal_a_sequential_run(clock: FakeClock) -> None:
    world = seeded_world(
        clock,
        scale={"repos": 5, "pulls_per_repo": 60, "runs_per_repo": 20, "commits_per_repo": 120},
    )
    with GitHubSimulator(world) as github:
        config = {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]}
        sequential = run_sync({**config, "max_concurrent_requests": 1})
        requests = sorted((r.method, r.path, sorted(r.query.items())) for r in github.requests())
        assert github.max_in_flight == 1
        github.reset_log()
        github.max_in_flight = 0
        # Each answer takes a little while, so that the repositories' requests overlap.
        github.inject(Fault(".", latency=0.01, times=10**6))

        concurrent = run_sync({**config, "max_concurrent_requests": 3})

        assert github.max_in_flight == 3
        assert (
            sorted((r.method, r.path, sorted(r.query.items())) for r in github.requests())
            == requests
        )
    assert _canonical(concurrent) == _canonical(sequential)
    assert concurrent.state == sequential.state
    # Record order within each repository and stream is the sequential one.
    for stream, rows in sequential.records.items():
        for repo_id in {r.get("repo_id") for r in rows}:
            assert [r for r in concurrent.records[stream] if r.get("repo_id") == repo_id] == [
                r for r in rows if r.get("repo_id") == repo_id
            ]


def test_a_repository_error_surfaces_where_a_sequential_run_meets_it(clock: FakeClock) -> None:
    world = seeded_world(clock, scale={"repos": 4})
    web = world.repo("acme", "web")
    assert web is not None
    actions.store(world).unavailable[web.id] = 403
    with GitHubSimulator(world) as github:
        config = {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]}
        results = [
            run_sync(
                {**config, "max_concurrent_requests": n},
                streams={"workflow_runs", "workflow_jobs", "releases"},
            )
            for n in (1, 4)
        ]
    sequential, concurrent = results
    assert (
        concurrent.tap.run_summary.skipped
        == sequential.tap.run_summary.skipped
        # Both streams of the family miss the repository (its jobs were never read either).
        == {"workflow_runs": ["acme/web (403)"], "workflow_jobs": ["acme/web (403)"]}
    )
    assert _canonical(concurrent) == _canonical(sequential)
    assert concurrent.state == sequential.state


@pytest.mark.parametrize(
    ("branches", "streams", "queries"),
    [
        (None, {"pull_requests", "commits"}, 2),
        (["*"], {"pull_requests", "commits"}, 3),
        # Each repository's newest pull request, issue and deployment: 49 a query; the open
        # deployments by id (no connection) beside them.
        (None, {"pull_requests", "commits", "issues", "deployments"}, 4),
    ],
    ids=["default-branch", "branch-patterns", "issues-and-deployments"],
)
def test_the_probe_asks_as_many_repositories_as_one_point_allows(
    clock: FakeClock, branches: list[str] | None, streams: set[str], queries: int
) -> None:
    world = seeded_world(
        clock,
        scale={
            "repos": 149,
            "pulls_per_repo": 1,
            "commits_per_repo": 2,
            "runs_per_repo": 0,
            "releases_per_repo": 0,
        },
    )
    with GitHubSimulator(world) as github:
        config: dict[str, Any] = {
            "auth_token": "ghp_alice",
            "api_url": github.api_url,
            "repositories": ["acme/*"],
        }
        if branches:
            config["commit_branches"] = branches
        first = run_sync(config, streams=streams)
        assert first.tap.client.ledger.points[(PROBE_STREAM, "graphql")] == queries
        github.reset_log()

        again = run_sync(config, state=first.state, streams=streams)

        assert again.records == {}
        # A pull request page per repository: 100 repositories a query, then 49. With a refs
        # page each too: 74, 74, then 1. Each query 1 point (under 150 requests); no
        # repository asked on its own.
        assert [r.points for r in github.requests("^/graphql$")] == [1] * queries
        families = again.tap.client.ledger.cost_check.rows()
        assert [(name, n) for name, n, *_ in families] == [("ChangeProbe", queries)]
        assert all(queries == expected == charged for _, queries, expected, charged in families)
