"""GitHub's timestamps: the one parser and the one formatter."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["format_time", "parse_time"]


def parse_time(value: str) -> datetime:
    """A GitHub or ISO 8601 timestamp (naive ones are UTC)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_time(moment: datetime) -> str:
    """GitHub's form: UTC, whole seconds, `Z`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
