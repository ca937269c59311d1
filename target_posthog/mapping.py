"""Which PostHog event each stream's record becomes: name, timestamp and distinct id.

Each of the four values PostHog deduplicates on comes from something that never changes for a
row (the README's "Into PostHog" has the table): `uuid` is the tap's `event_uuid`, the event name
is fixed per stream, the timestamp is a creation time, the distinct id an author fixed at creation
or the repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_posthog.errors import ConfigError

__all__ = ["DEFAULTS", "REPOSITORY", "UUID_FIELD", "StreamMapping", "resolve"]

# The schema property that makes a stream an event stream.
UUID_FIELD = "event_uuid"

# The distinct id `owner/repo`, from the `owner` and `repo` fields every record carries.
REPOSITORY = "repository"


@dataclass(frozen=True)
class StreamMapping:
    """How one stream's records become events."""

    stream: str
    event: str
    timestamp: str
    distinct_id: str


# stream -> (timestamp field, distinct id field). The timestamp is the one time of the row that
# never changes; the distinct id is a login fixed when the object was created, or the repository.
# Commits use the repository: GitHub resolves a commit's author login from its e-mail address
# when asked, so it changes when someone adds that address to their account.
DEFAULTS: dict[str, tuple[str, str]] = {
    "pull_requests": ("created_at", "author_login"),
    "pull_request_reviews": ("submitted_at", "author_login"),
    "releases": ("created_at", "author_login"),
    "workflow_runs": ("created_at", "actor_login"),
    "workflow_jobs": ("started_at", REPOSITORY),
    "commits": ("committed_at", REPOSITORY),
    "traffic_views": ("timestamp", REPOSITORY),
    "traffic_clones": ("timestamp", REPOSITORY),
    "issues": ("created_at", "author_login"),
    "issue_comments": ("created_at", "author_login"),
    "deployments": ("created_at", "creator_login"),
    "deployment_statuses": ("created_at", "creator_login"),
}

_OVERRIDE_KEYS = frozenset({"event", "timestamp", "distinct_id"})


def resolve(
    stream: str, properties: Mapping[str, Any], overrides: Mapping[str, Any] | None
) -> StreamMapping:
    """The mapping of an event stream whose schema has `properties`, with the `streams` setting's
    entry for it applied. A field the schema lacks is a ConfigError naming the setting, except a
    default distinct id field, which falls back to the repository."""
    given = dict(overrides or {})
    unknown = sorted(set(given) - _OVERRIDE_KEYS)
    if unknown:
        raise ConfigError(
            f"streams.{stream} has unknown keys {', '.join(unknown)}: "
            "use event, timestamp and distinct_id."
        )
    timestamp, distinct_id = DEFAULTS.get(stream, ("", REPOSITORY))
    timestamp = given.get("timestamp") or timestamp
    if not timestamp:
        raise ConfigError(
            f"Stream '{stream}' carries {UUID_FIELD} but target-posthog knows no timestamp field "
            f"for it: set streams.{stream}.timestamp to a field that never changes for a row "
            "(such as created_at), or deselect the stream."
        )
    if timestamp not in properties:
        raise ConfigError(
            f"streams.{stream}.timestamp: stream '{stream}' has no field '{timestamp}'."
        )
    if "distinct_id" in given:
        distinct_id = given["distinct_id"]
        if distinct_id != REPOSITORY and distinct_id not in properties:
            raise ConfigError(
                f"streams.{stream}.distinct_id: stream '{stream}' has no field '{distinct_id}' "
                f"(use a field name or {REPOSITORY!r})."
            )
    elif distinct_id not in properties:
        distinct_id = REPOSITORY
    return StreamMapping(
        stream=stream,
        event=given.get("event") or f"github_{stream}",
        timestamp=timestamp,
        distinct_id=distinct_id,
    )
