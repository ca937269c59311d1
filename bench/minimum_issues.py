"""The physical minimum of issues, issue comments, deployments and their statuses (the model of
bench/minimum.py; bench/README.md says what it assumes).

- issues: GitHub's GraphQL gives an issue no type (the stream's `issue_type`): the REST listing,
  whose pages hold the pull requests too (100 a point); a later sync asks it from the last
  one's bookmark: 304 (free) when no issue or pull request changed, else a page per 100.
- issue_comments, first sync: nested in GraphQL pages of their threads, the cheaper of (a) a
  query of both connections (issues and pull requests, each thread with its first 100
  comments: 2 + I + P requests, 147 threads a point, 100 at most of each) and (b) the pull
  requests' comments in the pull request pages the pull_requests stream reads (what that adds
  to their plan: nothing under the expensive reading, where the comment count they hold
  already counts a request; a connection more under the kind one) with the issues' threads
  by themselves; threads with more than 100 comments page the rest by aliases. A later sync:
  the REST listing since the last one (GraphQL lists no comment by update): 304 when none
  changed, else a page per 100; a parent's kind is known from earlier syncs.
- deployments (with deployment_statuses in the same queries), first sync: GraphQL pages of 100
  deployments, each with its first 100 statuses (101 requests, 1 point); more statuses by
  aliases. A later sync: the REST listing (a deployment's `updated_at` moves with each new
  status): 304s when nothing changed; else the cheaper of the changed pages with the changed
  deployments' statuses asked by id, and the first sync's queries again.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from bench.minimum_model import (
    PAGE,
    Cost,
    alias_plan,
    cost_of,
    listing_pages,
    pull_plan,
    pull_units,
)
from github_simulator.deployments import deployments_of
from github_simulator.issues import issue_store
from github_simulator.pulls import pulls_of
from github_simulator.world import Repo, World, iso

__all__ = ["STREAMS", "IssuesState", "issues_minimum", "issues_state"]

STREAMS = ["issues", "issue_comments", "deployments", "deployment_statuses"]

THREADS = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    issues(first: %d) { nodes { number comments(first: 100) { nodes { id } } } }
    pullRequests(first: %d) { nodes { number comments(first: 100) { nodes { id } } } }
  }
}
"""
ISSUE_THREADS = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    issues(first: %d) { nodes { number comments(first: 100) { nodes { id } } } }
  }
}
"""
COMMENTS_FOLLOW_UP_ALIAS = """
    t%d: issue(number: %d) { comments(first: 100, after: "Y3Vyc29yOnYyOjk5") { nodes { id } } }
"""
DEPLOYMENTS_PAGE = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    deployments(first: %d) { nodes { id statuses(first: 100) { nodes { id state } } } }
  }
}
"""
STATUSES_BY_NODE = """
query($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Deployment { statuses(first: 100) { nodes { id state } } } }
}
"""
STATUSES_FOLLOW_UP_ALIAS = """
    d%d: node(id: "DE_%d") { ... on Deployment {
      statuses(first: 100, after: "Y3Vyc29yOnYyOjk5") { nodes { id state } } } }
"""


@dataclass
class IssuesState:
    """What the minimum of these streams depends on, for one repository."""

    listing: dict[int, str]  # the issue listing's items (issues and pull requests): updatedAt
    threads: dict[int, tuple[bool, int]]  # number -> (is a pull request, comments)
    comments: dict[int, str]  # comment id -> updated_at
    deployments: list[tuple[int, str]]  # the REST listing, newest first: (id, updated_at)
    statuses: dict[int, int]  # deployment id -> statuses


def issues_state(world: World, repo: Repo) -> IssuesState:
    store = issue_store(world)
    issues = store.issues.get(repo.id, [])
    pulls = pulls_of(world).by_repo.get(repo.id, [])
    comments = store.comments.get(repo.id, [])
    counts: dict[int, int] = {}
    for comment in comments:
        counts[comment.number] = counts.get(comment.number, 0) + 1
    deployments = sorted(deployments_of(world, repo), key=lambda d: (d.created_at, d.id))
    return IssuesState(
        listing={
            **{i.number: iso(i.updated_at) for i in issues},
            **{p.number: iso(p.updated_at) for p in pulls},
        },
        threads={
            **{i.number: (False, counts.get(i.number, 0)) for i in issues},
            **{p.number: (True, counts.get(p.number, 0)) for p in pulls},
        },
        comments={c.id: iso(c.updated_at) for c in comments},
        deployments=[(d.id, iso(d.updated_at)) for d in reversed(deployments)],
        statuses={d.id: len(d.statuses) for d in deployments},
    )


