"""Records from GitHub payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_github_activity.timestamps import parse_time

__all__ = ["flatten", "seconds_between"]


def flatten(payload: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """A record from a GitHub payload: each field is a dotted path into it (None where absent)."""
    record: dict[str, Any] = {}
    for name, path in fields.items():
        value: Any = payload
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        record[name] = value
    return record


def seconds_between(start: str | None, end: str | None) -> int | None:
    """Whole seconds from one GitHub timestamp to another (None when either is missing)."""
    if not start or not end:
        return None
    return int((parse_time(end) - parse_time(start)).total_seconds())
