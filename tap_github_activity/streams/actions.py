"""GitHub Actions: workflow runs (one row per attempt) and the jobs of the runs emitted.

workflow_runs
-------------
GET /repos/{owner}/{repo}/actions/runs lists the latest attempt of each run, newest first. A
sync reads the runs *created* since a window start: `workflow_runs_lookback_days` (default 3)
before the bookmark, rounded down to a UTC midnight. Runs queued or running at the last sync
thereby come back finished, and re-runs of recent runs are seen. The start moves in whole days,
so the query (and the ETags kept for it) stays the same between the syncs of a day.

- Bookmark: `updated_at`, the latest update emitted (singer-sdk keeps it per repository). A run
  is emitted when it was updated at or after the bookmark; "at" re-emits the runs of the
  bookmark's second (an update of that second seen only after the last read is not lost).
- Cost: every page is asked with the ETag it answered at the last sync (`PagedListing`): an
  unchanged window costs no point, and a re-run of an older run (which stays on its page) is
  found although page one did not change. State: one small entry per repository (bookmark,
  window, the ETags of at most 8 pages); nothing per run.
- First sync: the runs created before the window (since start_date, if set) are read once,
  without ETags; the window is read as every later sync reads it, so a second sync without
  change costs nothing.
- GitHub serves at most 1,000 runs of a filtered listing: a range that fills them is continued
  with the range ending at the oldest run read (inclusive; runs of that second read twice are
  dropped). A window over 1,000 runs keeps no ETags (it changes at every sync anyway).
- Re-runs: every attempt is its own row (primary key id, run_attempt). The listing shows only
  the latest attempt; an earlier one was emitted by the sync that saw it as latest. A run
  created after the bookmark (new since the last sync; every run on a first sync) that is
  already at attempt k > 1 also has attempts 1..k-1 read, one request each (GET
  .../attempts/{n}; those of a listing page are asked concurrently): no earlier sync saw them,
  and no other endpoint or GraphQL field gives an earlier attempt's status, conclusion, times
  or triggering actor. This is most of a first sync's cost where re-runs are common (a fifth
  of the runs re-run: one point per five runs, and one more for the jobs of each earlier
  attempt); later syncs read only the runs new since the bookmark. A run known at the last
  sync and re-run twice before this one loses the middle attempt.
- Concurrency: repositories may be fetched ahead on worker threads (prefetch.py); the attempts
  handed to workflow_jobs are kept per repository under a lock.

workflow_jobs
-------------
One row per job of each run attempt emitted by this sync. The stream is a child of
workflow_runs, which hands over the attempts it emitted in batches (at the 100th attempt and at
a repository's last): singer-sdk syncs the child once per batch, so memory stays bounded and
selecting workflow_jobs alone still reads the runs (without emitting them).

Where the jobs come from, measured on GitHub's cost rules (a query costs its connection
requests, nested ones multiplied by their parents' page sizes, divided by 100):

- GraphQL, the default, for the latest attempts: the `WorkflowRun` nodes of up to 100 runs per
  query, `checkSuite.checkRuns(first: 30)` without steps (a job's id is its check run's
  databaseId): N runs are N connection requests, 1 point per 100 runs. Then the steps of the
  jobs that failed, timed out or were cancelled only, by their check run nodes
  (`steps(first: 50)`): 1 point per 100 such jobs. `failed_steps` of a job still running is
  empty (it is emitted again, complete, once its run finishes and moves the bookmark).
  **`runner_name` and `labels` are null** (GraphQL's `CheckRun` has neither; the REST rows
  below leave them null too, so a column means one thing).
- REST GET .../runs/{run_id}/attempts/{n}/jobs, one request (1 core point) per attempt, 100
  jobs a page: earlier attempts (a check suite lists only the latest attempt's check runs),
  runs of more than 30 jobs, jobs of more than 50 steps; and every attempt when the
  `workflow_jobs_runner_details` setting asks for the runner fields. The requests of a batch
  are sent concurrently (at most `max_concurrent_requests`).

Batches: workflow_runs hands over the attempts it emits in batches, closed at 100 latest
attempts (or 200 in all) and at a repository's last run, so a GraphQL query carries up to 100
runs; singer-sdk syncs workflow_jobs once per batch, when the batch's last run is emitted. With
`max_concurrent_requests` above 1, a batch's jobs are fetched as soon as the batch is closed
(while its runs are still being emitted), and the child sync emits them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.prefetch import POOL, ordered_map
from tap_github_activity.settings import (
    DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS,
    DEFAULT_WORKFLOW_RUNS_LOOKBACK_DAYS,
)
from tap_github_activity.streams.base import EVENT_UUID, flatten
from tap_github_activity.streams.children import (
    REPOSITORY_CONTEXT,
    RepositoryChildStream,
    full_name,
)
from tap_github_activity.streams.releases import PagedListing

__all__ = ["JOB_FIELDS", "RUN_FIELDS", "WorkflowJobsStream", "WorkflowRunsStream"]

LISTING_CAP = 1000  # runs GitHub serves of one filtered listing
CHECK_RUNS_PER_RUN = 30
STEPS_PER_JOB = 50
NODES_PER_QUERY = 100  # GitHub's limit of nodes(ids:)
FAILED_STEP_CONCLUSIONS = frozenset({"failure", "timed_out"})
# Jobs whose steps are asked (GraphQL's upper-case conclusions): the others have no failed step.
UNSUCCESSFUL_JOB_CONCLUSIONS = frozenset({"FAILURE", "TIMED_OUT", "CANCELLED", "STARTUP_FAILURE"})

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

# Record field -> dotted path in GitHub's job payload.
JOB_FIELDS = {
    "id": "id",
    "run_id": "run_id",
    "run_attempt": "run_attempt",
    "name": "name",
    "status": "status",
    "conclusion": "conclusion",
    "started_at": "started_at",
    "completed_at": "completed_at",
    "runner_name": "runner_name",
    "labels": "labels",
}

JOBS_QUERY = """
query WorkflowJobs($ids: [ID!]!) {
  rateLimit { cost }
  nodes(ids: $ids) {
    ... on WorkflowRun {
      databaseId
      checkSuite {
        checkRuns(first: %d) {
          pageInfo { hasNextPage }
          nodes { id databaseId name status conclusion startedAt completedAt }
        }
      }
    }
  }
}
""" % CHECK_RUNS_PER_RUN  # noqa: UP031 -- braces of GraphQL make format() unreadable

STEPS_QUERY = """
query WorkflowJobSteps($ids: [ID!]!) {
  rateLimit { cost }
  nodes(ids: $ids) {
    ... on CheckRun {
      databaseId
      steps(first: %d) { pageInfo { hasNextPage } nodes { name conclusion number } }
    }
  }
}
""" % STEPS_PER_JOB  # noqa: UP031 -- braces of GraphQL make format() unreadable


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    return int((_moment(end) - _moment(start)).total_seconds())


def _created(low: datetime | None, high: datetime | None) -> str:
    """GitHub's `created` qualifier for an inclusive range (None: open)."""
    if low and high:
        return f"{_iso(low)}..{_iso(high)}"
    if low:
        return f">={_iso(low)}"
    return f"<={_iso(high)}" if high else "*..*"


