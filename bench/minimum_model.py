"""What bench/minimum.py and bench/minimum_issues.py count with: a stream's `Cost` in one sync,
GitHub's cost of a query (as the simulator computes it under a reading), the pages of a REST
listing that changed, the cheapest paging of pull requests, and follow-up queries batched in
aliases."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import graphql

from github_simulator.graphql_api import query_cost
from github_simulator.graphql_cost import READINGS

__all__ = [
    "PAGE",
    "Cost",
    "alias_plan",
    "cost_of",
    "listing_pages",
    "pull_plan",
    "pull_units",
]

PAGE = 100


def cost_of(query: str, reading: str, variables: dict[str, Any] | None = None) -> int:
    """GitHub's cost of one query, as the simulator computes it under `reading` (a name of
    github_simulator.graphql_cost.READINGS)."""
    return query_cost(graphql.parse(query), variables or {}, READINGS[reading])


@dataclass
class Cost:
    """Requests and points of one stream in one sync."""

    requests: int = 0  # REST, including 304s
    not_modified: int = 0
    core_points: int = 0
    graphql_requests: int = 0
    graphql_points: int = 0
    # GitHub's per-connection request units of the GraphQL queries (for batched_floor) and
    # the number of sequential rounds of pages.
    units: int = 0
    rounds: int = 0

    @property
    def total_requests(self) -> int:
        return self.requests + self.graphql_requests

    @property
    def points(self) -> int:
        return self.core_points + self.graphql_points

    @property
    def floor_graphql(self) -> int:
        """GraphQL points if one query may carry many repositories' connections (aliases):
        149 connection requests round to 1 point; one query at least per round of pages."""
        if not self.graphql_requests:
            return 0
        return max(math.ceil(self.units / 149), self.rounds, 1)

    @property
    def floor(self) -> int:
        """Points with GraphQL queries shared by repositories (REST cannot batch)."""
        return self.core_points + self.floor_graphql

    def rest(self, pages: Iterable[bool]) -> Cost:
        """Add listing pages: True for a page that changed (200), False for a 304."""
        for changed in pages:
            self.requests += 1
            if changed:
                self.core_points += 1
            else:
                self.not_modified += 1
        return self

    def gql(self, points: int, requests: int, units: int = 0, rounds: int = 1) -> Cost:
        self.graphql_points += points
        self.graphql_requests += requests
        self.units += units
        self.rounds = max(self.rounds, rounds)
        return self


def listing_pages(items: Sequence[Any], before: Sequence[Any] | None) -> list[bool]:
    """Which pages of a listing changed (at least one page, even when empty)."""
    count = max(math.ceil(len(items) / PAGE), 1)
    changed = []
    for index in range(count):
        now = list(items[index * PAGE : (index + 1) * PAGE])
        then = None if before is None else list(before[index * PAGE : (index + 1) * PAGE])
        changed.append(then is None or now != then)
    return changed


# -- pull request pages (fields that cost nothing are left out: only connections count) --------

# The comments: their count alone, or the first 100 of them with it (the issue_comments of a
# pull request's conversation, nested in its page).
PULL_COMMENTS = ("comments { totalCount }", "comments(first: 100) { totalCount nodes { id } }")
PULLS_PAGE = """
query($owner: String!, $name: String!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: %d, after: $cursor, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id number title state updatedAt
        commits { totalCount }
        %s
        labels(first: 100) { nodes { name } }
        reviewRequests(first: 100) { nodes { requestedReviewer { __typename } } }
        reviews(first: 100) {
          pageInfo { hasNextPage endCursor }
          nodes { id state submittedAt }
        }
      }
    }
  }
}
"""


@functools.cache
def pull_page_cost(size: int, reading: str, comments: bool = False) -> int:
    return cost_of(PULLS_PAGE % (size, PULL_COMMENTS[comments]), reading)


@functools.cache
def pull_plan(count: int, reading: str, comments: bool = False) -> tuple[int, int]:
    """(points, requests) of the cheapest way to page through `count` pull requests (page sizes
    1-100, each page with its nested connections, and with `comments` the first 100 comments
    of each); at least one query."""
    best: list[tuple[int, int]] = [(0, 0)]
    for n in range(1, count + 1):
        best.append(
            min(
                (
                    pull_page_cost(p, reading, comments) + best[max(n - p, 0)][0],
                    1 + best[max(n - p, 0)][1],
                )
                for p in range(1, min(n, PAGE) + 1)
            )
        )
    return best[count] if count else (pull_page_cost(1, reading, comments), 1)


def pull_units(reading: str, comments: bool = False) -> int:
    """Connection requests per pull request of a page: labels, reviewRequests, reviews, and
    the commits and comments counts when count-only connections count (comments with nodes
    always count)."""
    counted = 2 if READINGS[reading].count_only_connections else int(comments)
    return 3 + counted


# -- follow-up queries ---------------------------------------------------------------------------


@functools.cache
def _aliases_per_point(alias: str, reading: str, root: bool) -> int:
    """How many copies of `alias` (with %d for its alias and %d for a number) one query of 1
    point holds: in a repository, or at the query's root."""

    def cost(count: int) -> int:
        body = "".join(alias % (i, i + 1) for i in range(count))
        if not root:
            body = 'repository(owner: "o", name: "n") {' + body + "}"
        return cost_of("query {" + body + "}", reading)

    return max(k for k in range(1, 500) if cost(k) <= 1)


def alias_plan(pages: int, alias: str, reading: str, *, root: bool = False) -> tuple[int, int]:
    """(points, requests) for `pages` follow-up pages, one `alias` each (a field of the
    repository, or of the query's root), batched in queries of 1 point."""
    if not pages:
        return 0, 0
    queries = math.ceil(pages / _aliases_per_point(alias, reading, root))
    return queries, queries
