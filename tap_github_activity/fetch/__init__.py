"""Fetchers: what GitHub returns, per resource family, with no knowledge of Singer or threads.

A fetcher is a function of a `Request` (the client, one repository, the wanted streams of its
family with their bookmarks) that yields `Row`s, then the state each stream keeps (`Keep`,
`Advance`), then ends or raises. See docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.fetch.heads import RepositoryChanges

if TYPE_CHECKING:
    from tap_github_activity.client import GitHubClient
    from tap_github_activity.settings import Settings

__all__ = [
    "Advance",
    "Fetcher",
    "Item",
    "Keep",
    "Repository",
    "Request",
    "Row",
    "repository_query",
]


@dataclass(frozen=True)
class Repository:
    """One selected repository: the partition every per-repository stream is read by."""

    repo_id: int
    owner: str
    name: str
    default_branch: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def path(self) -> str:
        """Its REST path."""
        return f"/repos/{self.owner}/{self.name}"

    def context(self) -> dict[str, Any]:
        """Its streams' partition context (what singer-sdk adds to their records)."""
        return {
            "repo_id": self.repo_id,
            "owner": self.owner,
            "repo": self.name,
            "default_branch": self.default_branch,
        }

    @classmethod
    def of(cls, context: Mapping[str, Any]) -> Repository:
        """From a stream's partition context."""
        return cls(
            context["repo_id"], context["owner"], context["repo"], context.get("default_branch")
        )


@dataclass(frozen=True)
class Row:
    """A record of `stream`."""

    stream: str
    record: dict[str, Any]


@dataclass(frozen=True)
class Keep:
    """Values `stream` keeps in its repository's state (after its rows before this item); a
    value None removes its key."""

    stream: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Advance:
    """`stream`'s replication bookmark moves to `value` (also without a row to carry it)."""

    stream: str
    value: str


Item = Row | Keep | Advance


@dataclass
class Request:
    """What a fetcher is asked: one repository, the wanted streams of its family."""

    client: GitHubClient
    settings: Settings
    repository: Repository
    streams: frozenset[str]  # the family's streams whose rows are wanted
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # stream -> partition state
    start: dict[str, datetime | None] = field(default_factory=dict)  # stream -> bookmark start
    changes: Callable[[], RepositoryChanges | None] = lambda: None  # the change probe's answer
    today: str = ""  # the run's UTC date (traffic snapshots)
    started: float = 0.0  # when the run started, seconds since the epoch (traffic's interval)

    def wants(self, stream: str) -> bool:
        return stream in self.streams


Fetcher = Callable[[Request], Iterator[Item]]


def repository_query(
    request: Request, query: str, variables: dict[str, Any], *, stream: str
) -> dict[str, Any]:
    """The `repository` object of a GraphQL query on the request's repository (`$owner`,
    `$name`); a repository GitHub does not show (null, NOT_FOUND) is not accessible."""
    repository = request.repository
    data = request.client.graphql(
        query,
        {"owner": repository.owner, "name": repository.name, **variables},
        stream=stream,
        owner=repository.owner,
    )
    found = data.get("repository")
    if found is None:
        raise NotAccessibleError(
            request.settings.graphql_url,
            404,
            "GraphQL NOT_FOUND: the repository is not visible to these credentials",
        )
    return found  # type: ignore[no-any-return]
