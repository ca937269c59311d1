"""Workflow runs, one row per attempt, and their jobs: the runs listing (fetch/actions.py) feeds
both streams. The runs GitHub may still change (re-run window, runs not completed) are watched
in ETag'd slices that know the rows they held (fetch/runs_window.py); the bookmark `updated_at`
only judges a slice of a state without them (docs/incremental.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.streams.base import EVENT_UUID, REPOSITORY_CONTEXT
from tap_github_activity.streams.repositories import RepositoryStream

__all__ = ["WorkflowJobsStream", "WorkflowRunsStream"]


# A run's or a job's status (GitHub's values for both).
STATUS = th.Property(
    "status",
    th.StringType,
    description="queued, in_progress, completed, waiting, requested, pending.",
)


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
        STATUS,
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


class WorkflowRunsStream(RepositoryStream):
    """Workflow runs, one row per attempt (primary key id, run_attempt).

    Incremental: new runs, runs finishing, and re-runs up to 30 days after creation (GitHub's
    limit), whatever their dates (a run reaching the listing late too): each watched slice of
    runs keeps a fingerprint of each row it held. Not an attempt re-run again before the next
    sync (GitHub lists the latest only)."""

    name = "workflow_runs"
    family = "actions"
    primary_keys = ("id", "run_attempt")
    replication_key = "updated_at"
    emits_event_uuid = True
    schema = th.PropertiesList(*REPOSITORY_CONTEXT, *_run_properties(), EVENT_UUID).to_dict()
    _signpost: datetime | None = None

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> datetime:
        # singer-sdk's default is the wall clock; the tap's clock is the one tests control.
        if self._signpost is None:
            self._signpost = datetime.fromtimestamp(self.github_tap.clock.now(), tz=timezone.utc)
        return self._signpost


class WorkflowJobsStream(RepositoryStream):
    """The jobs of the run attempts read for workflow_runs (also when it is not selected).

    Incremental: the jobs of every new attempt workflow_runs emits (earlier attempts only with
    workflow_runs_earlier_attempts)."""

    name = "workflow_jobs"
    family = "actions"
    primary_keys = ("id",)
    replication_key = None
    emits_event_uuid = True
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property(
            "id", th.IntegerType, required=True, description="The job's id (its check run's id)."
        ),
        th.Property("run_id", th.IntegerType, description="The workflow run's id."),
        th.Property("run_attempt", th.IntegerType, description="The run attempt it belongs to."),
        th.Property("name", th.StringType, description="The job's name."),
        STATUS,
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
