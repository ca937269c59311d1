"""A record becomes one PostHog event, encoded once as compact JSON and kept under PostHog's
per-event size limit by truncating its largest properties."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from target_posthog.mapping import REPOSITORY, UUID_FIELD, StreamMapping

__all__ = ["MAX_EVENT_BYTES", "TRUNCATED_PROPERTY", "Event", "EventBuilder", "encode", "iso"]

# PostHog discards events over 1 MB; its own SDKs stay under 900 KiB, leaving room for what
# capture adds to an event.
MAX_EVENT_BYTES = 900 * 1024

# The property naming the properties that were cut to fit (names are the record's own).
TRUNCATED_PROPERTY = "truncated_properties"

# A truncated string keeps at least this many characters.
_MIN_KEPT = 1024


def iso(value: Any) -> str | None:
    """A time as ISO 8601 in UTC with a Z (singer-sdk hands targets parsed datetimes)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        moment: dt.datetime = value
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return moment.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat() + "T00:00:00Z"
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat() if isinstance(value, dt.time) else iso(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(value: Any) -> bytes:
    """Compact JSON, UTF-8."""
    return json.dumps(
        value, default=_json_default, separators=(",", ":"), ensure_ascii=False
    ).encode()


@dataclass
class Event:
    """One event ready for a batch: its JSON, its time, and what was cut to fit."""

    uuid: str
    encoded: bytes
    timestamp: dt.datetime
    truncated: dict[str, int] = field(default_factory=dict)  # property -> original size


class EventBuilder:
    """Turns one stream's records into events."""

    def __init__(
        self,
        mapping: StreamMapping,
        *,
        person_profiles: bool = False,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.mapping = mapping
        self.person_profiles = person_profiles
        self.max_event_bytes = max_event_bytes

    def build(self, record: Mapping[str, Any]) -> Event | str:
        """The record's event, or the reason it cannot be one (a row without uuid or time)."""
        event_uuid = record.get(UUID_FIELD)
        if event_uuid is None:
            return f"no {UUID_FIELD}"
        timestamp = iso(record.get(self.mapping.timestamp))
        if not timestamp:
            return f"no {self.mapping.timestamp}"
        distinct_id = self.distinct_id(record)
        if not distinct_id:
            return "no distinct id (neither the field nor owner and repo)"
        properties = dict(record)
        if not self.person_profiles:
            properties["$process_person_profile"] = False
        event = {
            "event": self.mapping.event,
            "uuid": str(event_uuid),
            "distinct_id": distinct_id,
            "timestamp": timestamp,
            "properties": properties,
        }
        encoded, truncated = fit(event, self.max_event_bytes)
        return Event(
            uuid=str(event_uuid),
            encoded=encoded,
            timestamp=dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")),
            truncated=truncated,
        )

    def distinct_id(self, record: Mapping[str, Any]) -> str | None:
        """The configured field's value; the repository `owner/repo` where it is empty."""
        if self.mapping.distinct_id != REPOSITORY:
            value = record.get(self.mapping.distinct_id)
            if value not in (None, ""):
                return str(value)
        if record.get("owner") and record.get("repo"):
            return f"{record['owner']}/{record['repo']}"
        return None


def fit(event: dict[str, Any], limit: int) -> tuple[bytes, dict[str, int]]:
    """The event's JSON, under `limit` bytes: its largest properties are cut first (strings keep
    their beginning, arrays their first items, anything else becomes null). The identity fields
    are never touched; `truncated_properties` names what was cut."""
    encoded = encode(event)
    if len(encoded) <= limit:
        return encoded, {}
    properties: dict[str, Any] = event["properties"]
    protected = {UUID_FIELD, "owner", "repo", "repo_id", TRUNCATED_PROPERTY}
    sizes = {
        name: len(encode(value))
        for name, value in properties.items()
        if name not in protected and not name.startswith("$")
    }
    truncated: dict[str, int] = {}
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        properties[name] = _cut(properties[name], len(encoded) - limit + 64)
        truncated[name] = sizes[name]
        properties[TRUNCATED_PROPERTY] = sorted(truncated)
        encoded = encode(event)
        while len(encoded) > limit and _shrinkable(properties[name]):
            properties[name] = _cut(properties[name], len(encoded) - limit + 64)
            encoded = encode(event)
        if len(encoded) <= limit:
            break
    return encoded, truncated


def _shrinkable(value: Any) -> bool:
    return (isinstance(value, str) and len(value) > _MIN_KEPT) or (
        isinstance(value, list) and len(value) > 0
    )


def _cut(value: Any, excess: int) -> Any:
    """`value` made at least `excess` bytes smaller in JSON, where its kind allows."""
    if isinstance(value, str):
        size = len(encode(value))
        # Escapes and multi-byte characters: cut characters in proportion to their bytes.
        keep = int(len(value) * max(size - excess, 0) / size)
        return value[: max(keep, min(_MIN_KEPT, len(value) - 1), 0)]
    if isinstance(value, list):
        size = len(encode(value))
        keep = int(len(value) * max(size - excess, 0) / size)
        return value[: min(keep, len(value) - 1)] if value else value
    return None
