"""Workflow runs (one row per attempt) and their jobs: the runs listing feeds both streams.

GET .../actions/runs lists the latest attempt of each run, newest first. A sync reads the slices
of the runs GitHub may still change (fetch/runs_window.py: `workflow_runs_rerun_window_days`,
and runs not completed), each page with the ETag of its last read; a first sync reads every run
once (since start_date). In a page that changed, an attempt is emitted when its row is not among
those its slice held at the last read (the slice's fingerprints), whatever its dates. GitHub
serves 1,000 runs of a filtered listing: a full range is continued below its oldest run.
Earlier attempts of re-runs cost a request each and are read only with
`workflow_runs_earlier_attempts`. The jobs of the emitted attempts (fetch/jobs.py) follow each
batch of 100 latest attempts, and the repository's last runs.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_github_activity.conditional import Conditional
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.fetch import Item, Keep, Request, Row
from tap_github_activity.fetch.jobs import JOBS, RunAttempt, fetch_jobs
from tap_github_activity.fetch.runs_window import (
    MAX_SEEN_RUNS,
    MAX_SLICES,
    Slice,
    SliceRead,
    cut,
    fingerprint,
    live_slices,
    load_slices,
    unpack,
)
from tap_github_activity.records import flatten, seconds_between
from tap_github_activity.timestamps import parse_time

__all__ = ["JOBS", "RUNS", "RUN_FIELDS", "fetch_actions", "run_record"]

RUNS = "workflow_runs"
REPLICATION_KEY = "updated_at"
LISTING_CAP = 1000  # runs GitHub serves of one filtered listing
# Latest attempts whose jobs are read together (GraphQL takes 100 node ids per query); earlier
# attempts (REST) ride along, up to as many again.
JOBS_BATCH_SIZE = 100

# Record field -> dotted path in GitHub's workflow run payload.
RUN_FIELDS = {
    "id": "id",
    "run_attempt": "run_attempt",
    "run_number": "run_number",
    "workflow_id": "workflow_id",
    "workflow_name": "name",
    "event": "event",
    "status": "status",
    "conclusion": "conclusion",
    "head_branch": "head_branch",
    "head_sha": "head_sha",
    "actor_login": "actor.login",
    "actor_id": "actor.id",
    "triggering_actor_login": "triggering_actor.login",
    "triggering_actor_id": "triggering_actor.id",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "run_started_at": "run_started_at",
    "html_url": "html_url",
}

logger = logging.getLogger(__name__)


def run_record(payload: dict[str, Any]) -> dict[str, Any]:
    """A workflow_runs row from a run (attempt) payload."""
    record = flatten(payload, RUN_FIELDS)
    record["run_attempt"] = record["run_attempt"] or 1
    record["duration_seconds"] = (
        seconds_between(payload.get("run_started_at"), payload["updated_at"])
        if payload.get("status") == "completed"
        else None
    )
    return record


class _Batches:
    """The emitted attempts whose jobs are read together."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.open: list[RunAttempt] = []

    def add(self, record: dict[str, Any], node_id: str, *, latest: bool) -> Iterator[Item]:
        if not self.request.wants(JOBS):
            return
        self.open.append(RunAttempt(record["id"], record["run_attempt"], node_id, latest=latest))
        if sum(a.latest for a in self.open) >= JOBS_BATCH_SIZE or len(self.open) >= 2 * (
            JOBS_BATCH_SIZE
        ):
            yield from self.close()

    def close(self) -> Iterator[Item]:
        attempts, self.open = self.open, []
        if attempts:
            yield from (Row(JOBS, job) for job in fetch_jobs(self.request, attempts))


