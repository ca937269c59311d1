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
from typing import Any

from bench.scales import SCALES
from github_simulator import FakeClock, GitHubSimulator, seeded_world
from github_simulator.truth import MUTATIONS
from tap_github_activity.client import GitHubClient
from tap_github_activity.fetch.deployments import DeploymentsFetcher
from tap_github_activity.fetch.issues import IssuesFetcher
from tap_github_activity.fetch.records import Repository
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


class GraphQLIssues:
    """The alternative measured against IssuesFetcher: GraphQL `issues(filterBy: {since})`,
    issues only. `expensive` counts the points of GitHub's expensive reading, where each of the
    two count-only connections costs a request per issue (100 per page: one point each)."""

    streams = ("issues",)

    def __init__(self, client: GitHubClient) -> None:
        self.client = client
        self.expensive = 0

    def fetch(self, repository: Repository, bookmarks: Any, out: dict[str, Any]) -> Any:
        since, after, latest = bookmarks.get("since"), None, bookmarks.get("since")
        while True:
            variables = {"owner": repository.owner, "name": repository.name}
            variables.update({"after": after, "since": since})
            data = self.client.graphql(ISSUES_QUERY, variables, stream="issues")
            self.expensive += 2
            issues = data["repository"]["issues"]
            for node in issues["nodes"]:
                if since is None or node["updatedAt"] > since:
                    latest = max(latest or "", node["updatedAt"])
                    yield "issues", node
            if not issues["pageInfo"]["hasNextPage"]:
                break
            after = issues["pageInfo"]["endCursor"]
        out["since"] = latest


FAMILIES: dict[str, tuple[str, Any]] = {
    "issues": ("issues", IssuesFetcher),
    "issues (gql)": ("issues", GraphQLIssues),
    "deployments": ("deployments", DeploymentsFetcher),
}


def sync(
    github: GitHubSimulator, fetcher: Any, bookmarks: dict[int, Any]
) -> tuple[Counter[str], dict[int, Any]]:
    """One sync of every repository of the world: rows per stream, new bookmarks."""
    rows: Counter[str] = Counter()
    out: dict[int, Any] = {}
    for repo in sorted(github.world.repos.values(), key=lambda r: r.id):
        out[repo.id] = {}
        repository = Repository(repo.owner.login, repo.name, repo.id)
        for stream, _ in fetcher.fetch(repository, bookmarks.get(repo.id, {}), out[repo.id]):
            rows[stream] += 1
    return rows, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="medium")
    args = parser.parse_args()
    scale = SCALES[args.scale]
    print(f"scale {args.scale}: {dict(scale.world)}")
    print(
        f"{'family':<12} {'sync':<8} {'requests':>8} {'304s':>5} {'core':>5} {'graphql':>7}  rows"
    )
    for family, (mutation, fetcher_type) in FAMILIES.items():
        clock = FakeClock()
        world = seeded_world(clock, scale=scale.world)
        with GitHubSimulator(world) as github:
            config = {"auth_token": "ghp_alice", "api_url": github.api_url}
            client = GitHubClient(Settings.from_config(config, version="bench"))
            fetcher = fetcher_type(client)
            bookmarks: dict[int, Any] = {}
            for run in ("first", "repeat", "mutate"):
                if run == "mutate":
                    clock.advance(3600)
                    MUTATIONS[mutation](world, random.Random(1))  # noqa: S311 -- test data
                github.reset_log()
                expensive = getattr(fetcher, "expensive", 0)
                started = time.perf_counter()
                counts, bookmarks = sync(github, fetcher, bookmarks)
                seconds = time.perf_counter() - started
                requests = len(github.requests())
                not_modified = sum(r.status == 304 for r in github.requests())
                rows = ", ".join(f"{s} {n}" for s, n in sorted(counts.items())) or "none"
                if hasattr(fetcher, "expensive"):
                    rows += f"; expensive reading +{fetcher.expensive - expensive} points"
                print(
                    f"{family:<12} {run:<8} {requests:>8} {not_modified:>5} "
                    f"{github.points('core'):>5} {github.points('graphql'):>7}  "
                    f"{rows} ({seconds:.1f} s)"
                )


if __name__ == "__main__":
    main()
