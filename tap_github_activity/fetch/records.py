"""What every fetcher shares: the repository read, and records shaped from GitHub's payloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NUL", "Repository", "pick", "without_nul"]

NUL = "\x00"


@dataclass(frozen=True)
class Repository:
    """The repository a fetcher reads."""

    owner: str
    name: str
    id: int

    @property
    def context(self) -> dict[str, Any]:
        """The fields every per-repository record carries."""
        return {"repo_id": self.id, "owner": self.owner, "repo": self.name}


def pick(payload: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    """A record from a payload: each field a dotted path into it (None where absent)."""
    record: dict[str, Any] = {}
    for name, path in fields.items():
        value: Any = payload
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        record[name] = value
    return record


def without_nul(value: Any) -> Any:
    """The value with NUL characters taken out of every string in it: GitHub returns them in
    titles, bodies and descriptions, and PostgreSQL refuses them in text."""
    if isinstance(value, str):
        return value.replace(NUL, "") if NUL in value else value
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: without_nul(item) for key, item in value.items()}
    return value