def fetch_actions(request: Request) -> Iterator[Item]:
    """Runs rows (when wanted) with the jobs of each batch after it, then the slices' state."""
    state = request.state.get(RUNS) or {}
    window_start = _window_start(request)
    slices = load_slices(state.get("slices"))
    if not slices:
        # A first sync reads every run once (since start_date); a state without slices (the
        # earlier lookback's), the window.
        start_date = request.settings.start_date
        first = state.get("replication_key_value") is None
        low = start_date if first else max(window_start, start_date or window_start)
        slices = [Slice(low, None)]
    reader = _Reader(request, Conditional(request.client, state, scope=request.repository.path))
    for piece in slices:
        for page in piece.seen or ():
            reader.known |= unpack(page)
    kept: list[Slice] = []
    live = live_slices(slices, window_start)
    for piece in live:
        read = yield from reader.read(piece)
        if not read.changed:
            kept.append(piece)
            continue
        saved = reader.conditional.kept_for(reader.path, piece.params)
        # The other slices keep their share of the repository's bound; at the bound the open
        # slice grows (more pages a change) until older slices leave the window.
        share = MAX_SLICES - len(live) + 1
        if not read.needs_cut(piece, saved) or (share < 2 and saved):
            kept.append(Slice(piece.low, piece.high, read.pending, read.seen(piece.seen)))
            continue
        reader.conditional.forget(reader.path, piece.params)
        for part in cut(piece, read.runs, window_start, max_slices=max(share, 1)):
            # Each new slice read once for its ETags and fingerprints; what changed meanwhile
            # is emitted.
            part_read = yield from reader.read(part, part=True)
            part.pending, part.seen = part_read.pending, part_read.seen(None)
            kept.append(part)
    if any(piece.seen is None for piece in kept):
        logger.warning(
            "%s: %s: a slice holds over %d runs: its runs are judged by the bookmark; "
            "a run reaching the listing behind it is missed",
            RUNS,
            request.repository.full_name,
            MAX_SEEN_RUNS,
        )
    yield from reader.batches.close()
    if not request.wants(RUNS) and reader.latest_update:
        # Bookmarks of emitted rows move with them; workflow_jobs alone still needs this one,
        # or every changed slice would be emitted from start_date.
        yield Keep(
            RUNS,
            {"replication_key": REPLICATION_KEY, "replication_key_value": reader.latest_update},
        )
    # Kept only once every page is emitted: an interrupted run asks again.
    yield Keep(RUNS, {"slices": [piece.state() for piece in kept], **reader.conditional.state()})


def _window_start(request: Request) -> datetime:
    """Runs created before this cannot be re-run any more (GitHub: 30 days), or not by the
    user's choice (workflow_runs_rerun_window_days)."""
    days = request.settings.workflow_runs_rerun_window_days
    now = datetime.fromtimestamp(request.client.clock.now(), tz=timezone.utc)
    return (now - timedelta(days=days)).replace(microsecond=0)


