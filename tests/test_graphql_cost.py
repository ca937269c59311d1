"""The simulator's rate-limit score, on queries computed by hand: GitHub's documented rule, and
the two undocumented cases under each reading (expensive by default)."""

from __future__ import annotations

from typing import Any

import graphql
import pytest
import requests as http

from github_simulator import FakeClock, GitHubSimulator, seeded_world
from github_simulator.graphql_api import cost_reading, query_cost, schema
from github_simulator.graphql_cost import EXPENSIVE, KIND, CostReading, connection_requests
from tap_github_activity.fetch import deployments


def requests(query: str, reading: CostReading, variables: dict[str, Any] | None = None) -> int:
    return connection_requests(schema(), graphql.parse(query), variables or {}, reading)


def cost(query: str, reading: CostReading = EXPENSIVE, **variables: Any) -> int:
    return query_cost(graphql.parse(query), variables, reading)


# GitHub's own example ("Calculating a rate limit score"): 1 + 100 + 100 x 50 = 5,101 requests.
DOCUMENTED = """
query {
  viewer {
    login
    repositories(first: 100) {
      edges { node { id
        issues(first: 50) {
          edges { node { id
            labels(first: 60) { edges { node { id name } } }
          } }
        }
      } }
    }
  }
}
"""


@pytest.mark.parametrize("reading", [EXPENSIVE, KIND])
def test_the_documented_example_scores_51_under_either_reading(reading: CostReading) -> None:
    assert requests(DOCUMENTED, reading) == 5_101
    assert cost(DOCUMENTED, reading) == 51


def test_points_round_to_nearest_half_up_with_a_minimum_of_one() -> None:
    three = """
    query($n: Int!) { repository(owner: "o", name: "n") { pullRequests(first: $n) { nodes {
      labels(first: 100) { nodes { name } } assignees(first: 10) { nodes { login } }
      reviews(first: 100) { nodes { id } } } } } }
    """
    # 1 + 3n requests: 4 -> 1 point (the minimum), 148 -> 1, 151 -> 2, 250 -> 3 (2.5 rounds up)
    assert [requests(three, EXPENSIVE, {"n": n}) for n in (1, 49, 50, 83)] == [4, 148, 151, 250]
    assert [cost(three, n=n) for n in (1, 49, 50, 83, 100)] == [1, 1, 2, 3, 3]


COUNT_ONLY = """
query {
  repository(owner: "o", name: "n") {
    pullRequests(first: 29) {
      nodes {
        commits { totalCount }
        comments { totalCount }
        reviews(first: 50) { nodes { id comments { totalCount } } }
      }
    }
  }
}
"""


def test_count_only_connections_count_a_request_each_under_the_expensive_reading() -> None:
    # 1 (pullRequests) + 29 x (reviews, commits, comments) + 29 x 50 (each review's comments)
    assert requests(COUNT_ONLY, EXPENSIVE) == 1 + 29 * 3 + 29 * 50
    assert cost(COUNT_ONLY) == 15  # 1,538 requests
    # Kind: count-only connections are free.
    assert requests(COUNT_ONLY, KIND) == 1 + 29
    assert cost(COUNT_ONLY, KIND) == 1
    # A connection with a page size counts whatever it selects.
    assert requests('query { repository(owner: "o", name: "n") { issues(first: 5) '
                    "{ totalCount } } }", KIND) == 1  # fmt: skip


NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on WorkflowRun { checkSuite { checkRuns(first: 30) { nodes { id
      steps(first: 50) { nodes { name } } } } } }
  }
}
"""


def test_nodes_by_id_multiply_what_is_inside_under_the_expensive_reading() -> None:
    ids = [f"WFR_{i}" for i in range(100)]
    # Per id: checkRuns (1) + 30 x steps (30).
    assert requests(NODES, EXPENSIVE, {"ids": ids}) == 100 * 31
    assert cost(NODES, ids=ids) == 31
    assert requests(NODES, KIND, {"ids": ids}) == 31
    assert cost(NODES, KIND, ids=ids) == 1
    mixed = CostReading(count_only_connections=False, nodes_multiply=True)
    assert requests(NODES, mixed, {"ids": ids}) == 3_100
    assert mixed.name == "count-only free, nodes(ids:) multiplied"
    assert (EXPENSIVE.name, KIND.name) == ("expensive", "kind")


def test_fragments_are_scored_where_they_are_spread() -> None:
    query = """
    query { repository(owner: "o", name: "n") { pullRequests(first: 10) { nodes { ...P } } } }
    fragment P on PullRequest { reviews(first: 10) { nodes { ...R } } }
    fragment R on PullRequestReview { comments { totalCount } }
    """
    assert requests(query, EXPENSIVE) == 1 + 10 + 100
    assert requests(query, KIND) == 1 + 10


def test_the_simulator_charges_its_worlds_reading(clock: FakeClock) -> None:
    world = seeded_world(clock, scale={"repos": 1, "pulls_per_repo": 3})
    body = {"query": COUNT_ONLY.replace('"o", name: "n"', '"acme", name: "api"')}
    with GitHubSimulator(world) as github:

        def charged() -> tuple[int, int]:
            answer = http.post(
                github.api_url + "/graphql",
                json={"query": body["query"].replace("query {", "query { rateLimit { cost }")},
                headers={"Authorization": "token ghp_alice"},
                timeout=10,
            ).json()
            assert "errors" not in answer
            return answer["data"]["rateLimit"]["cost"], github.requests()[-1].points

        assert charged() == (15, 15)  # expensive by default
        cost_reading(world).count_only_connections = False
        assert charged() == (1, 1)


@pytest.mark.parametrize("reading", [EXPENSIVE, KIND], ids=["expensive", "kind"])
def test_deployment_statuses_nested_in_a_page_count_once_per_deployment(
    reading: CostReading,
) -> None:
    # Nested connections multiply by the page around them: a page of 100 deployments asks
    # 100 statuses pages (whatever their size), 101 requests, 1 point; 149 deployments round
    # to 1, 150 to 2.
    page = graphql.parse(deployments.NEWEST_QUERY)
    assert graphql.validate(schema(), page) == []
    for first, requests in ((100, 101), (149, 150), (150, 151)):
        variables = {"owner": "acme", "name": "api", "first": first, "after": None}
        assert connection_requests(schema(), page, variables, reading) == requests
    assert query_cost(page, {"first": deployments.PAGE_SIZE}, reading) == 1
    # 100 open deployments by id beside an incremental page: what nodes(ids:) selects is
    # counted once per id under the expensive reading.
    both = graphql.parse(deployments.NEWEST_AND_OPEN_QUERY)
    variables = {"first": deployments.INCREMENTAL_PAGE_SIZE, "ids": ["DE_1"] * 100}
    expected = 1 + 20 + (100 if reading.nodes_multiply else 1)
    assert connection_requests(schema(), both, variables, reading) == expected
    assert query_cost(both, variables, reading) == 1
