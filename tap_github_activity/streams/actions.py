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
  .../attempts/{n}): no earlier sync saw them, and runs re-run before a first sync are few. A
  run known at the last sync and re-run twice before this one loses the middle attempt.

workflow_jobs
-------------
One row per job of each run attempt emitted by this sync. The stream is a child of
workflow_runs, which hands over the attempts it emitted in batches (at the 100th attempt and at
a repository's last): singer-sdk syncs the child once per batch, so memory stays bounded and
selecting workflow_jobs alone still reads the runs (without emitting them).

Where the jobs come from, measured on GitHub's cost rules:

- REST GET .../runs/{run_id}/attempts/{n}/jobs: one request (1 core point) per attempt, 100
  jobs per page; the only source of each job's runner name and labels. The default.
- GraphQL: the `WorkflowRun` nodes of up to 100 runs per query, `checkSuite.checkRuns` (a job's
  id is its check run's databaseId) with steps. Same fields but no runner name or labels (the
  `CheckRun` type has neither). A query of N runs asking 30 check runs each needs N + 30 N
  connection requests, so it costs 31 N / 100 points of the separate GraphQL budget: 31 points
  for 100 runs instead of 100 REST requests (3 points for a repository's 10 runs). Used for
  the latest attempts when the catalog deselects both `runner_name` and `labels`; older
  attempts (a check suite shows only the latest attempt's check runs), runs of more than 30
  jobs and jobs of more than 50 steps fall back to REST.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.settings import DEFAULT_WORKFLOW_RUNS_LOOKBACK_DAYS
from tap_github_activity.streams.base import flatten
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
FAILED_STEP_CONCLUSIONS = frozenset({"failure", "timed_out"})

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
query($ids: [ID!]!) {
  rateLimit { cost }
  nodes(ids: $ids) {
    ... on WorkflowRun {
      databaseId
      checkSuite {
        checkRuns(first: %d) {
          pageInfo { hasNextPage }
          nodes {
            databaseId name status conclusion startedAt completedAt
            steps(first: %d) { pageInfo { hasNextPage } nodes { name conclusion } }
          }
        }
      }
    }
  }
}
""" % (CHECK_RUNS_PER_RUN, STEPS_PER_JOB)  # noqa: UP031 -- braces of GraphQL make format() unreadable


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
    # Attempts handed to workflow_jobs per child sync (GraphQL takes 100 node ids per query).
    jobs_batch_size: ClassVar[int] = 100
    # Per repository: emitted attempts not yet batched, the batch, the last record's key.
    _attempts: dict[tuple[int, int], RunAttempt]
    _batch: list[RunAttempt]
    _last: tuple[int, int] | None
    _signpost: datetime | None = None
    schema = th.PropertiesList(*REPOSITORY_CONTEXT, *_run_properties()).to_dict()

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> datetime:
        # singer-sdk's default is the wall clock; the tap's clock is the one tests control.
        if self._signpost is None:
            self._signpost = datetime.fromtimestamp(self.client.clock.now(), tz=timezone.utc)
        return self._signpost

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        self._attempts, self._batch, self._last = {}, [], None
        # One record of lookahead, so that the repository's last run closes the jobs batch.
        previous = None
        for record in super().get_records(context):
            if previous is not None:
                yield previous
            previous = record
        if previous is not None:
            self._last = (previous["id"], previous["run_attempt"])
            yield previous

    @override
    def generate_child_contexts(self, record: dict[str, Any], context: Context | None,
                                ) -> Iterable[Context | None]:
        if not self.has_selected_descendents:
            return
        key = (record["id"], record["run_attempt"])
        if key in self._attempts:
            self._batch.append(self._attempts.pop(key))
        if self._batch and (len(self._batch) >= self.jobs_batch_size or key == self._last):
            yield context

    def take_batch(self) -> list[RunAttempt]:
        """The emitted attempts whose jobs are due (called by workflow_jobs)."""
        batch, self._batch = self._batch, []
        return batch

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
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
            listing, updated = yield from self._emit(context, low, high, previous, since)
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
              saved: Mapping[str, Any] | None, since: datetime | None,
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
                for payload in runs:
                    if payload["created_at"] != oldest:
                        oldest, at_oldest = payload["created_at"], set()
                    at_oldest.add(payload["id"])
                    if payload["id"] in read_before or (
                            since is not None and _moment(payload["updated_at"]) < since):
                        continue
                    if latest_update is None or payload["updated_at"] > latest_update:
                        latest_update = payload["updated_at"]
                    yield from self._attempt_records(context, payload, since)
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

    def _attempt_records(self, context: Context, payload: dict[str, Any],
                         since: datetime | None) -> Iterator[dict[str, Any]]:
        """The run's latest attempt, and its earlier attempts when no earlier sync saw them."""
        record = run_record(payload)
        attempt = record["run_attempt"]
        if attempt > 1 and (since is None or _moment(payload["created_at"]) > since):
            base = f"/repos/{context['owner']}/{context['repo']}/actions/runs/{payload['id']}"
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
                earlier = run_record(page.data)
                self._hand_over(earlier, payload["node_id"], latest=False)
                yield earlier
        self._hand_over(record, payload["node_id"], latest=True)
        yield record

    def _hand_over(self, record: dict[str, Any], node_id: str, *, latest: bool) -> None:
        """Note an attempt about to be emitted, for workflow_jobs (when it is selected)."""
        if self.has_selected_descendents:
            key = (record["id"], record["run_attempt"])
            self._attempts[key] = RunAttempt(*key, node_id, latest=latest)


class WorkflowJobsStream(RepositoryChildStream):
    """The jobs of the run attempts workflow_runs emitted, batched (see the module)."""

    name = "workflow_jobs"
    primary_keys = ("id",)
    replication_key = None
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
                    description="The runner that ran the job (REST only; see the module)."),
        th.Property("labels", th.ArrayType(th.StringType),
                    description="The runner labels the job asked for (runs-on)."),
        th.Property("failed_steps", th.ArrayType(th.StringType),
                    description="Names of the steps that failed or timed out."),
    ).to_dict()

    # Each sync emits the jobs of the runs emitted: an ACTIVATE_VERSION would make targets
    # delete every other job.
    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        return False

    @property
    def runs_stream(self) -> WorkflowRunsStream:
        """The parent, which holds the batch of attempts."""
        stream = self.github_tap.streams[WorkflowRunsStream.name]
        assert isinstance(stream, WorkflowRunsStream)
        return stream

    @property
    def needs_runner(self) -> bool:
        """Whether runner name or labels are selected: only REST has them."""
        return any(self.mask.get(("properties", name), True)
                   for name in ("runner_name", "labels"))

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        attempts = self.runs_stream.take_batch()
        by_rest = attempts
        if not self.needs_runner:
            latest = [a for a in attempts if a.latest]
            by_rest = [a for a in attempts if not a.latest]
            if latest:
                fallback = yield from self._graphql_jobs(context, latest)
                by_rest += fallback
        for attempt in by_rest:
            yield from self._rest_jobs(context, attempt)

    def _rest_jobs(self, context: Context, attempt: RunAttempt) -> Iterator[dict[str, Any]]:
        path = (f"/repos/{context['owner']}/{context['repo']}/actions/runs/{attempt.run_id}"
                f"/attempts/{attempt.attempt}/jobs")
        try:
            for page in self.client.paginate(path, stream=self.name, owner=context["owner"]):
                for job in page.data.get("jobs") or []:
                    record = flatten(job, JOB_FIELDS)
                    record["run_attempt"] = record["run_attempt"] or attempt.attempt
                    record["labels"] = record["labels"] or []
                    record["failed_steps"] = [
                        step["name"] for step in job.get("steps") or []
                        if step.get("conclusion") in FAILED_STEP_CONCLUSIONS]
                    record["duration_seconds"] = _seconds(job.get("started_at"),
                                                          job.get("completed_at")) \
                        if job.get("status") == "completed" else None
                    yield record
        except NotAccessibleError as exc:
            if exc.status != 404:
                raise
            # Deleted since it was listed.
            self.logger.warning("%s: %s: run %s attempt %d has no jobs any more (404)",
                                self.name, full_name(context), attempt.run_id, attempt.attempt)

    def _graphql_jobs(self, context: Context, attempts: list[RunAttempt],
                      ) -> Generator[dict[str, Any], None, list[RunAttempt]]:
        """Jobs of the latest attempts, one query per 100 runs. Returns the attempts GraphQL
        could not give whole (more than 30 jobs, or a job of more than 50 steps)."""
        fallback: list[RunAttempt] = []
        for offset in range(0, len(attempts), 100):
            chunk = attempts[offset:offset + 100]
            data = self.client.graphql(JOBS_QUERY, {"ids": [a.node_id for a in chunk]},
                                       stream=self.name, owner=context["owner"])
            nodes = data.get("nodes") or [None] * len(chunk)
            for attempt, node in zip(chunk, nodes, strict=True):
                if node is None:
                    self.logger.warning("%s: %s: run %s is gone", self.name,
                                        full_name(context), attempt.run_id)
                    continue
                check_runs = node["checkSuite"]["checkRuns"] or {}
                jobs = check_runs.get("nodes") or []
                if check_runs.get("pageInfo", {}).get("hasNextPage") or any(
                        (job.get("steps") or {}).get("pageInfo", {}).get("hasNextPage")
                        for job in jobs):
                    fallback.append(attempt)
                    continue
                for check_run in jobs:
                    yield _job_from_check_run(check_run, attempt)
        return fallback


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _job_from_check_run(check_run: dict[str, Any], attempt: RunAttempt) -> dict[str, Any]:
    """A workflow_jobs row from a GraphQL check run (GitHub's enums are REST's, upper-case)."""
    status = _lower(check_run.get("status"))
    steps = (check_run.get("steps") or {}).get("nodes") or []
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
        "failed_steps": [step["name"] for step in steps
                         if _lower(step.get("conclusion")) in FAILED_STEP_CONCLUSIONS],
    }
