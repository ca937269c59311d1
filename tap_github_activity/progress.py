"""A run's progress in the log: one INFO line every `PROGRESS_INTERVAL` seconds and one at the
end (repositories done of total, records, rate-limit points spent, time left), and one DEBUG
line per repository done. Called on the main thread only (the streams and the feed's hand-over
run there); the time is the tap's `Clock`, so tests move it instead of waiting."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from tap_github_activity.accounting import RequestLedger
from tap_github_activity.clock import Clock
from tap_github_activity.fetch import Repository

__all__ = ["PROGRESS_INTERVAL", "Progress"]

# Least seconds between two progress lines.
PROGRESS_INTERVAL = 10.0

logger = logging.getLogger("tap_github_activity.progress")


class Progress:
    """Counts what a run has done and logs it now and then."""

    def __init__(
        self, ledger: RequestLedger, clock: Clock, *, interval: float = PROGRESS_INTERVAL
    ) -> None:
        self._ledger = ledger
        self._clock = clock
        self._interval = interval
        self._started = self._last = clock.now()
        self._families: dict[Repository, set[str]] = {}  # the families each has left
        self._total: int | None = None  # None: the selection is not resolved yet
        self._pairs = 0  # (repository, family) fetches planned
        self._done = 0
        self._records = 0
        self._records_of: dict[int, Counter[str]] = {}  # of repositories not done, by stream

    def plan(self, repositories: Iterable[Repository], families: Iterable[str]) -> None:
        """The repositories the run reads, and the families read for each."""
        wanted = set(families)
        self._families = {repository: set(wanted) for repository in repositories}
        self._total = len(self._families)
        self._pairs = self._total * len(wanted)

    def record(self, stream: str, context: Mapping[str, Any] | None) -> None:
        """A record was emitted (`context`: its repository's partition, if any)."""
        self._records += 1
        if context is not None and "repo_id" in context:
            self._records_of.setdefault(context["repo_id"], Counter())[stream] += 1
        self._maybe_report()

    def finished(self, repository: Repository, family: str) -> None:
        """Every stream of `family` took its rows of `repository`."""
        left = self._families.get(repository)
        if left is None or family not in left:
            return
        left.discard(family)
        self._done += 1
        if not left:
            counts = self._records_of.pop(repository.repo_id, Counter())
            logger.debug(
                "%s done: %d records (%s)",
                repository.full_name,
                counts.total(),
                ", ".join(f"{stream} {n}" for stream, n in sorted(counts.items())) or "none new",
            )
        self._maybe_report()

    def report_end(self, *, failed: bool = False) -> None:
        """The run's last progress line."""
        if failed:
            logger.info("Stopped: %s after %s", self._figures(), _duration(self._elapsed()))
        else:
            logger.info("Finished: %s in %s", self._figures(), _duration(self._elapsed()))

    @property
    def repositories_done(self) -> int:
        """Repositories whose every family is done."""
        return sum(1 for left in self._families.values() if not left)

    def _maybe_report(self) -> None:
        now = self._clock.now()
        if now - self._last < self._interval:
            return
        self._last = now
        logger.info("Progress: %s, %s", self._figures(), self._time_left())

    def _figures(self) -> str:
        repositories = (
            f"{self.repositories_done} of {self._total} repositories"
            if self._total is not None
            else "no per-repository stream started"
        )
        return (
            f"{repositories}, {self._records} records, "
            f"{self._ledger.total_points()} rate-limit points"
        )

    def _elapsed(self) -> float:
        return max(self._clock.now() - self._started, 0.0)

    def _time_left(self) -> str:
        if not self._done or not self._pairs:
            return "time left not known yet"
        share = self._done / self._pairs
        return f"about {_duration(self._elapsed() * (1 - share) / share)} left"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {rest:02d} s"
    return f"{rest} s"
