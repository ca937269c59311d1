"""The slices of the workflow runs listing a sync asks for: GitHub's re-run window (and runs not
completed) cut by `created` into slices of about one page, each asked with its pages' ETags
(conditional.py), so a change GitHub allows is seen and an unchanged slice costs no point. Each
slice keeps, per page, the fingerprints of the rows its runs were last read as (`seen`): in a
changed page, a row not among them is new, whatever its dates. Why, and the figures:
docs/incremental.md."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import ceil
from typing import Any

from tap_github_activity.timestamps import format_time as iso
from tap_github_activity.timestamps import parse_time as parse

__all__ = [
    "FINGERPRINT_BYTES",
    "MAX_SEEN_RUNS",
    "MAX_SLICES",
    "SLICE_RUNS",
    "RunSeen",
    "Slice",
    "SliceRead",
    "cut",
    "fingerprint",
    "live_slices",
    "load_slices",
    "unpack",
]

SLICE_RUNS = 100  # runs of one listing page: a slice is one page
MAX_SLICES = 40  # per repository; beyond, slices hold several pages (state stays bounded)
# A slice of more runs than GitHub serves to one query is read whole at every sync anyway and
# keeps no fingerprints: the state stays bounded (docs/incremental.md, the worst case).
MAX_SEEN_RUNS = 1000
FINGERPRINT_BYTES = 6  # 8 base64 characters a run; a new row taken for seen: n / 2**48
PACKED_CHARACTERS = FINGERPRINT_BYTES * 4 // 3
SECOND = timedelta(seconds=1)


def fingerprint(record: Mapping[str, Any]) -> bytes:
    """A short hash of a run attempt's row as emitted: any field that changes changes it."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=FINGERPRINT_BYTES).digest()


def pack(fingerprints: Iterable[bytes]) -> str:
    """Fingerprints as one string (sorted: the same rows give the same state)."""
    return base64.urlsafe_b64encode(b"".join(sorted(set(fingerprints)))).decode()


def unpack(packed: str) -> set[bytes]:
    data = base64.urlsafe_b64decode(packed)
    return {data[i : i + FINGERPRINT_BYTES] for i in range(0, len(data), FINGERPRINT_BYTES)}


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
    # Per page, the packed fingerprints of its rows at the last read; None: not known (a state
    # of an earlier version, or a slice over MAX_SEEN_RUNS): its runs are judged by the bookmark.
    seen: list[str] | None = None

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
        state: dict[str, Any] = {
            "low": iso(self.low) if self.low else None,
            "high": iso(self.high) if self.high else None,
            "pending": self.pending,
        }
        if self.seen is not None:
            state["seen"] = self.seen
        return state


def load_slices(saved: Iterable[Mapping[str, Any]] | None) -> list[Slice]:
    """The slices a state kept (oldest first)."""
    slices = []
    for entry in saved or ():
        low, high, seen = entry.get("low"), entry.get("high"), entry.get("seen")
        slices.append(
            Slice(
                parse(low) if low else None,
                parse(high) if high else None,
                bool(entry.get("pending")),
                [str(page) for page in seen] if isinstance(seen, list) else None,
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
    # Per page read, the fingerprints of its rows; None: the page answered 304.
    pages: list[list[bytes] | None] = field(default_factory=list)

    def page(self, *, not_modified: bool) -> None:
        """The next page's answer: 304, or 200 (its runs follow)."""
        self.pages.append(None if not_modified else [])
        self.changed = self.changed or not not_modified

    def add(self, payload: Mapping[str, Any], row: bytes) -> None:
        """A run of the page that answered 200, and its row's fingerprint."""
        self.runs.append(
            RunSeen(parse(str(payload["created_at"])), payload.get("status") == "completed")
        )
        page = self.pages[-1]
        assert page is not None, "a page that answered 304 has no runs"
        page.append(row)

    def seen(self, before: list[str] | None) -> list[str] | None:
        """The slice's fingerprints after this read: a page that answered 304 holds the rows it
        held (`before`, the slice's); None when they are not known, or over MAX_SEEN_RUNS."""
        pages: list[str] = []
        for number, page in enumerate(self.pages):
            if page is None:
                if before is None or number >= len(before):
                    return None
                pages.append(before[number])
            else:
                pages.append(pack(page))
        if sum(len(page) for page in pages) > MAX_SEEN_RUNS * PACKED_CHARACTERS:
            return None
        return pages

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
