"""Requests, points and rows of the issues and deployments fetchers on a benchmark scale.

    .venv/bin/python -m bench.fetchers --scale medium

For each family (and GraphQL `issues(filterBy: {since})`, the alternative to the issues
fetcher's REST listings, issues alone): a first sync (no bookmarks), a repeated sync (nothing
changed) and a sync
after the family's mutation of github_simulator/truth.py, each over every repository of the
scale's world, on a fake clock (no latency: figures, not times).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from bench.scales import SCALES
from github_simulator import FakeClock, GitHubSimulator, seeded_world
from github_simulator.truth import MUTATIONS
from tap_github_activity.client import GitHubClient
from tap_github_activity.fetch import Fetcher, Keep, Repository, Request, Row
from tap_github_activity.fetch.deployments import fetch_deployments
from tap_github_activity.fetch.issues import fetch_issues
from tap_github_activity.settings import Settings

ISSUES_QUERY = """
query($owner: String!, $name: String!, $after: String, $since: DateTime) {
  repository(owner: $owner, name: $name) {
    issues(first: 100, after: $after, filterBy: {since: $since},
           orderBy: {field: UPDATED_AT, direction: ASC}) {
      nodes {
        databaseId number title body state stateReason createdAt updatedAt closedAt locked url
        author { login } milestone { title number dueOn }
        labels(first: 20) { nodes { name } }
        assignees(first: 10) { nodes { login } }
        comments { totalCount }
        reactions { totalCount }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
  rateLimit { cost }
}"""


def graphql_issues(request: Request) -> Iterator[Row | Keep]:
    """The alternative measured against fetch_issues: GraphQL `issues(filterBy: {since})`,
    issues only."""
    repository = request.repository
    state = request.state.get("issues") or {}
    since, after, latest = state.get("since"), None, state.get("since")
    while True:
        variables = {"owner": repository.owner, "name": repository.name}
        variables.update({"after": after, "since": since})
        data = request.client.graphql(ISSUES_QUERY, variables, stream="issues")
        issues = data["repository"]["issues"]
        for node in issues["nodes"]:
            if since is None or node["updatedAt"] > since:
                latest = max(latest or "", node["updatedAt"])
                yield Row("issues", node)
        if not issues["pageInfo"]["hasNextPage"]:
            break
        after = issues["pageInfo"]["endCursor"]
    yield Keep("issues", {"since": latest})


# Family -> (its mutation, fetch function, streams).
FAMILIES: dict[str, tuple[str, Fetcher, tuple[str, ...]]] = {
    "issues": ("issues", fetch_issues, ("issues", "issue_comments")),
    "issues (gql)": ("issues", graphql_issues, ("issues",)),
    "deployments": ("deployments", fetch_deployments, ("deployments", "deployment_statuses")),
}


def sync(
    github: GitHubSimulator,
    client: GitHubClient,
    fetch: Fetcher,
    streams: tuple[str, ...],
    bookmarks: dict[int, Any],
) -> tuple[Counter[str], dict[int, Any]]:
    """One sync of every repository of the world: rows per stream, the state kept."""
    rows: Counter[str] = Counter()
    kept: dict[int, Any] = {}
    for repo in sorted(github.world.repos.values(), key=lambda r: r.id):
        state = kept[repo.id] = dict(bookmarks.get(repo.id, {}))
        repository = Repository(repo.id, repo.owner.login, repo.name, repo.default_branch)
        request = Request(client, client.settings, repository, frozenset(streams), dict(state))
        for item in fetch(request):
            if isinstance(item, Row):
                rows[item.stream] += 1
            elif isinstance(item, Keep):
                state[item.stream] = {**state.get(item.stream, {}), **item.values}
    return rows, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="medium")
    args = parser.parse_args()
    scale = SCALES[args.scale]
    print(f"scale {args.scale}: {dict(scale.world)}")
    print(
        f"{'family':<12} {'sync':<8} {'requests':>8} {'304s':>5} {'core':>5} {'graphql':>7}  rows"
    )
    for family, (mutation, fetch, streams) in FAMILIES.items():
        clock = FakeClock()
        world = seeded_world(clock, scale=scale.world)
        with GitHubSimulator(world) as github:
            config = {"auth_token": "ghp_alice", "api_url": github.api_url}
            client = GitHubClient(Settings.from_config(config, version="bench"))
            bookmarks: dict[int, Any] = {}
            for run in ("first", "repeat", "mutate"):
                if run == "mutate":
                    clock.advance(3600)
                    MUTATIONS[mutation](world, random.Random(1))  # noqa: S311 -- test data
                github.reset_log()
                started = time.perf_counter()
                counts, bookmarks = sync(github, client, fetch, streams, bookmarks)
                seconds = time.perf_counter() - started
                requests = len(github.requests())
                not_modified = sum(r.status == 304 for r in github.requests())
                rows = ", ".join(f"{s} {n}" for s, n in sorted(counts.items())) or "none"
                if family.endswith("(gql)"):
                    # Each of the two count-only connections as a request per issue: 2 points
                    # more per page of 100 under GitHub's expensive reading.
                    rows += f"; expensive reading +{2 * requests} points"
                print(
                    f"{family:<12} {run:<8} {requests:>8} {not_modified:>5} "
                    f"{github.points('core'):>5} {github.points('graphql'):>7}  "
                    f"{rows} ({seconds:.1f} s)"
                )


if __name__ == "__main__":
    main()