def run_record(payload: dict[str, Any]) -> dict[str, Any]:
    """A workflow_runs row from a run (attempt) payload."""
    record = flatten(payload, RUN_FIELDS)
    record["run_attempt"] = record["run_attempt"] or 1
    record["duration_seconds"] = _seconds(payload.get("run_started_at"), payload["updated_at"]) \
        if payload.get("status") == "completed" else None
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
        th.Property("run_attempt", th.IntegerType, required=True,
                    description="The attempt (1, then 2 and more for re-runs)."),
        th.Property("run_number", th.IntegerType,
                    description="The run's number within its workflow."),
        th.Property("workflow_id", th.IntegerType, description="The workflow's id."),
        th.Property("workflow_name", th.StringType, description="The workflow's name."),
        th.Property("event", th.StringType, description="What triggered the run (push, ...)."),
        th.Property("status", th.StringType,
                    description="queued, in_progress, completed, waiting, requested, pending."),
        th.Property("conclusion", th.StringType,
                    description="success, failure, cancelled, ... (null until completed)."),
        th.Property("head_branch", th.StringType, description="The branch the run ran on."),
        th.Property("head_sha", th.StringType, description="The commit the run ran on."),
        th.Property("actor_login", th.StringType,
                    description="Login of the user whose event started the run."),
        th.Property("actor_id", th.IntegerType, description="Id of that user."),
        th.Property("triggering_actor_login", th.StringType,
                    description="Login of the user who started this attempt (a re-run's)."),
        th.Property("triggering_actor_id", th.IntegerType, description="Id of that user."),
        th.Property("created_at", th.DateTimeType, description="When the run was created."),
        th.Property("updated_at", th.DateTimeType, description="When the attempt last changed."),
        th.Property("run_started_at", th.DateTimeType, description="When the attempt started."),
        th.Property("duration_seconds", th.IntegerType,
                    description="updated_at - run_started_at once completed (else null)."),
        th.Property("html_url", th.StringType, description="The run's page on GitHub."),
    ]


