"""Workflow jobs: one row per job of each workflow run attempt that workflow_runs emitted.

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

from collections.abc import Iterator
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.cost_check import QueryFamily, register
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.prefetch import ordered_map
from tap_github_activity.settings import DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS
from tap_github_activity.streams.base import EVENT_UUID, flatten
from tap_github_activity.streams.children import (
    REPOSITORY_CONTEXT,
    RepositoryChildStream,
    full_name,
)
from tap_github_activity.streams.workflow_runs import (
    RunAttempt,
    WorkflowRunsStream,
    seconds_between,
)

__all__ = ["JOB_FIELDS", "WorkflowJobsStream"]

CHECK_RUNS_PER_RUN = 30
STEPS_PER_JOB = 50
NODES_PER_QUERY = 100  # GitHub's limit of nodes(ids:)
FAILED_STEP_CONCLUSIONS = frozenset({"failure", "timed_out"})
# Jobs whose steps are asked (GraphQL's upper-case conclusions): the others have no failed step.
UNSUCCESSFUL_JOB_CONCLUSIONS = frozenset({"FAILURE", "TIMED_OUT", "CANCELLED", "STARTUP_FAILURE"})

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

JOBS_QUERY = (
    """
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
"""  # noqa: UP031 -- braces of GraphQL make format() unreadable
    % CHECK_RUNS_PER_RUN
)

STEPS_QUERY = (
    """
