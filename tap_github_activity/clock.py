"""Wall-clock time and sleeping, behind one seam so tests control time instead of waiting."""

from __future__ import annotations

import time

__all__ = ["Clock"]


class Clock:
    """Real time. Tests replace `now` and `sleep` to jump ahead without waiting."""

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Block for `seconds`."""
        if seconds > 0:
            time.sleep(seconds)
