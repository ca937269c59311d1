"""The physical minimum: the fewest requests and rate-limit points GitHub needs to hand over the
data a sync must deliver, computed from the simulated world (see bench/README.md for the model).

A sync is described by the world before it (a `Snapshot` taken when the previous sync started;
None for a first sync) and the world now. Per stream:

- REST listings: pages of 100, 1 point a page; a page that did not change since the previous
  sync answers 304 to its ETag (a request, 0 points).
- GraphQL: the cost GitHub computes (github_simulator.graphql_api.query_cost) of the smallest
  query shapes that return the same fields, one repository per query, page sizes chosen to
  spend the fewest points. A sync after no change asks one probe per repository and family
  (1 point: GitHub's minimum for a query).
- the floor (`Cost.floor`, `batched_floor`): a lower bound for GraphQL when one query may carry
  many repositories (aliases): connection requests / 149, at least one query per round of
  pages. GitHub's cost counts connection requests, not repositories, so 100 repositories'
  probes or history pages fit in one 1-point query.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from bench import minimum_issues
from bench.minimum_issues import IssuesState, issues_minimum, issues_state
from bench.minimum_model import (
    PAGE,
    Cost,
    alias_plan,
    cost_of,
    listing_pages,
    pull_plan,
    pull_units,
)
from github_simulator import actions, commits, releases, statistics, traffic
from github_simulator.graphql_cost import READINGS
from github_simulator.pulls import pulls_of
from github_simulator.world import Repo, World, iso

__all__ = ["Cost", "Snapshot", "batched_floor", "minimum", "snapshot"]

FAILED = ("failure", "timed_out", "cancelled", "startup_failure")  # jobs whose steps are read
OWNER = "acme"  # the benchmark selects acme/* with alice's token
TOKEN = "ghp_alice"  # noqa: S105 -- the simulated world's token, not a secret

# -- the smallest query shapes (fields that cost nothing are left out: only connections count) --

REVIEWS_FOLLOW_UP_ALIAS = """
    p%d: pullRequest(number: %d) {
      reviews(first: 100, after: "Y3Vyc29yOnYyOjk5") { nodes { id state submittedAt } }
    }
"""

HISTORY_PAGE = """
query($owner: String!, $name: String!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef { target { ... on Commit {
      history(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { oid committedDate additions deletions changedFilesIfAvailable
                parents { totalCount } }
      }
    } } }
  }
}
"""

PULLS_PROBE = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes { updatedAt }
    }
  }
}
"""

HEAD_PROBE = """
query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) { defaultBranchRef { target { oid } } }
}
"""

JOBS_BY_NODE = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on WorkflowRun {
      checkSuite {
        checkRuns(first: %d) {
          nodes { id databaseId name status conclusion startedAt completedAt }
        }
      }
    }
  }
}
"""

STEPS_BY_NODE = """
query($ids: [ID!]!) {
  nodes(ids: $ids) { ... on CheckRun { steps(first: 50) { nodes { name conclusion } } } }
}
"""


@functools.cache
def history_page_cost(reading: str) -> int:
    return cost_of(HISTORY_PAGE, reading)


@functools.cache
def probe_cost(kind: str, reading: str) -> int:
    return cost_of(PULLS_PROBE if kind == "pulls" else HEAD_PROBE, reading)


@functools.cache
def jobs_query_cost(runs: int, check_runs: int, reading: str) -> int:
    ids = {"ids": [f"WFR_{i}" for i in range(runs)]}
    return cost_of(JOBS_BY_NODE % check_runs, reading, ids)


@functools.cache
def steps_query_cost(jobs: int, reading: str) -> int:
    return cost_of(STEPS_BY_NODE, reading, {"ids": [f"CR_{i}" for i in range(jobs)]})


# -- what a sync must deliver -------------------------------------------------------------------


@dataclass
class RepoState:
    """What the minimum depends on, for one repository."""

    listing: tuple[Any, ...]  # its entry in the organization's repository listing
    pulls: dict[int, tuple[str, int]]  # pull id -> (updatedAt, submitted reviews)
    releases: list[tuple[Any, ...]]  # the releases listing, newest first
    runs: list[tuple[Any, ...]]  # the runs listing, newest first: (id, attempts, status, ...)
    jobs: dict[int, list[tuple[int, int]]]  # run id -> (jobs, failed jobs) per attempt
    history: list[str]  # default branch history (git log order), commit oids
    traffic: tuple[Any, ...]  # the four traffic answers
    stats: Any  # the contributor statistics answer
    stats_pending: int  # 202s before it is ready
    issues: IssuesState  # issues, comments, deployments (bench/minimum_issues.py)


@dataclass
class Snapshot:
    """The selected repositories' state when a sync starts."""

    repos: dict[int, RepoState] = field(default_factory=dict)
    listing_order: list[int] = field(default_factory=list)  # /orgs/acme/repos, newest first


