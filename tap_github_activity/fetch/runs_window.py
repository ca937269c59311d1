"""The slices of the workflow runs listing a sync asks for: GitHub's re-run window (and runs not
completed) cut by `created` into slices of about one page, each asked with its pages' ETags
(conditional.py), so a change GitHub allows is seen and an unchanged slice costs no point.
Why slices, and the figures: docs/incremental.md."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import ceil
from typing import Any

from tap_github_activity.timestamps import format_time as iso
from tap_github_activity.timestamps import parse_time as parse

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
    """Runs created in [low, high] (None: unbounded); its pages' ETags are the conditional
    store's, under the listing's request with `params`."""

    low: datetime | None
    high: datetime | None
    pending: bool = False  # a run was not completed at the last read

    @property
    def created(self) -> str:
        """GitHub's `created` qualifier."""
        if self.low and self.high:
            return f"{iso(self.low)}..{iso(self.high)}"
        if self.low:
            return f">={iso(self.low)}"
        return f"<={iso(self.high)}" if self.high else "*..*"

    @property
    def params(self) -> dict[str, str]:
        """The listing's query; no filter for all runs (an unfiltered listing has no cap)."""
        params = {"exclude_pull_requests": "true"}
        if self.low or self.high:
            params["created"] = self.created
        return params

    def state(self) -> dict[str, Any]:
        """What the repository's state keeps of it besides its ETags."""
        return {
            "low": iso(self.low) if self.low else None,
            "high": iso(self.high) if self.high else None,
            "pending": self.pending,
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
        """Whether `piece`, just read (`saved`: the ETags its read keeps), is to be cut: the
        open slice holding more than a page (new runs shift all its pages), a read that took
        more than one query (GitHub's cap, nothing kept), or pages beyond those whose ETags are
        kept. A closed slice of several pages stays: its pages only change when their runs
        do."""
        if not saved:
            return True
        if piece.high is None and len(self.runs) > SLICE_RUNS:
            return True
        return len(saved.get("etags") or []) < int(saved.get("pages") or 0)
