"""Running a fetcher over the end-to-end selection (acme's repositories alice sees), as the feed
would: its rows per stream, and the bookmarks it reports per repository."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from github_simulator import GitHubSimulator, World
from github_simulator.issues import selected_repos
from github_simulator.world import Repo
from tap_github_activity.client import GitHubClient
from tap_github_activity.fetch.records import Repository
from tap_github_activity.settings import Settings


class Fetcher(Protocol):
    streams: tuple[str, ...]

    def fetch(self, repository: Repository, bookmarks: Any, bookmarks_out: dict[str, Any]) -> Any:
        """Rows of one repository."""


@dataclass
class Fetched:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bookmarks: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    points: int = 0

    def keyed(self, stream: str) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {(row["id"],): row for row in self.rows.get(stream, [])}


def client_for(github: GitHubSimulator) -> GitHubClient:
    return GitHubClient(
        Settings.from_config(
            {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]},
            version="test",
        )
    )


def repositories(world: World) -> list[Repo]:
    return selected_repos(world)


def fetch_all(
    github: GitHubSimulator,
    fetcher: Fetcher,
    bookmarks: dict[int, dict[str, Any]] | None = None,
) -> Fetched:
    """One sync of every selected repository; rows and the new bookmarks."""
    github.reset_log()
    result = Fetched()
    for repo in repositories(github.world):
        repository = Repository(repo.owner.login, repo.name, repo.id)
        out: dict[str, Any] = {}
        for stream, row in fetcher.fetch(repository, (bookmarks or {}).get(repo.id, {}), out):
            assert stream in fetcher.streams
            result.rows.setdefault(stream, []).append(row)
        result.bookmarks[repo.id] = out
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
