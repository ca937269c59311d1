"""Workflow runs: one row per attempt of each GitHub Actions run, read from the REST listing.

The jobs of the attempts emitted here are read by workflow_jobs (streams/workflow_jobs.py),
which this stream hands them to in batches.

workflow_runs
-------------
GET /repos/{owner}/{repo}/actions/runs lists the latest attempt of each run, newest first. Runs
can change for 30 days after they are created (re-runs keep the run's created_at) and until they
complete: the sync watches `workflow_runs_rerun_window_days` (default 30, GitHub's limit) in
slices by created time, each asked with the ETags of its pages (tap_github_activity/
runs_window.py): an unchanged slice answers 304 (no point), a slice with a re-run, a finished
run or a new run answers 200 and is read again.

- Bookmark: `updated_at`, the latest update emitted (singer-sdk keeps it per repository). A run
  of a changed slice is emitted when it was updated at or after the bookmark; "at" re-emits the
  runs of the bookmark's second (an update of that second seen only after the last read is not
  lost).
- State: per repository the slices (created range, the ETags of their pages, whether a run was
  not completed): about 150 characters per 100 runs of the window, at most 40 slices; nothing
  per run.
- First sync: every run (since start_date, if set) in one listing, cut into slices of the window
  read once more each for their ETags when there are more than 100.
- GitHub serves at most 1,000 runs of a filtered listing: a range that fills them is continued
  with the range ending at the oldest run read (inclusive; runs of that second read twice are
  dropped). The unfiltered listing has no such cap.
- Re-runs: every attempt is its own row (primary key id, run_attempt). The listing shows only
  the latest attempt; an earlier one was emitted by the sync that saw it as latest, so a re-run
  seen by a later sync adds a row. The attempts before the latest of a run first listed
  already re-run (every re-run on a first sync) cost one request each (GET .../attempts/{n}):
  no other endpoint or GraphQL field gives an earlier attempt's status, conclusion, times or
  triggering actor. With a fifth of the runs re-run that is one point per five runs, and one
  more for each attempt's jobs: most of a first sync's cost. They are read only with
  `workflow_runs_earlier_attempts` (off by default), for the runs created after the bookmark
  (those of a listing page concurrently). A run known at the last sync and re-run twice before
  this one loses the middle attempt either way.
- Concurrency: repositories may be fetched ahead on worker threads (prefetch.py); the attempts
  handed to workflow_jobs are kept per repository under a lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.prefetch import POOL, ordered_map
from tap_github_activity.runs_window import (
    MAX_SLICES,
    Slice,
    SliceRead,
    cut,
    live_slices,
    load_slices,
)
from tap_github_activity.settings import DEFAULT_WORKFLOW_RUNS_EARLIER_ATTEMPTS
from tap_github_activity.streams.base import EVENT_UUID, flatten
from tap_github_activity.streams.children import (
    REPOSITORY_CONTEXT,
    RepositoryChildStream,
    full_name,
)
from tap_github_activity.streams.releases import PagedListing

__all__ = [
    "RUN_FIELDS",
    "JobsBatch",
    "RunAttempt",
    "WorkflowRunsStream",
    "run_record",
    "seconds_between",
]

LISTING_CAP = 1000  # runs GitHub serves of one filtered listing

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


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_between(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    return int((_moment(end) - _moment(start)).total_seconds())


def _listing_params(low: datetime | None, high: datetime | None) -> dict[str, str]:
    """The listing's filter; none for all runs (an unfiltered listing has no 1,000 cap)."""
    params = {"exclude_pull_requests": "true"}
    if low or high:
        params["created"] = Slice(low, high).created
    return params


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


@dataclass(frozen=True)
class RunAttempt:
    """An emitted run attempt whose jobs are to be read."""

    run_id: int
    attempt: int
    node_id: str
    latest: bool


@dataclass
class JobsBatch:
    """Attempts whose jobs one workflow_jobs sync emits, closed by the run record `last`."""

    last: tuple[int, int]  # (run id, attempt) of the batch's last record
    attempts: list[RunAttempt]
    jobs: Future[list[dict[str, Any]]] | None = None  # fetched ahead, when concurrent


@dataclass
class _Batcher:
    """Groups the attempts one repository's read hands over into batches (producer side)."""

    stream: WorkflowRunsStream
    context: Context
    open: list[RunAttempt] = field(default_factory=list)
    last: tuple[int, int] | None = None

    def add(self, attempt: RunAttempt) -> None:
        self.open.append(attempt)
        self.last = (attempt.run_id, attempt.attempt)
        size = self.stream.jobs_batch_size
        if sum(a.latest for a in self.open) >= size or len(self.open) >= 2 * size:
            self.close()

    def close(self) -> None:
        if self.open and self.last is not None:
            self.stream.add_batch(self.context, JobsBatch(self.last, self.open))
        self.open = []