class WorkflowRunsStream(RepositoryChildStream):
    """Workflow runs, one row per attempt; see the module for the window and the bookmark."""

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
    def generate_child_contexts(self, record: dict[str, Any], context: Context | None,
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
        jobs = self.github_tap.streams.get(WorkflowJobsStream.name)
        if isinstance(jobs, WorkflowJobsStream) and \
                self.github_tap.settings.max_concurrent_requests > 1:
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

    def _repository_records(self, context: Context, batcher: _Batcher,
                            ) -> Iterator[dict[str, Any]]:
        state = self.partition_state(context)
        since = self.get_starting_timestamp(context)
        start = self._window_start(state)
        window = _created(start, None)
        saved = state.get("listing") or {}
        latest_update = None
        segments: list[tuple[datetime | None, datetime | None, Mapping[str, Any] | None]] = []
        start_date = self.github_tap.settings.start_date
        if not saved and (start_date is None or start_date < start):
            # A first sync: the runs before the window, once.
            segments.append((start_date, start - timedelta(seconds=1), None))
        segments.append((start, None, saved if saved.get("created") == window else None))
        listing: dict[str, Any] = {}
        for low, high, previous in segments:
            listing, updated = yield from self._emit(context, low, high, previous, since,
                                                     batcher=batcher)
            if updated and (latest_update is None or updated > latest_update):
                latest_update = updated
        if not self.selected and latest_update:
            # singer-sdk advances bookmarks of selected streams only; workflow_jobs alone
            # still needs this one, or every changed page would be emitted from start_date.
            self.remember(context, replication_key=self.replication_key,
                          replication_key_value=latest_update)
        # Stored only once every page is emitted: an interrupted run asks again.
        self.remember(context, listing={"created": window, **listing})

    def _window_start(self, state: dict[str, Any]) -> datetime:
        """Lookback days before the bookmark (before now on a first sync), at UTC midnight;
        never before start_date."""
        lookback = int(self.config.get("workflow_runs_lookback_days",
                                       DEFAULT_WORKFLOW_RUNS_LOOKBACK_DAYS))
        bookmark = state.get("replication_key_value") \
            if state.get("replication_key") == self.replication_key else None
        anchor = _moment(bookmark) if bookmark else datetime.fromtimestamp(
            self.client.clock.now(), tz=timezone.utc)
        start = (anchor - timedelta(days=lookback)).replace(hour=0, minute=0, second=0,
                                                            microsecond=0)
        start_date = self.github_tap.settings.start_date
        return max(start, start_date) if start_date else start

    def _emit(self, context: Context, low: datetime | None, high: datetime | None,
              saved: Mapping[str, Any] | None, since: datetime | None, *, batcher: _Batcher,
              ) -> Generator[dict[str, Any], None, tuple[dict[str, Any], str | None]]:
        """Emit the runs created in [low, high] and updated since `since`, reading on past
        GitHub's cap. Returns the listing's state for the next read (empty when it took more
        than one query) and the latest update emitted."""
        path = f"/repos/{context['owner']}/{context['repo']}/actions/runs"
        latest_update: str | None = None
        queries = 0
        read_before: set[int] = set()  # runs of the boundary second, read by the last query
        while True:
            queries += 1
            listing = PagedListing(self.client, path, self.name, context["owner"],
                                   {"created": _created(low, high),
                                    "exclude_pull_requests": "true"}, saved)
            served, oldest, at_oldest = 0, None, set[int]()
            for page in listing.pages():
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
                            since is not None and _moment(payload["updated_at"]) < since):
                        continue
                    if latest_update is None or payload["updated_at"] > latest_update:
                        latest_update = payload["updated_at"]
                    emitted.append(payload)
                yield from self._attempt_records(context, emitted, since, batcher)
            if served < LISTING_CAP or oldest is None:
                return (listing.saved_state() if queries == 1 else {}), latest_update
            if high is not None and _moment(oldest) >= high:
                self.logger.warning("%s: %s: over %d runs were created at %s; the rest of them "
                                    "and older runs are not read", self.name, full_name(context),
                                    LISTING_CAP, oldest)
                return {}, latest_update
            self.logger.info("%s: %s: over %d runs created %s; reading on up to %s", self.name,
                             full_name(context), LISTING_CAP, _created(low, high), oldest)
            high, saved, read_before = _moment(oldest), None, at_oldest

    def _attempt_records(self, context: Context, payloads: list[dict[str, Any]],
                         since: datetime | None, batcher: _Batcher,
                         ) -> Iterator[dict[str, Any]]:
        """Each run's earlier attempts when no earlier sync saw them (asked concurrently), then
        its latest attempt."""
        workers = self.github_tap.settings.max_concurrent_requests
        earlier = ordered_map(lambda payload: self._earlier_attempts(context, payload, since),
                              payloads, workers)
        for payload, attempts in zip(payloads, earlier, strict=True):
            for data in attempts:
                record = run_record(data)
                self._hand_over(batcher, record, payload["node_id"], latest=False)
                yield record
            record = run_record(payload)
            self._hand_over(batcher, record, payload["node_id"], latest=True)
            yield record

    def _earlier_attempts(self, context: Context, payload: dict[str, Any],
                          since: datetime | None) -> list[dict[str, Any]]:
        """Attempts 1..k-1 of a run at attempt k created after the bookmark (a request each;
        requests only: may run on any thread)."""
        attempt = payload.get("run_attempt") or 1
        if attempt == 1 or (since is not None and _moment(payload["created_at"]) <= since):
            return []
        base = f"/repos/{context['owner']}/{context['repo']}/actions/runs/{payload['id']}"
        found = []
        for number in range(1, attempt):
            try:
                page = self.client.get(f"{base}/attempts/{number}", stream=self.name,
                                       owner=context["owner"])
            except NotAccessibleError as exc:
                if exc.status != 404:
                    raise
                self.logger.warning("%s: %s: attempt %d of run %s is gone (404)",
                                    self.name, full_name(context), number, payload["id"])
                continue
            found.append(page.data)
        return found

    def _hand_over(self, batcher: _Batcher, record: dict[str, Any], node_id: str, *,
                   latest: bool) -> None:
        """Note an attempt about to be emitted, for workflow_jobs (when it is selected)."""
        if self.has_selected_descendents:
            batcher.add(RunAttempt(record["id"], record["run_attempt"], node_id, latest=latest))