query WorkflowJobSteps($ids: [ID!]!) {
  rateLimit { cost }
  nodes(ids: $ids) {
    ... on CheckRun {
      databaseId
      steps(first: %d) { pageInfo { hasNextPage } nodes { name conclusion number } }
    }
  }
}
"""  # noqa: UP031 -- braces of GraphQL make format() unreadable
    % STEPS_PER_JOB
)


# nodes(ids:) counted once per id (GitHub does not say; the expensive reading): each run's
# checkRuns, each job's steps, is one request. Nothing is nested in them.
for _operation, _title, _unit in (
    ("WorkflowJobs", "workflow jobs", "runs"),
    ("WorkflowJobSteps", "failed job steps", "jobs"),
):
    register(
        QueryFamily(
            _operation,
            _title,
            lambda _query, variables: len(variables["ids"]),
            designed=NODES_PER_QUERY,
            smaller="{size} " + _unit + " a query",
        )
    )


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
        th.Property(
            "id", th.IntegerType, required=True, description="The job's id (its check run's id)."
        ),
        th.Property("run_id", th.IntegerType, description="The workflow run's id."),
        th.Property("run_attempt", th.IntegerType, description="The run attempt it belongs to."),
        th.Property("name", th.StringType, description="The job's name."),
        th.Property(
            "status",
            th.StringType,
            description="queued, in_progress, completed, waiting, requested, pending.",
        ),
        th.Property(
            "conclusion",
            th.StringType,
            description="success, failure, cancelled, skipped, ... (null until done).",
        ),
        th.Property("started_at", th.DateTimeType, description="When the job started."),
        th.Property("completed_at", th.DateTimeType, description="When the job completed."),
        th.Property(
            "duration_seconds",
            th.IntegerType,
            description="completed_at - started_at once completed (else null).",
        ),
        th.Property(
            "runner_name",
            th.StringType,
            description="The runner that ran the job; null unless "
            "workflow_jobs_runner_details is on (REST only).",
        ),
        th.Property(
            "labels",
            th.ArrayType(th.StringType),
            description="The runner labels the job asked for (runs-on); null unless "
            "workflow_jobs_runner_details is on (REST only).",
        ),
        th.Property(
            "failed_steps",
            th.ArrayType(th.StringType),
            description="Names of the steps that failed or timed out.",
        ),
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
        return bool(
            self.config.get("workflow_jobs_runner_details", DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS)
        )

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
        for jobs in ordered_map(
            lambda attempt: self._rest_jobs(context, attempt), by_rest, workers
        ):
            records += jobs
        return records

    def _rest_jobs(self, context: Context, attempt: RunAttempt) -> list[dict[str, Any]]:
        """One attempt's jobs from REST (requests only: may run on any thread)."""
        path = (
            f"/repos/{context['owner']}/{context['repo']}/actions/runs/{attempt.run_id}"
            f"/attempts/{attempt.attempt}/jobs"
        )
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
                        step["name"]
                        for step in job.get("steps") or []
                        if step.get("conclusion") in FAILED_STEP_CONCLUSIONS
                    ]
                    record["duration_seconds"] = (
                        seconds_between(job.get("started_at"), job.get("completed_at"))
                        if job.get("status") == "completed"
                        else None
                    )
                    records.append(record)
        except NotAccessibleError as exc:
            if exc.status != 404:
                raise
            # Deleted since it was listed.
            self.logger.warning(
                "%s: %s: run %s attempt %d has no jobs any more (404)",
                self.name,
                full_name(context),
                attempt.run_id,
                attempt.attempt,
            )
        return records

    def _graphql_jobs(
        self, context: Context, attempts: list[RunAttempt], records: list[dict[str, Any]]
    ) -> list[RunAttempt]:
        """Jobs of the latest attempts, into `records`: one query per 100 runs, then one per
        100 unsuccessful jobs for their steps. Returns the attempts GraphQL could not give whole
        (more than 30 jobs, or a job of more than 50 steps), for REST."""
        fallback: list[RunAttempt] = []
        checks = self.client.ledger.cost_check
        offset = 0
        while offset < len(attempts):
            chunk = attempts[offset : offset + checks.size("WorkflowJobs", NODES_PER_QUERY)]
            offset += len(chunk)
            data = self.client.graphql(
                JOBS_QUERY,
                {"ids": [a.node_id for a in chunk]},
                stream=self.name,
                owner=context["owner"],
            )
            nodes = data.get("nodes") or [None] * len(chunk)
            found: list[tuple[RunAttempt, list[dict[str, Any]]]] = []
            for attempt, node in zip(chunk, nodes, strict=True):
                if node is None:
                    self.logger.warning(
                        "%s: %s: run %s is gone", self.name, full_name(context), attempt.run_id
                    )
                    continue
                check_runs = (node.get("checkSuite") or {}).get("checkRuns") or {}
                if (check_runs.get("pageInfo") or {}).get("hasNextPage"):
                    fallback.append(attempt)
                    continue
                found.append((attempt, [run for run in check_runs.get("nodes") or [] if run]))
            steps = self._failed_steps(
                context,
                [
                    run
                    for _, runs in found
                    for run in runs
                    if run.get("conclusion") in UNSUCCESSFUL_JOB_CONCLUSIONS
                ],
            )
            for attempt, runs in found:
                if any(steps.get(run["id"], ()) is None for run in runs):
                    fallback.append(attempt)  # a job of more than 50 steps
                    continue
                records += [
                    _job_from_check_run(run, attempt, steps.get(run["id"]) or []) for run in runs
                ]
        return fallback

    def _failed_steps(
        self,
        context: Context,
        check_runs: list[dict[str, Any]],
    ) -> dict[str, list[str] | None]:
        """Check run node id -> names of its failed steps (None: more than one page)."""
        failed: dict[str, list[str] | None] = {}
        ids = [run["id"] for run in check_runs]
        checks = self.client.ledger.cost_check
        offset = 0
        while offset < len(ids):
            chunk = ids[offset : offset + checks.size("WorkflowJobSteps", NODES_PER_QUERY)]
            offset += len(chunk)
            data = self.client.graphql(
                STEPS_QUERY, {"ids": chunk}, stream=self.name, owner=context["owner"]
            )
            for node_id, node in zip(chunk, data.get("nodes") or [None] * len(chunk), strict=True):
                steps = (node or {}).get("steps") or {}
                if (steps.get("pageInfo") or {}).get("hasNextPage"):
                    failed[node_id] = None
                    continue
                failed[node_id] = [
                    step["name"]
                    for step in steps.get("nodes") or []
                    if step and _lower(step.get("conclusion")) in FAILED_STEP_CONCLUSIONS
                ]
        return failed


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _job_from_check_run(
    check_run: dict[str, Any], attempt: RunAttempt, failed_steps: list[str]
) -> dict[str, Any]:
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
        "duration_seconds": seconds_between(
            check_run.get("startedAt"), check_run.get("completedAt")
        )
        if status == "completed"
        else None,
        "runner_name": None,
        "labels": None,
        "failed_steps": failed_steps,
    }
