"""Running a family's fetcher over the end-to-end selection (acme's repositories alice sees) as
the feed would: one `fetch.Request` per repository with the state kept before; its rows per
stream (with the repository context singer-sdk adds) and the state it keeps."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from github_simulator import GitHubSimulator, World
from github_simulator.issues import selected_repos
from github_simulator.world import Repo
from tap_github_activity.client import GitHubClient
from tap_github_activity.fetch import Fetcher, Item, Keep, Repository, Request, Row
from tap_github_activity.fetch.deployments import fetch_deployments
from tap_github_activity.fetch.issues import fetch_issues
from tap_github_activity.settings import Settings


class FamilyFetcher:
    """A family's fetch function with the client and settings the tap would give it."""

    def __init__(
        self,
        github: GitHubSimulator,
        fetch: Fetcher,
        streams: tuple[str, ...],
        selected: Iterable[str] | None = None,
        start: dict[str, datetime | None] | None = None,
        **config: Any,
    ) -> None:
        base = {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]}
        self.settings = Settings.from_config({**base, **config}, version="test")
        self.client = GitHubClient(self.settings)
        self.streams = streams
        self.selected = frozenset(streams if selected is None else selected)
        self.start = dict(start or {})  # stream -> the start a bookmark or start_date gives
        self._fetch = fetch

    def items(self, repo: Repo, state: dict[str, dict[str, Any]]) -> Iterator[Item]:
        repository = Repository(repo.id, repo.owner.login, repo.name, repo.default_branch)
        request = Request(
            self.client, self.settings, repository, self.selected, state, dict(self.start)
        )
        return self._fetch(request)


def issues_fetcher(github: GitHubSimulator, **options: Any) -> FamilyFetcher:
    return FamilyFetcher(github, fetch_issues, ("issues", "issue_comments"), **options)


def deployments_fetcher(github: GitHubSimulator, **options: Any) -> FamilyFetcher:
    return FamilyFetcher(
        github, fetch_deployments, ("deployments", "deployment_statuses"), **options
    )


@dataclass
class Fetched:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bookmarks: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    points: int = 0

    def keyed(self, stream: str) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {(row["id"],): row for row in self.rows.get(stream, [])}


def query_families(fetcher: FamilyFetcher) -> dict[str, tuple[int, int, int]]:
    """GraphQL query family -> (queries, points its declaration expects, points charged), as
    the fetcher's client checked them (tap_github_activity/cost_check.py)."""
    rows = fetcher.client.ledger.cost_check.rows()
    return {name: (queries, expected, charged) for name, queries, expected, charged in rows}


def repositories(world: World) -> list[Repo]:
    return selected_repos(world)


def collect(
    fetcher: FamilyFetcher, repo: Repo, state: dict[str, Any], into: Fetched | None = None
) -> Fetched:
    """One repository's items: rows (with the repository context) and the state kept."""
    result = into or Fetched()
    kept = result.bookmarks.setdefault(repo.id, copy.deepcopy(state))
    context = {"repo_id": repo.id, "owner": repo.owner.login, "repo": repo.name}
    for item in fetcher.items(repo, copy.deepcopy(state)):
        assert item.stream in fetcher.selected
        if isinstance(item, Row):
            result.rows.setdefault(item.stream, []).append({**item.record, **context})
        elif isinstance(item, Keep):
            kept.setdefault(item.stream, {}).update(item.values)
    return result


def fetch_all(
    github: GitHubSimulator,
    fetcher: FamilyFetcher,
    bookmarks: dict[int, dict[str, Any]] | None = None,
) -> Fetched:
    """One sync of every selected repository; rows and the new state."""
    github.reset_log()
    result = Fetched()
    for repo in repositories(github.world):
        collect(fetcher, repo, (bookmarks or {}).get(repo.id, {}), result)
    result.requests = len(github.requests())
    result.points = github.points()
    return result


def projected(
    rows: dict[tuple[Any, ...], dict[str, Any]], truth: dict[tuple[Any, ...], dict[str, Any]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The emitted rows reduced to the fields the ground truth states."""
    fields = next(iter(truth.values())).keys() if truth else ()
    return {key: {name: row.get(name) for name in fields} for key, row in rows.items()}


def changed(
    before: dict[tuple[Any, ...], dict[str, Any]], after: dict[tuple[Any, ...], dict[str, Any]]
) -> set[tuple[Any, ...]]:
    """Keys that are new or whose truth changed."""
    return {key for key, value in after.items() if before.get(key) != value}


def rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography
