"""Compare a loaded table with the simulator's ground truth, and check Meltano's state.

Values are compared after the loaders' own conversions are undone: JSON kept as text, timestamps
with or without a time zone, `date` columns, PostgreSQL numerics, and target-duckdb's empty
strings stored as NULL.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from tap_github_activity.tap import TapGitHubActivity

__all__ = ["StreamInfo", "Table", "discover", "mismatches", "state_problems"]

# A bookmark larger than this is no longer a bookmark (records or payloads kept in state).
MAX_BOOKMARK_CHARS = 1024
# A stream may keep something per repository outside partitions (ETags, a listing's pages).
MAX_STREAM_CHARS_PER_REPOSITORY = 512


@dataclass(frozen=True)
class StreamInfo:
    """What the catalog says about one stream."""

    name: str
    key: tuple[str, ...]
    replication_key: str | None
    properties: Mapping[str, Any]


def discover(config: dict[str, Any]) -> dict[str, StreamInfo]:
    """The tap's streams (discovery reads no API)."""
    catalog = TapGitHubActivity(config=config, validate_config=True).catalog_dict
    streams = {}
    for entry in catalog["streams"]:
        metadata = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        key = tuple(entry.get("key_properties") or metadata.get("table-key-properties") or ())
        streams[entry["tap_stream_id"]] = StreamInfo(
            entry["tap_stream_id"],
            key,
            entry.get("replication_key"),
            entry["schema"].get("properties", {}),
        )
    return streams


def normalize(value: Any, schema: Mapping[str, Any], *, empty_is_null: bool = False) -> Any:
    """A value as the tap meant it, whichever loader stored it."""
    if value is None or (empty_is_null and value == ""):
        return None
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if isinstance(value, str) and ("array" in types or "object" in types):
        value = json.loads(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if schema.get("format") == "date-time":
        moment = (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        )
        return (
            moment.replace(tzinfo=timezone.utc)
            if moment.tzinfo is None
            else moment.astimezone(timezone.utc)
        )
    if schema.get("format") == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    return value


class Table:
    """A stream's rows by key, as loaded (for appending loaders: the latest row per key)."""

    def __init__(
        self, info: StreamInfo, rows: Iterable[Mapping[str, Any]], *, empty_is_null: bool = False
    ) -> None:
        self.info = info
        self.empty_is_null = empty_is_null
        keys = []
        self.rows: dict[tuple[Any, ...], Mapping[str, Any]] = {}
        for row in rows:
            key = self.key_of(row)
            keys.append(key)
            self.rows[key] = row
        self.duplicates = sorted((k for k, n in Counter(keys).items() if n > 1), key=repr)

    def value(self, field: str, value: Any) -> Any:
        """A value of `field` normalized by the field's schema."""
        return normalize(
            value, self.info.properties.get(field, {}), empty_is_null=self.empty_is_null
        )

    def key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The primary key of a row (or of a truth entry's key tuple, see `expected_key`)."""
        return tuple(self.value(field, row.get(field)) for field in self.info.key)

    def expected_key(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            self.value(field, part) for field, part in zip(self.info.key, key, strict=True)
        )


def mismatches(
    table: Table,
    expected: Mapping[tuple[Any, ...], Mapping[str, Any]],
) -> list[str]:
    """How the table differs from the truth (keys, then each truth field), readable."""
    name = table.info.name
    problems = [
        f"{name}: truth field {field!r} is not in the stream's schema"
        for field in sorted({f for fields in expected.values() for f in fields})
        if field not in table.info.properties
    ]
    wanted = {table.expected_key(key): fields for key, fields in expected.items()}
    problems += [
        f"{name}: missing row {key}" for key in sorted(wanted.keys() - table.rows.keys(), key=repr)
    ]
    problems += [
        f"{name}: unexpected row {key}"
        for key in sorted(table.rows.keys() - wanted.keys(), key=repr)
    ]
    for key in sorted(wanted.keys() & table.rows.keys(), key=repr):
        row = table.rows[key]
        for field, value in wanted[key].items():
            if field not in row:
                problems.append(f"{name} {key}: no column {field!r}")
                continue
            actual, truth = table.value(field, row[field]), table.value(field, value)
            if actual != truth:
                problems.append(f"{name} {key}: {field} is {actual!r}, truth {truth!r}")
    return problems


def state_problems(
    state: Mapping[str, Any],
    streams: Mapping[str, StreamInfo],
    tables: Mapping[str, Table],
    repo_ids: set[int],
) -> list[str]:
    """Meltano's state after a finished run: one small, finished bookmark per repository (and
    branch) of each stream; every repository with rows of an incremental stream has one."""
    problems = []
    for name, bookmark in state.get("bookmarks", {}).items():
        partitions = bookmark.get("partitions", [])
        top = len(json.dumps({k: v for k, v in bookmark.items() if k != "partitions"}))
        if top > MAX_BOOKMARK_CHARS + MAX_STREAM_CHARS_PER_REPOSITORY * len(repo_ids):
            problems.append(
                f"{name}: {top} characters of state outside partitions for "
                f"{len(repo_ids)} repositories"
            )
        identities = Counter()
        for partition in partitions:
            context = partition.get("context", {})
            size = len(json.dumps(partition))
            if size > MAX_BOOKMARK_CHARS:
                problems.append(f"{name}: bookmark of {size} characters for {context}")
            if "progress_markers" in partition:
                problems.append(f"{name}: unfinished bookmark (progress markers) for {context}")
            if "repo_id" in context and context["repo_id"] not in repo_ids:
                problems.append(f"{name}: bookmark for unknown repository {context}")
            identities[(context.get("repo_id"), context.get("branch"))] += 1
        problems += [
            f"{name}: {count} bookmarks for repository {repo} branch {branch}"
            for (repo, branch), count in identities.items()
            if count > 1
        ]
        info, table = streams.get(name), tables.get(name)
        if info and info.replication_key and table and partitions:
            with_rows = {row.get("repo_id") for row in table.rows.values()}
            bookmarked = {identity[0] for identity in identities}
            problems += [
                f"{name}: rows but no bookmark for repository {repo}"
                for repo in sorted(with_rows - bookmarked, key=repr)
            ]
    return problems