def _selected(world: World) -> list[Repo]:
    token = world.tokens[TOKEN]
    return [
        repo
        for repo in world.repos.values()
        if repo.owner.login == OWNER and not repo.fork and world.visible_to_token(token, repo)
    ]


def _repo_state(world: World, repo: Repo) -> RepoState:
    listing = (
        repo.id,
        repo.name,
        repo.description,
        repo.private,
        repo.archived,
        repo.default_branch,
        repo.language,
        tuple(repo.topics),
        repo.stargazers,
        repo.forks,
        repo.open_issues,
        repo.size,
        iso(repo.updated_at),
        iso(repo.pushed_at),
    )
    pulls = {
        p.id: (iso(p.updated_at), sum(r.state != "PENDING" for r in p.reviews))
        for p in pulls_of(world).by_repo.get(repo.id, [])
    }
    rel = sorted(
        releases.releases_of(world, repo), key=lambda r: (r.created_at, r.id), reverse=True
    )
    release_rows = [
        (
            r.id,
            r.tag_name,
            r.name,
            r.body,
            r.draft,
            r.prerelease,
            None if r.published_at is None else iso(r.published_at),
            tuple((a.id, a.name, a.download_count, iso(a.updated_at)) for a in r.assets),
        )
        for r in rel
    ]
    runs = sorted(actions.runs_of(world, repo), key=lambda r: (r.created_at, r.id), reverse=True)
    run_rows = [
        (r.id, len(r.attempts), r.latest.status, r.latest.conclusion, iso(r.latest.updated_at))
        for r in runs
    ]
    jobs = {
        r.id: [(len(a.jobs), sum(j.conclusion in FAILED for j in a.jobs)) for a in r.attempts]
        for r in runs
    }
    data = commits.git(world, repo)
    head = data.branches.get(repo.default_branch)
    history = [c.oid for c in data.history(head)] if head else []
    answers = (
        traffic.views_answer(world, repo),
        traffic.clones_answer(world, repo),
        traffic.referrers_answer(world, repo),
        traffic.paths_answer(world, repo),
    )
    stats_store = statistics.store(world)
    stats = (
        statistics.contributors_answer(world, repo.id, "")
        if stats_store.contributors.get(repo.id)
        else None
    )
    return RepoState(
        listing,
        pulls,
        release_rows,
        run_rows,
        jobs,
        history,
        _frozen(answers),
        _frozen(stats),
        stats_store.pending_202.get(repo.id, 0),
        issues_state(world, repo),
    )


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def snapshot(world: World) -> Snapshot:
    """The state a sync starting now will see."""
    with world.lock:
        repos = _selected(world)
        shot = Snapshot({repo.id: _repo_state(world, repo) for repo in repos})
        shot.listing_order = [
            r.id for r in sorted(repos, key=lambda r: (r.created_at, r.id), reverse=True)
        ]
    return shot


STREAMS = [
    "repositories",
    "pull_requests",
    "pull_request_reviews",
    "releases",
    "workflow_runs",
    "workflow_jobs",
    "commits",
    "commit_branches",
    "traffic_views",
    "traffic_clones",
    "traffic_referrers",
    "traffic_paths",
    "contributor_stats",
    *minimum_issues.STREAMS,
]


def minimum(
    before: Snapshot | None,
    now: Snapshot,
    *,
    jobs_by_graphql: bool = False,
    earlier_attempts: bool = False,
    reading: str = "expensive",
) -> dict[str, Cost]:
    """The least each stream must spend in a sync that starts at `now`, the previous one having
    started at `before` (None: a first sync). `earlier_attempts`: the attempts before a run's
    latest that no earlier sync saw are delivered too (workflow_runs_earlier_attempts).
    `reading`: how GraphQL queries are scored (github_simulator/graphql_cost.py READINGS)."""
    costs = {name: Cost() for name in STREAMS}
    listing_now = [now.repos[i].listing for i in now.listing_order]
    listing_then = (
        None if before is None else [before.repos[i].listing for i in before.listing_order]
    )
    costs["repositories"].rest(listing_pages(listing_now, listing_then))
    for repo_id, state in now.repos.items():
        old = before.repos.get(repo_id) if before else None
        _pulls(costs["pull_requests"], state, old, reading)
        costs["releases"].rest(listing_pages(state.releases, old.releases if old else None))
        _runs(
            costs["workflow_runs"],
            costs["workflow_jobs"],
            state,
            old,
            by_graphql=jobs_by_graphql,
            earlier_attempts=earlier_attempts,
            reading=reading,
        )
        _commits(costs["commits"], state, old, reading)
        for index, name in enumerate(
            ("traffic_views", "traffic_clones", "traffic_referrers", "traffic_paths")
        ):
            changed = old is None or state.traffic[index] != old.traffic[index]
            costs[name].rest([changed])
        stats_changed = old is None or state.stats != old.stats
        costs["contributor_stats"].rest([True] * state.stats_pending + [stats_changed])
        issues_minimum(costs, state.issues, old.issues if old else None, reading)
    return costs


