"""The tap's run-time check of GraphQL costs: under either reading of GitHub's cost rule its
queries cost what the design expects and nothing is said; when GitHub charges more, one warning
per query family, and a smaller page for the rest of the run where one gives the same data."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from github_simulator import FakeClock, GitHubSimulator, graphql_api, seeded_world
from github_simulator.graphql_cost import EXPENSIVE, KIND, CostReading
from tap_github_activity.cost_check import CostCheck
from tests.conftest import SyncResult, run_sync

SCALE = {
    "repos": 2,
    "pulls_per_repo": 70,
    "runs_per_repo": 12,
    "commits_per_repo": 150,
    "releases_per_repo": 0,
}
STREAMS = {"pull_requests", "pull_request_reviews", "workflow_runs", "workflow_jobs", "commits"}


def _sync(clock: FakeClock, reading: CostReading, **config: Any) -> tuple[SyncResult, list[int]]:
    world = seeded_world(clock, scale=SCALE)
    graphql_api.cost_reading(world).count_only_connections = reading.count_only_connections
    graphql_api.cost_reading(world).nodes_multiply = reading.nodes_multiply
    with GitHubSimulator(world) as github:
        result = run_sync(
            {
                "auth_token": "ghp_alice",
                "api_url": github.api_url,
                "repositories": ["acme/*"],
                "max_concurrent_requests": 1,
                **config,
            },
            streams=STREAMS,
        )
        points = [r.points for r in github.requests("^/graphql$")]
    return result, points


def _families(result: SyncResult) -> dict[str, tuple[int, int, int]]:
    check: CostCheck = result.tap.client.ledger.cost_check
    return {name: (queries, expected, charged) for name, queries, expected, charged in check.rows()}


def _cost_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tap_github_activity.cost" and r.levelno >= logging.WARNING
    ]


def _canonical(result: SyncResult) -> dict[str, list[str]]:
    return {
        stream: sorted(json.dumps(r, sort_keys=True) for r in rows)
        for stream, rows in result.records.items()
    }


@pytest.mark.parametrize("reading", [EXPENSIVE, KIND], ids=["expensive", "kind"])
def test_queries_cost_what_the_design_expects_under_either_reading(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, reading: CostReading
) -> None:
    result, points = _sync(clock, reading)

    assert _cost_warnings(caplog) == []
    families = _families(result)
    # Pull request pages of 29 (3 a repository), one history page of 100 commits and one of
    # 50, each repository's 12 runs' jobs and its failed jobs' steps: 1 point each either way.
    assert families == {
        "ChangeProbe": (1, 1, 1),
        "PullRequestPage": (6, 6, 6),
        "CommitHistory": (4, 4, 4),
        "WorkflowJobs": (2, 2, 2),
        "WorkflowJobSteps": (2, 2, 2),
    }
    assert points == [1] * 15


def test_a_family_github_charges_more_is_named_once_and_moves_to_smaller_pages(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected, _ = _sync(clock, EXPENSIVE)
    caplog.clear()
    # A GitHub that counts three requests where its documentation says one.
    documented = graphql_api.connection_requests
    monkeypatch.setattr(
        graphql_api,
        "connection_requests",
        lambda *args: 3 * documented(*args),
    )

    result, points = _sync(clock, EXPENSIVE)

    warnings = _cost_warnings(caplog)
    assert sorted(warnings) == [
        "GitHub charged 3 points for a commit history query (CommitHistory) where its "
        "documented cost rule, read the expensive way, gives 1: 1 branch(es) a query for the "
        "rest of the run",
        "GitHub charged 4 points for a pull request page query (PullRequestPage) where its "
        "documented cost rule, read the expensive way, gives 1: pages of 7 pull requests for "
        "the rest of the run",
    ]
    families = _families(result)
    # The first page of 29 cost 4 points; then pages of 7 (36 requests, 108 counted): 1 point.
    # 70 pull requests a repository: 29 + 6 x 7, then 10 x 7.
    assert families["PullRequestPage"] == (17, 17, 4 + 16)
    # A history page of 100 commits and its parents: 101 requests, 303 counted, 3 points.
    assert families["CommitHistory"] == (4, 4, 3 * 4)
    # 12 runs or fewer jobs a query: 36 counted, still 1 point.
    assert families["WorkflowJobs"] == (2, 2, 2)
    assert sum(points) == 1 + 20 + 12 + 2 + 2
    # The same data.
    assert _canonical(result) == _canonical(expected)
