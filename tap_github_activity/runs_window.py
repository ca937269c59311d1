"""Which slices of the workflow runs listing a sync asks for, so that every change GitHub allows
inside its re-run window is seen, and an unchanged window costs no point.

GitHub re-runs a run up to 30 days after it was created, and the new attempt keeps the run's
``created_at``; a run also changes until it completes (a run may wait, for approvals, up to 35
days). The listing (``GET /repos/{owner}/{repo}/actions/runs``, newest first) answers a
conditional request with 304 when the page is the same, and its ETag is computed from the page,
so a page whose runs changed answers 200.

The window is cut into slices by ``created`` (``created=low..high``, the newest open-ended):
a run created later never enters an older slice, so an older slice changes only when one of its
runs changes. Each slice is a ``PagedListing`` with the ETags of its pages: unchanged, it costs
one 304 a page (no point); changed, its pages are read again (1 point each). A slice holds about
one page (``SLICE_RUNS``), so the runs GitHub can still change cost one 304 per 100 runs. A
slice read with more runs than that (the open slice, as runs arrive; every run on a first sync)
is cut again at whole seconds, each new slice read once for its ETags. A slice is dropped once
its newest run is older than the window, unless it held a run not yet completed.

docs/incremental.md compares this with the alternatives and gives the measured figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import ceil
from typing import Any

from tap_github_activity.clock import format_timestamp as iso
from tap_github_activity.clock import parse_timestamp as parse

__all__ = [
    "MAX_SLICES",
    "SLICE_RUNS",
    "RunSeen",
    "Slice",
    "SliceRead",
    "cut",
    "live_slices",
    "load_slices",
]

SLICE_RUNS = 100  # runs of one listing page: a slice is one page
MAX_SLICES = 40  # per repository; beyond, slices hold several pages (state stays bounded)
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class RunSeen:
    """What a slice read tells of one run: when it was created, whether it may still change
    by itself (not completed)."""

    created_at: datetime
    completed: bool


@dataclass
class Slice:
    """Runs created in [low, high] (None: unbounded), and what the last read of it saved."""

    low: datetime | None
    high: datetime | None
    saved: Mapping[str, Any] | None = None  # PagedListing.saved_state() of the last read
    pending: bool = False  # a run was not completed at the last read

    @property
    def created(self) -> str:
        """GitHub's `created` qualifier."""
        if self.low and self.high:
            return f"{iso(self.low)}..{iso(self.high)}"
        if self.low:
            return f">={iso(self.low)}"
        return f"<={iso(self.high)}" if self.high else "*..*"

    def state(self) -> dict[str, Any]:
        """What the repository's state keeps (about 150 characters for a one-page slice)."""
        return {
            "low": iso(self.low) if self.low else None,
            "high": iso(self.high) if self.high else None,
            "pending": self.pending,
            **(self.saved or {}),
        }


def load_slices(saved: Iterable[Mapping[str, Any]] | None) -> list[Slice]:
    """The slices a state kept (oldest first)."""
    slices = []
    for entry in saved or ():
        low, high = entry.get("low"), entry.get("high")
        slices.append(
            Slice(
                parse(low) if low else None,
                parse(high) if high else None,
                {"etags": list(entry.get("etags") or []), "pages": int(entry.get("pages") or 0)},
                bool(entry.get("pending")),
            )
        )
    return slices


def live_slices(slices: list[Slice], window_start: datetime) -> list[Slice]:
    """The slices whose runs GitHub may still change: created in the window, or not completed
    at the last read (a run waits at most 35 days, then GitHub cancels it: a change too)."""
    return [s for s in slices if s.high is None or s.high >= window_start or s.pending]


def cut(
    piece: Slice,
    runs: list[RunSeen],
    window_start: datetime,
    *,
    per_slice: int = SLICE_RUNS,
    max_slices: int = MAX_SLICES,
) -> list[Slice]:
    """New slices for the runs a read of `piece` saw, each of about `per_slice` runs (at least
    one page, more when `max_slices` would be exceeded), cut between two created seconds and
    covering `piece` from the window (or its oldest run not completed) up. Runs older than that
    cannot change any more and are left out."""
    live = sorted(
        {r.created_at.replace(microsecond=0) for r in runs if r.created_at >= window_start}
        | {r.created_at.replace(microsecond=0) for r in runs if not r.completed}
    )
    counts: dict[datetime, int] = {}
    for run in runs:
        second = run.created_at.replace(microsecond=0)
        if second in live:
            counts[second] = counts.get(second, 0) + 1
    total = sum(counts.values())
    size = max(per_slice, ceil(total / max_slices / per_slice) * per_slice)
    start = min([window_start, *live[:1]])
    if piece.low is not None:
        start = max(start, piece.low)
    bounds: list[datetime] = [start]
    filled = 0
    for second in live:
        if filled and filled + counts[second] > size and second > bounds[-1]:
            bounds.append(second)
            filled = 0
        filled += counts[second]
    highs: list[datetime | None] = [b - SECOND for b in bounds[1:]]
    highs.append(piece.high)
    return [Slice(low, high) for low, high in zip(bounds, highs, strict=True)]


@dataclass
class SliceRead:
    """What one read of a slice observed (filled by the reader as pages arrive)."""

    runs: list[RunSeen] = field(default_factory=list)
    changed: bool = False  # a page answered 200

    def add(self, payload: Mapping[str, Any]) -> None:
        """A run of a page that answered 200."""
        self.changed = True
        self.runs.append(
            RunSeen(parse(str(payload["created_at"])), payload.get("status") == "completed")
        )

    @property
    def pending(self) -> bool:
        """A run read was not completed."""
        return any(not r.completed for r in self.runs)

    def needs_cut(self, piece: Slice, saved: Mapping[str, Any]) -> bool:
        """Whether `piece`, just read, is to be cut: the open slice holding more than a page
        (new runs shift all its pages), a read that took more than one query (GitHub's cap),
        or pages beyond those whose ETags are kept. A closed slice of several pages stays: its
        pages only change when their runs do."""
        if not saved:
            return True
        if piece.high is None and len(self.runs) > SLICE_RUNS:
            return True
        return len(saved.get("etags") or []) < int(saved.get("pages") or 0)
