"""Bases every stream builds on: the shared client, GitHub-shaped records, per-repository reading."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from singer_sdk import SchemaDirectory, Stream, StreamSchema

from tap_github_activity import schemas
from tap_github_activity.client import GitHubClient

if TYPE_CHECKING:
    from tap_github_activity.tap import TapGitHubActivity

__all__ = ["SCHEMAS", "GitHubStream", "flatten"]

SCHEMAS = SchemaDirectory(schemas)


def flatten(payload: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """A record from a GitHub payload: each field is a dotted path into it (None where absent)."""
    record: dict[str, Any] = {}
    for name, path in fields.items():
        value: Any = payload
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        record[name] = value
    return record


class GitHubStream(Stream):
    """Base of every stream: reads through the tap's one shared client."""

    schema = StreamSchema(SCHEMAS)

    @property
    def github_tap(self) -> TapGitHubActivity:
        """The tap, typed."""
        return self._tap  # type: ignore[return-value]

    @property
    def client(self) -> GitHubClient:
        """The client every stream shares (one rate-limit budget, one request count)."""
        return self.github_tap.client
