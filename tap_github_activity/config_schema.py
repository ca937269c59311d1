"""The tap's settings as a JSON schema: what `--about`, Meltano and the README show.

Their validation is in settings.py.
"""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

__all__ = ["CONFIG_SCHEMA", "DEFAULT_API_URL"]

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_RATE_LIMIT_RESERVE = 200
DEFAULT_REQUEST_TIMEOUT = 60
DEFAULT_MAX_CONCURRENT_REQUESTS = 4
DEFAULT_RETRY_MAX_ATTEMPTS = 30
DEFAULT_RETRY_MAX_SECONDS = 900
DEFAULT_WORKFLOW_RUNS_RERUN_WINDOW_DAYS = 30  # GitHub re-runs runs up to 30 days old
DEFAULT_STATS_MAX_WAIT_SECONDS = 120
DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS = False
DEFAULT_WORKFLOW_RUNS_EARLIER_ATTEMPTS = False
DEFAULT_TRAFFIC_INTERVAL_HOURS = 24
# GitHub serves 14 days of traffic: a read at most 13 days after the last completes its day.
MAX_TRAFFIC_INTERVAL_HOURS = 13 * 24


def _setting(
    name: str,
    kind: th.JSONTypeHelper[Any] | type[th.JSONTypeHelper[Any]],
    title: str,
    description: str,
    **options: Any,
) -> th.Property[Any]:
    return th.Property(name, kind, title=title, description=description, **options)