def _run_properties() -> list[th.Property[Any]]:
    return [
        th.Property("id", th.IntegerType, required=True, description="The run's id."),
        th.Property(
            "run_attempt",
            th.IntegerType,
            required=True,
            description="The attempt (1, then 2 and more for re-runs).",
        ),
        th.Property(
            "run_number", th.IntegerType, description="The run's number within its workflow."
        ),
        th.Property("workflow_id", th.IntegerType, description="The workflow's id."),
        th.Property("workflow_name", th.StringType, description="The workflow's name."),
        th.Property("event", th.StringType, description="What triggered the run (push, ...)."),
        th.Property(
            "status",
            th.StringType,
            description="queued, in_progress, completed, waiting, requested, pending.",
        ),
        th.Property(
            "conclusion",
            th.StringType,
            description="success, failure, cancelled, ... (null until completed).",
        ),
        th.Property("head_branch", th.StringType, description="The branch the run ran on."),
        th.Property("head_sha", th.StringType, description="The commit the run ran on."),
        th.Property(
            "actor_login",
            th.StringType,
            description="Login of the user whose event started the run.",
        ),
        th.Property("actor_id", th.IntegerType, description="Id of that user."),
        th.Property(
            "triggering_actor_login",
            th.StringType,
            description="Login of the user who started this attempt (a re-run's).",
        ),
        th.Property("triggering_actor_id", th.IntegerType, description="Id of that user."),
        th.Property("created_at", th.DateTimeType, description="When the run was created."),
        th.Property("updated_at", th.DateTimeType, description="When the attempt last changed."),
        th.Property("run_started_at", th.DateTimeType, description="When the attempt started."),
        th.Property(
            "duration_seconds",
            th.IntegerType,
            description="updated_at - run_started_at once completed (else null).",
        ),
        th.Property("html_url", th.StringType, description="The run's page on GitHub."),
    ]