def _pulls(cost: Cost, state: RepoState, old: RepoState | None, reading: str) -> None:
    if old is None:
        changed = list(state.pulls)
        needed = len(changed)
    else:
        changed = [pid for pid, value in state.pulls.items() if old.pulls.get(pid) != value]
        # Newest update first: reading stops at the first pull request that did not change.
        needed = min(len(changed) + 1, len(state.pulls))
    if old is not None and not changed:
        cost.gql(probe_cost("pulls", reading), 1, units=1)
        return
    points, requests = pull_plan(needed, reading)
    follow_ups = sum(max(math.ceil((state.pulls[pid][1] - PAGE) / PAGE), 0) for pid in changed)
    extra_points, extra_requests = alias_plan(follow_ups, REVIEWS_FOLLOW_UP_ALIAS, reading)
    # Per-connection units: a page of P costs 1 + uP (pages of a point for the floor).
    nested = pull_units(reading)
    pages = max(math.ceil(needed / (148 // nested)), 1)
    cost.gql(
        points + extra_points,
        requests + extra_requests,
        units=pages + nested * needed + follow_ups,
        rounds=pages + (1 if follow_ups else 0),
    )


def _runs(
    runs_cost: Cost,
    jobs_cost: Cost,
    state: RepoState,
    old: RepoState | None,
    *,
    by_graphql: bool,
    earlier_attempts: bool,
    reading: str,
) -> None:
    runs_cost.rest(listing_pages(state.runs, old.runs if old else None))
    then = {row[0]: row for row in old.runs} if old else {}
    # Per run whose row changed: the (jobs, failed jobs) of the attempts whose jobs are due.
    due: list[list[tuple[int, int]]] = []
    for row in state.runs:
        run_id, attempts = row[0], row[1]
        previous = then.get(run_id)
        if previous == row:
            continue
        # Attempts before the latest that no earlier sync saw as the latest one: each read on
        # its own (GET .../attempts/{n}), when delivered; the latest comes with the listing.
        seen = previous[1] if previous else 0
        if not earlier_attempts:
            seen = max(seen, attempts - 1)
        runs_cost.rest([True] * max(attempts - 1 - seen, 0))
        # Jobs: of the attempts not seen, or of the latest attempt when only it changed.
        due.append(state.jobs[run_id][min(seen, attempts - 1) :])
    # REST .../runs/{id}/jobs?filter=all gives every attempt's jobs of a run (100 a page); with
    # runner details off, GraphQL gives the latest attempt's (a check suite's check runs: the
    # latest attempt's), 100 runs a query, then the steps of the failed jobs by node id.
    latest_only = [jobs[0] for jobs in due if len(jobs) == 1] if by_graphql else []
    for jobs in due:
        if not by_graphql or len(jobs) > 1:
            jobs_cost.rest([True] * max(math.ceil(sum(n for n, _ in jobs) / PAGE), 1))
    for offset in range(0, len(latest_only), 100):
        batch = latest_only[offset : offset + 100]
        widest = max(1, *(n for n, _ in batch))
        jobs_cost.gql(jobs_query_cost(len(batch), widest, reading), 1, units=len(batch))
    failed = sum(f for _, f in latest_only)
    for offset in range(0, failed, 100):
        count = min(100, failed - offset)
        jobs_cost.gql(steps_query_cost(count, reading), 1, units=count, rounds=2)


def _commits(cost: Cost, state: RepoState, old: RepoState | None, reading: str) -> None:
    if old is None:
        walked = len(state.history)
    else:
        known = set(old.history)
        new = [index for index, oid in enumerate(state.history) if oid not in known]
        if not new:
            cost.gql(probe_cost("head", reading), 1, units=0)
            return
        # git log order: the walk reads down to the oldest new commit.
        walked = new[-1] + 1
    pages = max(math.ceil(walked / PAGE), 1)
    # Each commit's `parents { totalCount }` is a connection request too when counts count.
    units = pages * (1 + PAGE if READINGS[reading].count_only_connections else 1)
    cost.gql(pages * history_page_cost(reading), pages, units=units, rounds=pages)


def batched_floor(costs: dict[str, Cost]) -> int:
    """GraphQL points of every stream's queries shared by repositories and streams: connection
    requests / 149, at least one query per sequential round of pages."""
    units = sum(c.units for c in costs.values())
    rounds = max((c.rounds for c in costs.values()), default=0)
    if not any(c.graphql_requests for c in costs.values()):
        return 0
    return max(math.ceil(units / 149), rounds, 1)
