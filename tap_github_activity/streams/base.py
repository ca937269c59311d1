"""Bases every stream builds on: a declaration (name, keys, schema, family) read from the feed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from singer_sdk import SchemaDirectory, Stream, StreamSchema
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity import schemas
from tap_github_activity.fetch import Advance, Item, Keep, Row
from tap_github_activity.sdk_seams import ThrottledStateStream, mark_state_changed

if TYPE_CHECKING:
    from tap_github_activity.accounting import RunSummary
    from tap_github_activity.client import GitHubClient
    from tap_github_activity.clock import Clock
    from tap_github_activity.feed import Feed
    from tap_github_activity.fetch import Repository
    from tap_github_activity.progress import Progress
    from tap_github_activity.settings import Settings


class StreamsTap(Protocol):
    """What the streams use of the tap (tap.py's TapGitHubActivity)."""

    clock: Clock
    streams: Mapping[str, Stream]

    @property
    def client(self) -> GitHubClient: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def feed(self) -> Feed: ...
    @property
    def run_summary(self) -> RunSummary: ...
    @property
    def progress(self) -> Progress: ...
    def selected_repositories(self) -> list[dict[str, Any]]: ...
    def default_head(self, repo_id: int) -> str | None: ...
    def store_selection_state(self) -> None: ...
    def failed(
        self, stream: str, family: str, repository: Repository, error: Exception
    ) -> None: ...


__all__ = [
    "EVENT_NAMESPACE",
    "EVENT_UUID",
    "REPOSITORY_CONTEXT",
    "REPOSITORY_KEYS",
    "SCHEMAS",
    "TAGS",
    "GitHubStream",
    "event_uuid",
]

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

# Every record of every stream carries the `tags` setting (post_process).
TAGS = th.Property(
    "tags",
    th.ArrayType(th.StringType),
    description="The tags setting of the configuration that extracted the record.",
)

# The repository every record names (contributor_stats, a top-level stream, too).
REPOSITORY_KEYS = (
    th.Property(
        "repo_id",
        th.IntegerType,
        required=True,
        description="The repository's id (repositories.id).",
    ),
    th.Property("owner", th.StringType, description="The repository owner's login."),
    th.Property("repo", th.StringType, description="The repository's name."),
)

# The partition every per-repository record carries (singer-sdk adds the context to records),
# and the tags.
REPOSITORY_CONTEXT = th.PropertiesList(
    *REPOSITORY_KEYS,
    th.Property(
        "default_branch",
        th.StringType,
        description="The repository's default branch when the record was read.",
    ),
    TAGS,
)


def event_uuid(stream: str, key: tuple[Any, ...]) -> str:
    """UUID version 5 of the stream name and primary key: the same on every run, so event stores
    that deduplicate by uuid (PostHog) load each event once."""
    name = stream + ":" + ":".join(str(part) for part in key)
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


class GitHubStream(ThrottledStateStream):
    """Base of every stream."""

    schema = StreamSchema(SCHEMAS)
    # Streams whose records are events in time carry `event_uuid` (declare it in the schema).
    emits_event_uuid: ClassVar[bool] = False

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

    @property
    def github_tap(self) -> StreamsTap:
        """The tap, typed."""
        return self.throttle  # type: ignore[return-value]

    @override
    def post_process(
        self,
        row: dict[str, Any],
        context: Context | None = None,
    ) -> dict[str, Any] | None:
        # The repository's context (singer-sdk adds only the keys its state partition is named
        # by: state_layout.py).
        for name, value in (context or {}).items():
            row.setdefault(name, value)
        if self.emits_event_uuid:
            key = tuple((context or {}).get(k, row.get(k)) for k in self.primary_keys)
            row["event_uuid"] = event_uuid(self.name, key)
        row["tags"] = list(self.github_tap.settings.tags)
        self.github_tap.progress.record(self.name, context)
        return row

    def take(self, items: Iterable[Item], context: Context | None) -> Iterable[dict[str, Any]]:
        """The records among a fetcher's items; the state items applied where they belong."""
        for item in items:
            if isinstance(item, Row):
                yield item.record
                continue
            stream = self.github_tap.streams[item.stream]
            if isinstance(item, Keep):
                state = stream.get_context_state(context)
                state.update(item.values)
                for key in [key for key, value in item.values.items() if value is None]:
                    del state[key]  # None: nothing kept
            elif isinstance(item, Advance):
                assert stream.replication_key is not None
                stream.state_manager.increment_state(
                    {stream.replication_key: item.value},
                    context=context,
                    replication_key=stream.replication_key,
                )
            mark_state_changed(stream)
