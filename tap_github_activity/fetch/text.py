"""Text as GitHub returns it and as a warehouse takes it."""

from __future__ import annotations

from typing import Any

__all__ = ["NUL", "without_nul"]

NUL = "\x00"


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