CONFIG_SCHEMA = th.PropertiesList(
    _setting(
        "auth_token",
        th.StringType,
        "Personal access token",
        "A classic or fine-grained personal access token. Use exactly one credential kind: "
        "auth_token, auth_tokens, or app_id with private_key.",
        secret=True,
    ),
    _setting(
        "auth_tokens",
        th.ArrayType(th.StringType),
        "Personal access tokens",
        "Several tokens: the tap moves to the next one when a token nears its rate limit "
        "and waits for the earliest reset only when all are spent.",
        secret=True,
    ),
    _setting(
        "app_id",
        th.StringType,
        "GitHub App id",
        "The App's id (or client id). With private_key, the tap signs a JWT and exchanges it "
        "for one installation token per organization or user.",
    ),
    _setting(
        "private_key",
        th.StringType,
        "GitHub App private key",
        "The App's private key: PEM text, or the path of a .pem file.",
        secret=True,
    ),
    _setting(
        "installation_id",
        th.IntegerType,
        "GitHub App installation id",
        "Use this one installation for every repository. Without it, the installation is "
        "looked up for each owner, so one App covers several organizations.",
    ),
    _setting(
        "api_url",
        th.StringType,
        "API URL",
        "GitHub's REST API root. GitHub Enterprise Server: https://HOST/api/v3 (GraphQL is "
        "then https://HOST/api/graphql).",
        default=DEFAULT_API_URL,
    ),
    _setting(
        "repositories",
        th.ArrayType(th.StringType),
        "Repositories",
        "owner/name entries, or glob patterns such as owner/* or owner/service-*.",
    ),
    _setting(
        "organizations",
        th.ArrayType(th.StringType),
        "Organizations",
        "Every repository of these organizations.",
    ),
    _setting(
        "users",
        th.ArrayType(th.StringType),
        "Users",
        "Every repository owned by these user accounts.",
    ),
    _setting(
        "exclude_repositories",
        th.ArrayType(th.StringType),
        "Excluded repositories",
        "owner/name glob patterns removed from the selection, e.g. acme/*-archive.",
    ),
    _setting(
        "include_archived",
        th.BooleanType,
        "Include archived repositories",
        "Keep archived repositories in the selection (their history stays queryable).",
        default=True,
    ),
    _setting(
        "include_forks",
        th.BooleanType,
        "Include forks",
        "Keep forked repositories in the selection.",
        default=False,
    ),
    _setting(
        "start_date",
        th.DateTimeType,
        "Start date",
        "ISO 8601 date or time: activity before it is not extracted on the first sync.",
    ),
    _setting(
        "request_timeout",
        th.IntegerType,
        "Request timeout",
        "Seconds to wait for one HTTP response before retrying it.",
        default=DEFAULT_REQUEST_TIMEOUT,
    ),
    _setting(
        "retry_max_seconds",
        th.IntegerType,
        "Retry time budget",
        "Seconds one request may wait in all between its retries after transient failures (5xx, "
        "connection reset, timeout, broken body, GraphQL 'Something went wrong'), with "
        "exponential backoff up to a minute between attempts: the default rides out a "
        "10-minute GitHub incident. Rate-limit waits do not count.",
        default=DEFAULT_RETRY_MAX_SECONDS,
    ),
    _setting(
        "retry_max_attempts",
        th.IntegerType,
        "Retry attempts",
        "Attempts of one request, the first included, before a transient failure is final.",
        default=DEFAULT_RETRY_MAX_ATTEMPTS,
    ),
    _setting(
        "user_agent",
        th.StringType,
        "User agent",
        "User-Agent header sent to GitHub (GitHub asks for one that identifies you).",
    ),
    _setting(
        "rate_limit_reserve",
        th.IntegerType,
        "Rate-limit reserve",
        "Points per token and rate-limit resource left untouched for other users of the "
        "same token: the tap switches token or waits for the reset before going below it.",
        default=DEFAULT_RATE_LIMIT_RESERVE,
    ),
    _setting(
        "max_concurrent_requests",
        th.IntegerType,
        "Maximum concurrent requests",
        "Requests in flight at once, sharing one rate-limit budget (GitHub allows 100).",
        default=DEFAULT_MAX_CONCURRENT_REQUESTS,
    ),
    _setting(
        "workflow_runs_rerun_window_days",
        th.IntegerType,
        "Workflow runs re-run window (days)",
        "Runs created in the last this many days are watched for changes (re-runs, runs "
        "finishing): GitHub re-runs a run up to 30 days after it was created. Each 100 runs "
        "watched cost one conditional request per sync, free when they did not change. "
        "Lower it to watch fewer; changes to older runs are then not seen.",
        default=DEFAULT_WORKFLOW_RUNS_RERUN_WINDOW_DAYS,
    ),
    _setting(
        "workflow_runs_earlier_attempts",
        th.BooleanType,
        "Earlier attempts of re-runs",
        "Also read the earlier attempts of re-run workflow runs that no earlier sync saw as "
        "the latest, with their jobs: 2 REST requests (2 points) per earlier attempt, most "
        "of a first sync's cost where re-runs are common. Off: each run's latest attempt "
        "at each sync, and its jobs.",
        default=DEFAULT_WORKFLOW_RUNS_EARLIER_ATTEMPTS,
    ),
    _setting(
        "workflow_jobs_runner_details",
        th.BooleanType,
        "Workflow job runner details",
        "Read workflow jobs from REST, one request per run attempt, to fill runner_name "
        "and labels. Off: jobs come from GraphQL, about 100 runs per point, and those two "
        "fields are null.",
        default=DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS,
    ),
    _setting(
        "commit_branches",
        th.ArrayType(th.StringType),
        "Commit branches",
        "Branches whose history the commits stream reads: names or glob patterns, * for "
        "all. Default: each repository's default branch.",
    ),
    _setting(
        "include_emails",
        th.BooleanType,
        "Include e-mail addresses",
        "Emit commit author and committer e-mail addresses (personal data: off unless needed).",
        default=False,
    ),
    _setting(
        "include_bodies",
        th.BooleanType,
        "Include bodies",
        "Emit the text of issues and issue comments (off: body is null, to keep free text out "
        "of the warehouse).",
        default=True,
    ),
    _setting(
        "tags",
        th.ArrayType(th.StringType),
        "Tags",
        "Strings added as a tags array to every record of every stream, so that several "
        "configurations (one per team, Meltano inherit_from) can share tables and be told apart.",
    ),
    _setting(
        "traffic_interval_hours",
        th.IntegerType,
        "Traffic interval (hours)",
        "Hours between two reads of a repository's traffic (4 requests), the repositories "
        "spread evenly over the interval so that each run reads its share; GitHub serves 14 "
        "days, so the next read completes a partial day. At most 312; 0: every run.",
        default=DEFAULT_TRAFFIC_INTERVAL_HOURS,
    ),
    _setting(
        "stats_max_wait_seconds",
        th.IntegerType,
        "Statistics maximum wait",
        "Total seconds to keep asking for statistics GitHub is still computing (202) "
        "before leaving them to the next run.",
        default=DEFAULT_STATS_MAX_WAIT_SECONDS,
    ),
    _setting(
        "fail_on_repository_errors",
        th.BooleanType,
        "Fail on repository errors",
        "Exit with code 3 when a stream family of a repository still failed after its retries (the "
        "others are read, their state kept; the next run reads the failed ones again). Off: "
        "exit 0, the failures logged as errors all the same.",
        default=True,
    ),
).to_dict()