class WorkflowJobsStream(RepositoryChildStream):
    """The jobs of the run attempts workflow_runs emitted, batched (see the module)."""

    name = "workflow_jobs"
    primary_keys = ("id",)
    replication_key = None
    emits_event_uuid = True
    parent_stream_type = WorkflowRunsStream  # type: ignore[assignment]  # not repositories
    # Jobs are read for the runs emitted, that is those updated since the runs' bookmark: the
    # parent stays incremental (singer-sdk would otherwise force it to FULL_TABLE).
    ignore_parent_replication_key = False
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property("id", th.IntegerType, required=True,
                    description="The job's id (its check run's id)."),
        th.Property("run_id", th.IntegerType, description="The workflow run's id."),
        th.Property("run_attempt", th.IntegerType, description="The run attempt it belongs to."),
        th.Property("name", th.StringType, description="The job's name."),
        th.Property("status", th.StringType,
                    description="queued, in_progress, completed, waiting, requested, pending."),
        th.Property("conclusion", th.StringType,
                    description="success, failure, cancelled, skipped, ... (null until done)."),
        th.Property("started_at", th.DateTimeType, description="When the job started."),
        th.Property("completed_at", th.DateTimeType, description="When the job completed."),
        th.Property("duration_seconds", th.IntegerType,
                    description="completed_at - started_at once completed (else null)."),
        th.Property("runner_name", th.StringType,
                    description="The runner that ran the job; null unless "
                                "workflow_jobs_runner_details is on (REST only)."),
        th.Property("labels", th.ArrayType(th.StringType),
                    description="The runner labels the job asked for (runs-on); null unless "
                                "workflow_jobs_runner_details is on (REST only)."),
        th.Property("failed_steps", th.ArrayType(th.StringType),
                    description="Names of the steps that failed or timed out."),
        EVENT_UUID,
    ).to_dict()

    @property
    def runs_stream(self) -> WorkflowRunsStream:
        """The parent, which holds the batch of attempts."""
        stream = self.github_tap.streams[WorkflowRunsStream.name]
        assert isinstance(stream, WorkflowRunsStream)
        return stream

    @property
    def runner_details(self) -> bool:
        """The workflow_jobs_runner_details setting: every attempt's jobs from REST."""
        return bool(self.config.get("workflow_jobs_runner_details",
                                    DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS))

    @property
    @override
    def prefetches(self) -> bool:
        # Synced once per batch of the parent's attempts, on singer-sdk's thread; its REST
        # requests of a batch are concurrent.
        return False

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        for batch in self.runs_stream.take_batches(context["repo_id"]):
            if batch.jobs is not None:
                yield from batch.jobs.result()  # fetched ahead (or the error it met)
            else:
                yield from self.fetch_jobs(context, batch.attempts)

    def fetch_jobs(self, context: Context, attempts: list[RunAttempt]) -> list[dict[str, Any]]:
        """The jobs of a batch of attempts (requests only: may run on any thread)."""
        records: list[dict[str, Any]] = []
        by_rest = attempts
        if not self.runner_details:
            latest = [a for a in attempts if a.latest]
            by_rest = [a for a in attempts if not a.latest]
            if latest:
                by_rest += self._graphql_jobs(context, latest, records)
        workers = self.github_tap.settings.max_concurrent_requests
        for jobs in ordered_map(lambda attempt: self._rest_jobs(context, attempt), by_rest,
                                workers):
            records += jobs
        return records

    def _rest_jobs(self, context: Context, attempt: RunAttempt) -> list[dict[str, Any]]:
        """One attempt's jobs from REST (requests only: may run on any thread)."""
        path = (f"/repos/{context['owner']}/{context['repo']}/actions/runs/{attempt.run_id}"
                f"/attempts/{attempt.attempt}/jobs")
        records = []
        runner = self.runner_details
        try:
            for page in self.client.paginate(path, stream=self.name, owner=context["owner"]):
                for job in page.data.get("jobs") or []:
                    record = flatten(job, JOB_FIELDS)
                    record["run_attempt"] = record["run_attempt"] or attempt.attempt
                    # Null without the setting, as GraphQL's rows: one meaning per column.
                    record["labels"] = (record["labels"] or []) if runner else None
                    if not runner:
                        record["runner_name"] = None
                    record["failed_steps"] = [
                        step["name"] for step in job.get("steps") or []
                        if step.get("conclusion") in FAILED_STEP_CONCLUSIONS]
                    record["duration_seconds"] = _seconds(job.get("started_at"),
                                                          job.get("completed_at")) \
                        if job.get("status") == "completed" else None
                    records.append(record)
        except NotAccessibleError as exc:
            if exc.status != 404:
                raise
            # Deleted since it was listed.
            self.logger.warning("%s: %s: run %s attempt %d has no jobs any more (404)",
                                self.name, full_name(context), attempt.run_id, attempt.attempt)
        return records

    def _graphql_jobs(self, context: Context, attempts: list[RunAttempt],
                      records: list[dict[str, Any]]) -> list[RunAttempt]:
        """Jobs of the latest attempts, into `records`: one query per 100 runs, then one per
        100 unsuccessful jobs for their steps. Returns the attempts GraphQL could not give whole
        (more than 30 jobs, or a job of more than 50 steps), for REST."""
        fallback: list[RunAttempt] = []
        for offset in range(0, len(attempts), NODES_PER_QUERY):
            chunk = attempts[offset:offset + NODES_PER_QUERY]
            data = self.client.graphql(JOBS_QUERY, {"ids": [a.node_id for a in chunk]},
                                       stream=self.name, owner=context["owner"])
            nodes = data.get("nodes") or [None] * len(chunk)
            found: list[tuple[RunAttempt, list[dict[str, Any]]]] = []
            for attempt, node in zip(chunk, nodes, strict=True):
                if node is None:
                    self.logger.warning("%s: %s: run %s is gone", self.name,
                                        full_name(context), attempt.run_id)
                    continue
                check_runs = (node.get("checkSuite") or {}).get("checkRuns") or {}
                if (check_runs.get("pageInfo") or {}).get("hasNextPage"):
                    fallback.append(attempt)
                    continue
                found.append((attempt, [run for run in check_runs.get("nodes") or [] if run]))
            steps = self._failed_steps(context, [
                run for _, runs in found for run in runs
                if run.get("conclusion") in UNSUCCESSFUL_JOB_CONCLUSIONS])
            for attempt, runs in found:
                if any(steps.get(run["id"], ()) is None for run in runs):
                    fallback.append(attempt)  # a job of more than 50 steps
                    continue
                records += [_job_from_check_run(run, attempt, steps.get(run["id"]) or [])
                            for run in runs]
        return fallback

    def _failed_steps(self, context: Context, check_runs: list[dict[str, Any]],
                      ) -> dict[str, list[str] | None]:
        """Check run node id -> names of its failed steps (None: more than one page)."""
        failed: dict[str, list[str] | None] = {}
        ids = [run["id"] for run in check_runs]
        for offset in range(0, len(ids), NODES_PER_QUERY):
            chunk = ids[offset:offset + NODES_PER_QUERY]
            data = self.client.graphql(STEPS_QUERY, {"ids": chunk}, stream=self.name,
                                       owner=context["owner"])
            for node_id, node in zip(chunk, data.get("nodes") or [None] * len(chunk),
                                     strict=True):
                steps = (node or {}).get("steps") or {}
                if (steps.get("pageInfo") or {}).get("hasNextPage"):
                    failed[node_id] = None
                    continue
                failed[node_id] = [step["name"] for step in steps.get("nodes") or []
                                   if step and _lower(step.get("conclusion"))
                                   in FAILED_STEP_CONCLUSIONS]
        return failed


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _job_from_check_run(check_run: dict[str, Any], attempt: RunAttempt,
                        failed_steps: list[str]) -> dict[str, Any]:
    """A workflow_jobs row from a GraphQL check run (GitHub's enums are REST's, upper-case);
    GraphQL has no runner name or labels."""
    status = _lower(check_run.get("status"))
    return {
        "id": check_run["databaseId"],
        "run_id": attempt.run_id,
        "run_attempt": attempt.attempt,
        "name": check_run.get("name"),
        "status": status,
        "conclusion": _lower(check_run.get("conclusion")),
        "started_at": check_run.get("startedAt"),
        "completed_at": check_run.get("completedAt"),
        "duration_seconds": _seconds(check_run.get("startedAt"), check_run.get("completedAt"))
        if status == "completed" else None,
        "runner_name": None,
        "labels": None,
        "failed_steps": failed_steps,
    }