def issues_minimum(
    costs: dict[str, Cost], state: IssuesState, old: IssuesState | None, reading: str
) -> None:
    """Add one repository's minimum of STREAMS to `costs`."""
    _issues(costs["issues"], state, old)
    _comments(costs["issue_comments"], state, old, reading)
    _deployments(costs["deployments"], state, old, reading)


def _since_listing(cost: Cost, changed: int) -> None:
    """A listing asked from the last sync's bookmark: 304 when nothing changed."""
    cost.rest([False] if not changed else [True] * math.ceil(changed / PAGE))


def _issues(cost: Cost, state: IssuesState, old: IssuesState | None) -> None:
    if old is None:
        cost.rest(listing_pages(list(state.listing), None))
        return
    _since_listing(cost, sum(old.listing.get(n) != at for n, at in state.listing.items()))


# -- comments ------------------------------------------------------------------------------------


@functools.cache
def _thread_capacity(reading: str) -> int:
    """Issue threads a 1-point query holds beside a page of 100 pull requests."""
    return max(n for n in range(1, PAGE + 1) if cost_of(THREADS % (n, PAGE), reading) <= 1)


def _threads_alone(issues: int, pulls: int, reading: str) -> int:
    """Queries of 1 point for every thread, both connections side by side; at least one."""
    return max(
        math.ceil(issues / PAGE),
        math.ceil(pulls / PAGE),
        math.ceil((issues + pulls) / (PAGE + _thread_capacity(reading))),
        1,
    )


def _comments(cost: Cost, state: IssuesState, old: IssuesState | None, reading: str) -> None:
    if old is not None:
        _since_listing(cost, sum(old.comments.get(i) != at for i, at in state.comments.items()))
        return
    pulls = sum(is_pull for is_pull, _ in state.threads.values())
    issues = len(state.threads) - pulls
    alone = _threads_alone(issues, pulls, reading)
    # (b): what nesting the comments adds to the pull request pages, and the issues' threads.
    nested = pull_plan(pulls, reading, comments=True)[0] - pull_plan(pulls, reading)[0]
    issue_pages = max(math.ceil(issues / PAGE), 1)
    beside = nested + issue_pages * cost_of(ISSUE_THREADS % PAGE, reading)
    pages = sum(max(math.ceil((n - PAGE) / PAGE), 0) for _, n in state.threads.values())
    extra_points, extra_requests = alias_plan(pages, COMMENTS_FOLLOW_UP_ALIAS, reading)
    if beside < alone:
        added = pull_units(reading, comments=True) - pull_units(reading)
        points, requests = beside, issue_pages
        units, rounds = issues + issue_pages + added * pulls, issue_pages
    else:
        points, requests = alone, alone
        units, rounds = issues + pulls + 2 * alone, alone
    cost.gql(
        points + extra_points,
        requests + extra_requests,
        units=units + pages,
        rounds=rounds + (1 if pages else 0),
    )


# -- deployments ---------------------------------------------------------------------------------


def _deployments_read(state: IssuesState, reading: str) -> tuple[int, int, int]:
    """(points, requests, units) of reading every deployment and status by GraphQL."""
    count = len(state.deployments)
    pages = max(math.ceil(count / PAGE), 1)
    points = pages * cost_of(DEPLOYMENTS_PAGE % PAGE, reading)
    more = sum(max(math.ceil((n - PAGE) / PAGE), 0) for n in state.statuses.values())
    extra_points, extra_requests = alias_plan(more, STATUSES_FOLLOW_UP_ALIAS, reading, root=True)
    return points + extra_points, pages + extra_requests, pages + count + more


@functools.cache
def _statuses_per_point(reading: str) -> int:
    """Deployments whose statuses one query of 1 point asks by id."""
    return max(
        n
        for n in range(1, 150)
        if cost_of(STATUSES_BY_NODE, reading, {"ids": [f"DE_{i}" for i in range(n)]}) <= 1
    )


def _deployments(cost: Cost, state: IssuesState, old: IssuesState | None, reading: str) -> None:
    points, requests, units = _deployments_read(state, reading)
    if old is None:
        cost.gql(points, requests, units=units, rounds=requests)
        return
    pages = listing_pages(state.deployments, old.deployments)
    then = dict(old.deployments)
    changed = sum(then.get(i) != at for i, at in state.deployments)
    if not changed:
        cost.rest(pages)
        return
    # The changed pages, then the statuses of the changed deployments, 1 point a query.
    by_id = math.ceil(changed / _statuses_per_point(reading))
    if sum(pages) + by_id < points:
        cost.rest(pages)
        cost.gql(by_id, by_id, units=changed, rounds=by_id)
    else:
        cost.gql(points, requests, units=units, rounds=requests)