class _Reader:
    """Reads slices of one repository's runs listing, emitting each attempt's row once a sync
    when no slice held it at the last read."""

    def __init__(self, request: Request, conditional: Conditional) -> None:
        self.request = request
        self.conditional = conditional
        self.path = f"{request.repository.path}/actions/runs"
        self.since = request.start.get(RUNS)
        self.batches = _Batches(request)
        # The fingerprints of the rows the slices held at the last read, and of those read
        # since (all slices': cut moves runs between slices).
        self.known: set[bytes] = set()
        self.latest_update: str | None = None

    def read(self, piece: Slice, *, part: bool = False) -> Generator[Item, None, SliceRead]:
        """The runs of a slice whose rows are new, read on past GitHub's cap (ETags are kept
        for a slice read in one query only); what was read. A slice without fingerprints (a
        first sync, a state of an earlier version) is read whole and its rows judged by the
        bookmark, once; a `part` just cut is read whole for its ETags and fingerprints."""
        repository = self.request.repository
        read = SliceRead()
        dated = piece.seen is None and not part
        fresh = piece.seen is None or part
        low, high = piece.low, piece.high
        listing, first = self.conditional, piece.params
        read_before: set[int] = set()  # runs of the boundary second, read by the last query
        while True:
            params = Slice(low, high).params
            served, oldest, at_oldest = 0, None, set[int]()
            for page in listing.pages(
                self.path, stream=RUNS, owner=repository.owner, params=params, fresh=fresh
            ):
                read.page(not_modified=page.not_modified)
                if page.not_modified:
                    continue
                runs = page.data.get("workflow_runs") or []
                served += len(runs)
                new = []
                for payload in runs:
                    if payload["created_at"] != oldest:
                        oldest, at_oldest = payload["created_at"], set()
                    at_oldest.add(payload["id"])
                    if payload["id"] not in read_before:
                        record = run_record(payload)
                        row = fingerprint(record)
                        read.add(payload, row)
                        if self._new(row, record, dated=dated):
                            new.append((payload, record))
                yield from _attempts(self.request, new, self.since, self.batches)
            if served < LISTING_CAP or oldest is None:
                return read
            self.conditional.forget(self.path, first)  # over the cap: it changes at every sync
            if high is not None and parse_time(oldest) >= high:
                logger.warning(
                    "%s: %s: over %d runs were created at %s; the rest of them "
                    "and older runs are not read",
                    RUNS,
                    repository.full_name,
                    LISTING_CAP,
                    oldest,
                )
                return read
            logger.info(
                "%s: %s: over %d runs created %s; reading on up to %s",
                RUNS,
                repository.full_name,
                LISTING_CAP,
                Slice(low, high).created,
                oldest,
            )
            high, read_before = parse_time(oldest), at_oldest
            listing = Conditional(self.request.client, None)

    def _new(self, row: bytes, record: dict[str, Any], *, dated: bool) -> bool:
        """Whether the attempt's row is to be emitted: no slice held it, it was not read this
        sync; `dated` (its slice keeps no fingerprints): and updated since the bookmark."""
        if row in self.known:
            return False
        self.known.add(row)
        updated = record["updated_at"]
        if dated and self.since is not None and parse_time(updated) < self.since:
            return False
        if self.latest_update is None or updated > self.latest_update:
            self.latest_update = updated
        return True


def _attempts(
    request: Request,
    new: list[tuple[dict[str, Any], dict[str, Any]]],
    since: datetime | None,
    batches: _Batches,
) -> Iterator[Item]:
    """Each run's earlier attempts when no earlier sync saw them, then its latest attempt (the
    run's payload, its row)."""
    wanted = request.wants(RUNS)
    for payload, record in new:
        for data in _earlier_attempts(request, payload, since):
            earlier = run_record(data)
            if wanted:
                yield Row(RUNS, earlier)
            yield from batches.add(earlier, payload["node_id"], latest=False)
        if wanted:
            yield Row(RUNS, record)
        yield from batches.add(record, payload["node_id"], latest=True)


def _earlier_attempts(
    request: Request, payload: dict[str, Any], since: datetime | None
) -> list[dict[str, Any]]:
    """Attempts 1..k-1 of a run at attempt k created after the bookmark (a request each)."""
    attempt = payload.get("run_attempt") or 1
    if (
        attempt == 1
        or not request.settings.workflow_runs_earlier_attempts
        or (since is not None and parse_time(payload["created_at"]) <= since)
    ):
        return []
    repository = request.repository
    base = f"/repos/{repository.owner}/{repository.name}/actions/runs/{payload['id']}"
    found = []
    for number in range(1, attempt):
        try:
            page = request.client.get(
                f"{base}/attempts/{number}", stream=RUNS, owner=repository.owner
            )
        except NotAccessibleError as exc:
            if exc.status != 404:
                raise
            logger.warning(
                "%s: %s: attempt %d of run %s is gone (404)",
                RUNS,
                repository.full_name,
                number,
                payload["id"],
            )
            continue
        found.append(page.data)
    return found
