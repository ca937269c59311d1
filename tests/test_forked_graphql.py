"""The benchmark's forked GraphQL executors (github_simulator/forked_graphql.py) answer exactly
what the simulator answers itself: same bytes, same ETag, same points, same refusals."""

from __future__ import annotations

from typing import Any

import requests

from github_simulator import GitHubSimulator
from github_simulator.forked_graphql import ForkedGraphQL
from tap_github_activity.fetch.pull_query import PAGE_QUERY, PAGE_SIZES
from tests.conftest import run_sync

HEADERS = {"Authorization": "Bearer ghp_alice"}
PAGE = {
    "query": PAGE_QUERY,
    "variables": {"owner": "acme", "name": "api", "cursor": None, **PAGE_SIZES},
}


def post(github: GitHubSimulator, body: Any) -> requests.Response:
    return requests.post(github.api_url + "/graphql", json=body, headers=HEADERS, timeout=30)


def answers(github: GitHubSimulator, bodies: list[Any]) -> list[tuple[int, str | None, bytes]]:
    return [
        (r.status_code, r.headers.get("etag"), r.content)
        for r in (post(github, body) for body in bodies)
    ]


def test_forked_copies_answer_as_the_simulator_does(github: GitHubSimulator) -> None:
    bodies = [PAGE, {"query": "{ viewer { login } nope }"}, {"variables": {}}]
    itself = answers(github, bodies)
    points = [entry.points for entry in github.requests()]

    github.reset_log()
    with ForkedGraphQL(github, 2) as executors:
        forked = answers(github, bodies)

    assert forked == itself
    assert [entry.points for entry in github.requests()] == points
    assert [status for status, _, _ in itself] == [200, 200, 400]  # page, GraphQL error, refusal
    assert b'"pullRequests"' in itself[0][2]
    assert executors.cpu_seconds > 0  # the copies did the work
    assert github.graphql_executor is None  # and are gone


def test_a_sync_through_forked_copies_emits_the_same_records(
    config: dict[str, Any], github: GitHubSimulator
) -> None:
    itself = run_sync(config)
    with ForkedGraphQL(github, 2):
        forked = run_sync(config)

    assert forked.records == itself.records
    assert forked.state == itself.state
