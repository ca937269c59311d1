"""Bases every stream builds on: the shared client and GitHub-shaped records."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import SchemaDirectory, Stream, StreamSchema
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity import schemas
from tap_github_activity.client import GitHubClient

if TYPE_CHECKING:
    from tap_github_activity.tap import TapGitHubActivity

__all__ = ["EVENT_NAMESPACE", "EVENT_UUID", "SCHEMAS", "GitHubStream", "event_uuid", "flatten"]

SCHEMAS = SchemaDirectory(schemas)

# Fixed forever: changing it would give every event a new uuid and duplicate it downstream.
EVENT_NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-5d2e-9a41-7c0e8b2f4d10")


# The schema property of streams whose records are events in time (`emits_event_uuid`).
EVENT_UUID = th.Property(
    "event_uuid",
    th.UUIDType,
    description="UUID version 5 of the stream name and primary key: the same on every run, "
    "for event stores that deduplicate by uuid (PostHog).",
)


def event_uuid(stream: str, key: tuple[Any, ...]) -> str:
    """UUID version 5 of the stream name and primary key: the same on every run, so event stores
    that deduplicate by uuid (PostHog) load each event once."""
    name = stream + ":" + ":".join(str(part) for part in key)
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


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

    # No stream re-sends a whole table (partitions are skipped, 304s send nothing, GitHub's
    # windows slide): ACTIVATE_VERSION would make targets delete rows that are still true.
    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        return False

    # Records are built field by field to their schemas (tests/test_record_schemas.py holds
    # every stream to it): singer-sdk's per-record conformance, a third of the tap's CPU time,
    # would change nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @override
    def _write_state_message(self) -> None:
        # singer-sdk writes the whole tap state after every partition: at 200 repositories,
        # 2,000 messages of 400 KB each. The tap writes it at most every few seconds, and once
        # more when the run ends (TapGitHubActivity.sync_all).
        if not self.state_manager.is_flushed and self.github_tap.state_checkpoint_due():
            super()._write_state_message()

    # Streams whose records are events in time carry `event_uuid` (declare it in the schema).
    emits_event_uuid: ClassVar[bool] = False

    @override
    def post_process(
        self,
        row: dict[str, Any],
        context: Context | None = None,
    ) -> dict[str, Any] | None:
        if self.emits_event_uuid:
            key = tuple((context or {}).get(k, row.get(k)) for k in self.primary_keys)
            row["event_uuid"] = event_uuid(self.name, key)
        return row