class WorkflowRunsStream(RepositoryChildStream):
    """Workflow runs, one row per attempt; see the module for the window and the bookmark.

    Incremental: new runs, runs finishing, and re-runs up to 30 days after creation (GitHub's
    limit). Not an attempt re-run again before the next sync (GitHub lists the latest only)."""

    name = "workflow_runs"
    primary_keys = ("id", "run_attempt")
    replication_key = "updated_at"
    emits_event_uuid = True
    # Latest attempts handed to workflow_jobs per child sync (GraphQL takes 100 node ids per
    # query); earlier attempts (REST) ride along, up to as many again.
    jobs_batch_size: ClassVar[int] = 100
    _signpost: datetime | None = None
    schema = th.PropertiesList(*REPOSITORY_CONTEXT, *_run_properties(), EVENT_UUID).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # repo_id -> batches closed by the read (a worker's, ahead), not yet due; and those due
        # (their last record was emitted) for the workflow_jobs sync singer-sdk starts now.
        self._batches: dict[int, deque[JobsBatch]] = {}
        self._due: dict[int, list[JobsBatch]] = {}
        self._batches_lock = threading.Lock()

    @property
    def earlier_attempts(self) -> bool:
        """The workflow_runs_earlier_attempts setting."""
        return bool(
            self.config.get(
                "workflow_runs_earlier_attempts", DEFAULT_WORKFLOW_RUNS_EARLIER_ATTEMPTS
            )
        )

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> datetime:
        # singer-sdk's default is the wall clock; the tap's clock is the one tests control.
        if self._signpost is None:
            self._signpost = datetime.fromtimestamp(self.client.clock.now(), tz=timezone.utc)
        return self._signpost

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        # One record of lookahead: the read has closed the repository's last batch before its
        # last run is emitted.
        previous = None
        try:
            for record in super().get_records(context):
                if previous is not None:
                    yield previous
                previous = record
            if previous is not None:
                yield previous
        finally:
            if context is not None:
                self._drop_batches(context["repo_id"])

    @override
    def generate_child_contexts(
        self,
        record: dict[str, Any],
        context: Context | None,
    ) -> Iterable[Context | None]:
        if not self.has_selected_descendents or context is None:
            return
        key = (record["id"], record["run_attempt"])
        with self._batches_lock:
            batches = self._batches.get(context["repo_id"]) or deque()
            if not any(batch.last == key for batch in batches):
                return
            due = self._due.setdefault(context["repo_id"], [])
            while batches:
                due.append(batch := batches.popleft())
                if batch.last == key:
                    break
        yield context

    def add_batch(self, context: Context, batch: JobsBatch) -> None:
        """A closed batch (producer side): its jobs are fetched now when concurrent."""
        # Imported here: workflow_jobs imports this module (its parent stream).
        from tap_github_activity.streams.workflow_jobs import WorkflowJobsStream  # noqa: PLC0415

        jobs = self.github_tap.streams.get(WorkflowJobsStream.name)
        if (
            isinstance(jobs, WorkflowJobsStream)
            and self.github_tap.settings.max_concurrent_requests > 1
        ):
            attempts = batch.attempts
            batch.jobs = POOL.submit(lambda: jobs.fetch_jobs(context, attempts))
        with self._batches_lock:
            self._batches.setdefault(context["repo_id"], deque()).append(batch)

    def take_batches(self, repo_id: int) -> list[JobsBatch]:
        """The batches whose jobs are due (called by workflow_jobs)."""
        with self._batches_lock:
            return self._due.pop(repo_id, [])

    def _drop_batches(self, repo_id: int) -> None:
        """Batches never due (their last record was not emitted): their fetches are dropped."""
        with self._batches_lock:
            left = list(self._batches.pop(repo_id, ())) + self._due.pop(repo_id, [])
        for batch in left:
            if batch.jobs is not None:
                batch.jobs.cancel()

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        batcher = _Batcher(self, context)
        try:
            yield from self._repository_records(context, batcher)
        except GeneratorExit:
            batcher.open = []  # nobody emits these runs: no jobs either
            raise
        finally:
            batcher.close()  # the repository's last batch (also after an error)

    def _repository_records(
        self,
        context: Context,
        batcher: _Batcher,
    ) -> Iterator[dict[str, Any]]:
        state = self.partition_state(context)
        since = self.get_starting_timestamp(context)
        window_start = self._window_start()
        slices = load_slices(state.get("slices"))
        if not slices:
            # A first sync reads every run once (since start_date); a state of the earlier
            # lookback format, the window.
            start_date = self.github_tap.settings.start_date
            first = state.get("replication_key_value") is None
            low = start_date if first else max(window_start, start_date or window_start)
            slices = [Slice(low, None)]
        emitted: set[tuple[Any, ...]] = set()  # (id, attempt, updated_at) emitted this sync
        kept: list[Slice] = []
        latest_update = None
        live = live_slices(slices, window_start)
        for piece in live:
            read = SliceRead()
            saved, updated = yield from self._emit(
                context, piece, since, batcher=batcher, read=read, emitted=emitted
            )
            latest_update = max(filter(None, (latest_update, updated)), default=None)
            if not read.changed:
                kept.append(piece)
                continue
            # The other slices keep their share of the repository's bound; at the bound the
            # open slice grows (more pages a change) until older slices leave the window.
            share = MAX_SLICES - len(live) + 1
            if not read.needs_cut(piece, saved) or (share < 2 and saved):
                kept.append(Slice(piece.low, piece.high, saved, read.pending))
                continue
            for part in cut(piece, read.runs, window_start, max_slices=max(share, 1)):
                # Each new slice read once for its ETags; what changed meanwhile is emitted.
                part_read = SliceRead()
                part.saved, updated = yield from self._emit(
                    context, part, since, batcher=batcher, read=part_read, emitted=emitted
                )
                part.pending = part_read.pending
                latest_update = max(filter(None, (latest_update, updated)), default=None)
                kept.append(part)
        if not self.selected and latest_update:
            # singer-sdk advances bookmarks of selected streams only; workflow_jobs alone
            # still needs this one, or every changed page would be emitted from start_date.
            self.remember(
                context, replication_key=self.replication_key, replication_key_value=latest_update
            )
        # Stored only once every page is emitted: an interrupted run asks again.
        self.remember(context, slices=[piece.state() for piece in kept])

    def _window_start(self) -> datetime:
        """Runs created before this cannot be re-run any more (GitHub: 30 days), or not by the
        user's choice (workflow_runs_rerun_window_days)."""
        days = self.github_tap.settings.workflow_runs_rerun_window_days
        now = datetime.fromtimestamp(self.client.clock.now(), tz=timezone.utc)
        return (now - timedelta(days=days)).replace(microsecond=0)

    def _emit(
        self,
        context: Context,
        piece: Slice,
        since: datetime | None,
        *,
        batcher: _Batcher,
        read: SliceRead,
        emitted: set[tuple[Any, ...]],
    ) -> Generator[dict[str, Any], None, tuple[dict[str, Any], str | None]]:
        """Emit the runs of a slice updated since `since` and not emitted yet this sync,
        reading on past GitHub's cap; `read` notes every run read. Returns the listing's state
        for the next read (empty when it took more than one query) and the latest update
        emitted."""
        low, high, saved = piece.low, piece.high, piece.saved
        path = f"/repos/{context['owner']}/{context['repo']}/actions/runs"
        latest_update: str | None = None
        queries = 0
        read_before: set[int] = set()  # runs of the boundary second, read by the last query
        while True:
            queries += 1
            listing = PagedListing(
                self.client,
                path,
                self.name,
                context["owner"],
                _listing_params(low, high),
                saved,
            )
            served, oldest, at_oldest = 0, None, set[int]()
            for page in listing.pages():
                if page.not_modified:
                    continue
                runs = page.data.get("workflow_runs") or []
                served += len(runs)
                fresh = []
                for payload in runs:
                    if payload["created_at"] != oldest:
                        oldest, at_oldest = payload["created_at"], set()
                    at_oldest.add(payload["id"])
                    if payload["id"] in read_before:
                        continue
                    read.add(payload)
                    key = (payload["id"], payload.get("run_attempt"), payload["updated_at"])
                    if key in emitted or (
                        since is not None and _moment(payload["updated_at"]) < since
                    ):
                        continue
                    emitted.add(key)
                    if latest_update is None or payload["updated_at"] > latest_update:
                        latest_update = payload["updated_at"]
                    fresh.append(payload)
                yield from self._attempt_records(context, fresh, since, batcher)
            if served < LISTING_CAP or oldest is None:
                return (listing.saved_state() if queries == 1 else {}), latest_update
            if high is not None and _moment(oldest) >= high:
                self.logger.warning(
                    "%s: %s: over %d runs were created at %s; the rest of them "
                    "and older runs are not read",
                    self.name,
                    full_name(context),
                    LISTING_CAP,
                    oldest,
                )
                return {}, latest_update
            self.logger.info(
                "%s: %s: over %d runs created %s; reading on up to %s",
                self.name,
                full_name(context),
                LISTING_CAP,
                Slice(low, high).created,
                oldest,
            )
            high, saved, read_before = _moment(oldest), None, at_oldest

    def _attempt_records(
        self,
        context: Context,
        payloads: list[dict[str, Any]],
        since: datetime | None,
        batcher: _Batcher,
    ) -> Iterator[dict[str, Any]]:
        """Each run's earlier attempts when no earlier sync saw them (asked concurrently), then
        its latest attempt."""
        workers = self.github_tap.settings.max_concurrent_requests
        earlier = ordered_map(
            lambda payload: self._earlier_attempts(context, payload, since), payloads, workers
        )
        for payload, attempts in zip(payloads, earlier, strict=True):
            for data in attempts:
                record = run_record(data)
                self._hand_over(batcher, record, payload["node_id"], latest=False)
                yield record
            record = run_record(payload)
            self._hand_over(batcher, record, payload["node_id"], latest=True)
            yield record

    def _earlier_attempts(
        self, context: Context, payload: dict[str, Any], since: datetime | None
    ) -> list[dict[str, Any]]:
        """Attempts 1..k-1 of a run at attempt k created after the bookmark (a request each;
        requests only: may run on any thread)."""
        attempt = payload.get("run_attempt") or 1
        if (
            attempt == 1
            or not self.earlier_attempts
            or (since is not None and _moment(payload["created_at"]) <= since)
        ):
            return []
        base = f"/repos/{context['owner']}/{context['repo']}/actions/runs/{payload['id']}"
        found = []
        for number in range(1, attempt):
            try:
                page = self.client.get(
                    f"{base}/attempts/{number}", stream=self.name, owner=context["owner"]
                )
            except NotAccessibleError as exc:
                if exc.status != 404:
                    raise
                self.logger.warning(
                    "%s: %s: attempt %d of run %s is gone (404)",
                    self.name,
                    full_name(context),
                    number,
                    payload["id"],
                )
                continue
            found.append(page.data)
        return found

    def _hand_over(
        self, batcher: _Batcher, record: dict[str, Any], node_id: str, *, latest: bool
    ) -> None:
        """Note an attempt about to be emitted, for workflow_jobs (when it is selected)."""
        if self.has_selected_descendents:
            batcher.add(RunAttempt(record["id"], record["run_attempt"], node_id, latest=latest))
