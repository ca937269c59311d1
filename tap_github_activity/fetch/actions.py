"""Workflow runs (one row per attempt) and their jobs: the runs listing feeds both streams.

GET .../actions/runs lists the latest attempt of each run, newest first. A sync reads the runs
created since a window start (`workflow_runs_lookback_days` before the bookmark, at UTC
midnight), each page with the ETag of its last read; on a first sync the runs before the window
are read once without ETags. GitHub serves 1,000 runs of a filtered listing: a full range is
continued below its oldest run. Earlier attempts of re-runs cost a request each and are read
only with `workflow_runs_earlier_attempts`. The jobs of the emitted attempts (fetch/jobs.py)
follow each batch of 100 latest attempts, and the repository's last runs.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_github_activity.conditional import Conditional
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.fetch import Item, Keep, Request, Row
from tap_github_activity.fetch.jobs import JOBS, RunAttempt, fetch_jobs
from tap_github_activity.records import flatten, seconds_between
from tap_github_activity.timestamps import format_time, parse_time

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


def _created(low: datetime | None, high: datetime | None) -> str:
    """GitHub's `created` qualifier for an inclusive range (None: open)."""
    if low and high:
        return f"{format_time(low)}..{format_time(high)}"
    if low:
        return f">={format_time(low)}"
    return f"<={format_time(high)}" if high else "*..*"


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
    """Runs rows (when wanted) with the jobs of each batch after it, then the listing's state."""
    state = request.state.get(RUNS) or {}
    since = request.start.get(RUNS)
    start = _window_start(request, state)
    conditional = Conditional(request.client, state)
    segments: list[tuple[datetime | None, datetime | None, Conditional]] = []
    start_date = request.settings.start_date
    if not conditional.saved and (start_date is None or start_date < start):
        # A first sync: the runs before the window, once (no ETag kept).
        segments.append(
            (start_date, start - timedelta(seconds=1), Conditional(request.client, None))
        )
    segments.append((start, None, conditional))
    batches = _Batches(request)
    latest_update = None
    for low, high, listing in segments:
        updated = yield from _emit(request, low, high, listing, since, batches=batches)
        if updated and (latest_update is None or updated > latest_update):
            latest_update = updated
    yield from batches.close()
    if not request.wants(RUNS) and latest_update:
        # Bookmarks of emitted rows move with them; workflow_jobs alone still needs this one,
        # or every changed page would be read from start_date.
        yield Keep(
            RUNS, {"replication_key": REPLICATION_KEY, "replication_key_value": latest_update}
        )
    # Kept only once every page is emitted: an interrupted run asks again.
    yield Keep(RUNS, conditional.state())


def _window_start(request: Request, state: Mapping[str, Any]) -> datetime:
    """Lookback days before the bookmark (before now on a first sync), at UTC midnight; never
    before start_date."""
    bookmark = (
        state.get("replication_key_value")
        if state.get("replication_key") == REPLICATION_KEY
        else None
    )
    anchor = (
        parse_time(bookmark)
        if bookmark
        else datetime.fromtimestamp(request.client.clock.now(), tz=timezone.utc)
    )
    lookback = request.settings.workflow_runs_lookback_days
    start = (anchor - timedelta(days=lookback)).replace(hour=0, minute=0, second=0, microsecond=0)
    start_date = request.settings.start_date
    return max(start, start_date) if start_date else start


def _emit(
    request: Request,
    low: datetime | None,
    high: datetime | None,
    conditional: Conditional,
    since: datetime | None,
    *,
    batches: _Batches,
) -> Generator[Item, None, str | None]:
    """The runs created in [low, high] and updated since `since`, read on past GitHub's cap
    (the ETags are kept for a listing read in one query only). Returns the latest update."""
    repository = request.repository
    path = f"/repos/{repository.owner}/{repository.name}/actions/runs"
    latest_update: str | None = None
    listing = conditional
    first_params: dict[str, Any] | None = None
    read_before: set[int] = set()  # runs of the boundary second, read by the last query
    while True:
        params = {"created": _created(low, high), "exclude_pull_requests": "true"}
        first_params = first_params or params
        served, oldest, at_oldest = 0, None, set[int]()
        for page in listing.pages(path, stream=RUNS, owner=repository.owner, params=params):
            if page.not_modified:
                continue
            runs = page.data.get("workflow_runs") or []
            served += len(runs)
            emitted = []
            for payload in runs:
                if payload["created_at"] != oldest:
                    oldest, at_oldest = payload["created_at"], set()
                at_oldest.add(payload["id"])
                if payload["id"] in read_before or (
                    since is not None and parse_time(payload["updated_at"]) < since
                ):
                    continue
                if latest_update is None or payload["updated_at"] > latest_update:
                    latest_update = payload["updated_at"]
                emitted.append(payload)
            yield from _attempts(request, emitted, since, batches)
        if served < LISTING_CAP or oldest is None:
            return latest_update
        conditional.forget(path, first_params)  # over the cap: it changes at every sync
        if high is not None and parse_time(oldest) >= high:
            logger.warning(
                "%s: %s: over %d runs were created at %s; the rest of them "
                "and older runs are not read",
                RUNS,
                repository.full_name,
                LISTING_CAP,
                oldest,
            )
            return latest_update
        logger.info(
            "%s: %s: over %d runs created %s; reading on up to %s",
            RUNS,
            repository.full_name,
            LISTING_CAP,
            _created(low, high),
            oldest,
        )
        high, read_before = parse_time(oldest), at_oldest
        listing = Conditional(request.client, None)


def _attempts(
    request: Request,
    payloads: list[dict[str, Any]],
    since: datetime | None,
    batches: _Batches,
) -> Iterator[Item]:
    """Each run's earlier attempts when no earlier sync saw them, then its latest attempt."""
    wanted = request.wants(RUNS)
    for payload in payloads:
        for data in _earlier_attempts(request, payload, since):
            record = run_record(data)
            if wanted:
                yield Row(RUNS, record)
            yield from batches.add(record, payload["node_id"], latest=False)
        record = run_record(payload)
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
