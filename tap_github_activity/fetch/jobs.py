"""Workflow jobs of emitted run attempts: GraphQL for latest attempts, REST where it must.

GraphQL `nodes(ids:)` of up to 100 runs per query, `checkSuite.checkRuns(first: 30)` (1 point
per 100 runs), then the steps of unsuccessful jobs only (1 point per 100 jobs); `runner_name`
and `labels` are null (GraphQL's CheckRun has neither). REST GET .../attempts/{n}/jobs, one
request per attempt: earlier attempts (a check suite lists only the latest), runs of more than
30 jobs, jobs of more than 50 steps, and every attempt with `workflow_jobs_runner_details`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tap_github_activity.cost_check import QueryFamily, register
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.fetch import Request
from tap_github_activity.records import flatten, seconds_between

__all__ = ["JOBS", "JOB_FIELDS", "RunAttempt", "fetch_jobs"]

JOBS = "workflow_jobs"
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

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunAttempt:
    """An emitted run attempt whose jobs are to be read."""

    run_id: int
    attempt: int
    node_id: str
    latest: bool


def fetch_jobs(request: Request, attempts: list[RunAttempt]) -> list[dict[str, Any]]:
    """The jobs of a batch of attempts."""
    records: list[dict[str, Any]] = []
    by_rest = attempts
    if not request.settings.workflow_jobs_runner_details:
        latest = [a for a in attempts if a.latest]
        by_rest = [a for a in attempts if not a.latest]
        if latest:
            by_rest += _graphql_jobs(request, latest, records)
    for attempt in by_rest:
        records += _rest_jobs(request, attempt)
    return records


def _rest_jobs(request: Request, attempt: RunAttempt) -> list[dict[str, Any]]:
    """One attempt's jobs from REST."""
    repository = request.repository
    path = (
        f"/repos/{repository.owner}/{repository.name}/actions/runs/{attempt.run_id}"
        f"/attempts/{attempt.attempt}/jobs"
    )
    records = []
    runner = request.settings.workflow_jobs_runner_details
    try:
        for page in request.client.paginate(path, stream=JOBS, owner=repository.owner):
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
        logger.warning(
            "%s: %s: run %s attempt %d has no jobs any more (404)",
            JOBS,
            repository.full_name,
            attempt.run_id,
            attempt.attempt,
        )
    return records


def _graphql_jobs(
    request: Request, attempts: list[RunAttempt], records: list[dict[str, Any]]
) -> list[RunAttempt]:
    """Jobs of the latest attempts, into `records`: one query per 100 runs, then one per 100
    unsuccessful jobs for their steps. Returns the attempts GraphQL could not give whole (more
    than 30 jobs, or a job of more than 50 steps), for REST."""
    fallback: list[RunAttempt] = []
    owner = request.repository.owner
    checks = request.client.ledger.cost_check
    offset = 0
    while offset < len(attempts):
        chunk = attempts[offset : offset + checks.size("WorkflowJobs", NODES_PER_QUERY)]
        offset += len(chunk)
        data = request.client.graphql(
            JOBS_QUERY, {"ids": [a.node_id for a in chunk]}, stream=JOBS, owner=owner
        )
        nodes = data.get("nodes") or [None] * len(chunk)
        found: list[tuple[RunAttempt, list[dict[str, Any]]]] = []
        for attempt, node in zip(chunk, nodes, strict=True):
            if node is None:
                logger.warning(
                    "%s: %s: run %s is gone", JOBS, request.repository.full_name, attempt.run_id
                )
                continue
            check_runs = (node.get("checkSuite") or {}).get("checkRuns") or {}
            if (check_runs.get("pageInfo") or {}).get("hasNextPage"):
                fallback.append(attempt)
                continue
            found.append((attempt, [run for run in check_runs.get("nodes") or [] if run]))
        steps = _failed_steps(
            request,
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
    request: Request, check_runs: list[dict[str, Any]]
) -> dict[str, list[str] | None]:
    """Check run node id -> names of its failed steps (None: more than one page)."""
    failed: dict[str, list[str] | None] = {}
    ids = [run["id"] for run in check_runs]
    checks = request.client.ledger.cost_check
    offset = 0
    while offset < len(ids):
        chunk = ids[offset : offset + checks.size("WorkflowJobSteps", NODES_PER_QUERY)]
        offset += len(chunk)
        data = request.client.graphql(
            STEPS_QUERY, {"ids": chunk}, stream=JOBS, owner=request.repository.owner
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
