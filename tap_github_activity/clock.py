"""Wall-clock time and sleeping, behind one seam so tests control time instead of waiting."""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["Clock", "format_timestamp", "parse_timestamp"]


def parse_timestamp(text: str) -> datetime:
    """A GitHub timestamp (ISO 8601, `Z` or an offset; UTC when it has neither)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_timestamp(moment: datetime) -> str:
    """GitHub's form of a timestamp: whole seconds, UTC."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    """Real time. Tests replace `now` and `sleep` to jump ahead without waiting."""

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Block for `seconds`."""
        if seconds > 0:
            time.sleep(seconds)
