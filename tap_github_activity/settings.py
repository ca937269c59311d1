"""The tap's settings, validated (their JSON schema is in config_schema.py).

Validation turns a config mistake into one `ConfigError` line that names the setting and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tap_github_activity.config_checks import refuse_unknown, signing_key
from tap_github_activity.config_schema import (
    CONFIG_SCHEMA,
    DEFAULT_API_URL,
    DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_RATE_LIMIT_RESERVE,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_MAX_ATTEMPTS,
    DEFAULT_RETRY_MAX_SECONDS,
    DEFAULT_STATS_MAX_WAIT_SECONDS,
    DEFAULT_TRAFFIC_INTERVAL_HOURS,
    DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS,
    DEFAULT_WORKFLOW_RUNS_EARLIER_ATTEMPTS,
    DEFAULT_WORKFLOW_RUNS_RERUN_WINDOW_DAYS,
    MAX_TRAFFIC_INTERVAL_HOURS,
)
from tap_github_activity.errors import ConfigError
from tap_github_activity.timestamps import parse_time

__all__ = ["CONFIG_SCHEMA", "DEFAULT_API_URL", "Settings"]


_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_REPO_NAME = r"[A-Za-z0-9._-]{1,100}"
_GLOB_PART = r"[A-Za-z0-9._*?\[\]!-]{1,100}"
_EXACT_ENTRY = re.compile(rf"^{_OWNER}/{_REPO_NAME}$")
_PATTERN_ENTRY = re.compile(rf"^{_GLOB_PART}/{_GLOB_PART}$")
_LOGIN = re.compile(rf"^{_OWNER}$")


@dataclass(frozen=True)
class RepositoryFilter:
    """Which repositories the config selects."""

    exact: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    include_archived: bool = True
    include_forks: bool = False

    @property
    def is_empty(self) -> bool:
        """No explicit selection: every repository the credentials can see."""
        return not (self.exact or self.patterns or self.organizations or self.users)


@dataclass(frozen=True)
class AppSettings:
    """GitHub App credentials."""

    app_id: str
    private_key: str
    installation_id: int | None


@dataclass(frozen=True)
class Settings:
    """Validated settings."""

    tokens: tuple[str, ...]
    app: AppSettings | None
    api_url: str
    graphql_url: str
    selection: RepositoryFilter
    start_date: datetime | None
    request_timeout: int
    user_agent: str
    rate_limit_reserve: int
    max_concurrent_requests: int
    workflow_runs_rerun_window_days: int = DEFAULT_WORKFLOW_RUNS_RERUN_WINDOW_DAYS
    workflow_runs_earlier_attempts: bool = DEFAULT_WORKFLOW_RUNS_EARLIER_ATTEMPTS
    workflow_jobs_runner_details: bool = DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS
    commit_branches: tuple[str, ...] | None = None  # None: each repository's default branch
    include_emails: bool = False
    stats_max_wait_seconds: int = DEFAULT_STATS_MAX_WAIT_SECONDS
    traffic_interval_hours: int = DEFAULT_TRAFFIC_INTERVAL_HOURS
    include_bodies: bool = True
    tags: tuple[str, ...] = ()
    retry_max_attempts: int = DEFAULT_RETRY_MAX_ATTEMPTS
    retry_max_seconds: int = DEFAULT_RETRY_MAX_SECONDS
    fail_on_repository_errors: bool = True

    @classmethod
    def from_config(
        cls, config: dict[str, Any], *, version: str, builtin: Iterable[str] = ()
    ) -> Settings:
        """Validate `config`, raising one `ConfigError` line for the first mistake. `builtin`:
        the settings singer-sdk itself reads (stream maps, flattening, ...), also allowed."""
        refuse_unknown(config, sorted(CONFIG_SCHEMA["properties"]), builtin)
        tokens, app = _credentials(config)
        api_url = _api_url(config.get("api_url") or DEFAULT_API_URL)
        return cls(
            tokens=tokens,
            app=app,
            api_url=api_url,
            graphql_url=graphql_url_for(api_url),
            selection=_selection(config),
            start_date=_start_date(config.get("start_date")),
            request_timeout=_positive(config, "request_timeout", DEFAULT_REQUEST_TIMEOUT),
            user_agent=config.get("user_agent") or f"tap-github-activity/{version}",
            rate_limit_reserve=_non_negative(
                config, "rate_limit_reserve", DEFAULT_RATE_LIMIT_RESERVE
            ),
            max_concurrent_requests=_positive(
                config, "max_concurrent_requests", DEFAULT_MAX_CONCURRENT_REQUESTS
            ),
            workflow_runs_rerun_window_days=_at_most(
                config,
                "workflow_runs_rerun_window_days",
                DEFAULT_WORKFLOW_RUNS_RERUN_WINDOW_DAYS,
                DEFAULT_WORKFLOW_RUNS_RERUN_WINDOW_DAYS,
                "GitHub re-runs no older run",
            ),
            workflow_runs_earlier_attempts=_flag(
                config, "workflow_runs_earlier_attempts", DEFAULT_WORKFLOW_RUNS_EARLIER_ATTEMPTS
            ),
            workflow_jobs_runner_details=_flag(
                config, "workflow_jobs_runner_details", DEFAULT_WORKFLOW_JOBS_RUNNER_DETAILS
            ),
            commit_branches=_branches(config.get("commit_branches")),
            include_emails=_flag(config, "include_emails", default=False),
            stats_max_wait_seconds=_non_negative(
                config, "stats_max_wait_seconds", DEFAULT_STATS_MAX_WAIT_SECONDS
            ),
            traffic_interval_hours=_at_most(
                config,
                "traffic_interval_hours",
                DEFAULT_TRAFFIC_INTERVAL_HOURS,
                MAX_TRAFFIC_INTERVAL_HOURS,
                "13 days: GitHub serves 14 days of traffic, a longer interval would lose days",
            ),
            include_bodies=_flag(config, "include_bodies", default=True),
            tags=_tags(config.get("tags")),
            retry_max_attempts=_positive(config, "retry_max_attempts", DEFAULT_RETRY_MAX_ATTEMPTS),
            retry_max_seconds=_non_negative(config, "retry_max_seconds", DEFAULT_RETRY_MAX_SECONDS),
            fail_on_repository_errors=_flag(config, "fail_on_repository_errors", default=True),
        )


def graphql_url_for(api_url: str) -> str:
    """GitHub.com serves GraphQL at /graphql; GitHub Enterprise Server at /api/graphql."""
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/v3")] + "/graphql"
    return api_url + "/graphql"


def _credentials(config: dict[str, Any]) -> tuple[tuple[str, ...], AppSettings | None]:
    token = config.get("auth_token")
    tokens = config.get("auth_tokens")
    app_id, private_key = config.get("app_id"), config.get("private_key")
    kinds = [
        kind
        for kind, given in (
            ("auth_token", token),
            ("auth_tokens", tokens),
            ("app_id/private_key", app_id or private_key),
        )
        if given
    ]
    if not kinds:
        msg = (
            "No credentials: set auth_token (a personal access token), auth_tokens (several), "
            "or app_id with private_key (a GitHub App)."
        )
        raise ConfigError(msg)
    if len(kinds) > 1:
        msg = f"Credentials of several kinds are set ({', '.join(kinds)}): keep exactly one."
        raise ConfigError(msg)
    if token:
        return (_token("auth_token", token),), None
    if tokens:
        if not isinstance(tokens, list):
            msg = "auth_tokens must be a list of tokens."
            raise ConfigError(msg)
        return tuple(_token(f"auth_tokens[{i}]", t) for i, t in enumerate(tokens)), None
    if not app_id or not private_key:
        missing = "private_key" if app_id else "app_id"
        msg = f"GitHub App credentials need both app_id and private_key: {missing} is missing."
        raise ConfigError(msg)
    installation_id = config.get("installation_id")
    if installation_id is not None and (
        not isinstance(installation_id, int) or installation_id <= 0
    ):
        msg = "installation_id must be a positive integer (see the App's installation URL)."
        raise ConfigError(msg)
    return (), AppSettings(str(app_id), _private_key(private_key), installation_id)


def _token(setting: str, token: object) -> str:
    if not isinstance(token, str) or not token.strip() or any(c.isspace() for c in token.strip()):
        msg = f"{setting} is not a token: expected one string without spaces."
        raise ConfigError(msg)
    return token.strip()


def _private_key(value: str) -> str:
    if "-----BEGIN" in value:
        return signing_key(value.replace("\\n", "\n"), "private_key")
    path = Path(value).expanduser()
    if not path.is_file():
        msg = (
            f"private_key is neither PEM text nor a readable file: {value!r} "
            "(paste the key or give the .pem file's path)."
        )
        raise ConfigError(msg)
    text = path.read_text()
    if "-----BEGIN" not in text:
        msg = f"private_key file {str(path)!r} holds no PEM key."
        raise ConfigError(msg)
    return signing_key(text, f"private_key file {str(path)!r}")


def _api_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+(/[^\s]*)?$", value):
        msg = (
            f"api_url {value!r} is not a URL: use https://api.github.com, or "
            "https://HOST/api/v3 for GitHub Enterprise Server."
        )
        raise ConfigError(msg)
    if urlsplit(value).hostname in ("github.com", "www.github.com"):
        msg = f"api_url {value!r} is GitHub's web site, not its API: use https://api.github.com."
        raise ConfigError(msg)
    return value.rstrip("/")


def _logins(config: dict[str, Any], setting: str) -> tuple[str, ...]:
    values = config.get(setting) or []
    for value in values:
        if not isinstance(value, str) or not _LOGIN.match(value):
            msg = f"{setting} entry {value!r} is not a GitHub login (letters, digits, hyphens)."
            raise ConfigError(msg)
    return tuple(values)


def _patterns(config: dict[str, Any], setting: str) -> tuple[str, ...]:
    values = config.get(setting) or []
    for value in values:
        if not isinstance(value, str) or not _PATTERN_ENTRY.match(value):
            msg = (
                f"{setting} entry {value!r} is malformed: write owner/name, "
                "or a pattern such as owner/* or owner/api-*."
            )
            raise ConfigError(msg)
    return tuple(values)


def _selection(config: dict[str, Any]) -> RepositoryFilter:
    entries = _patterns(config, "repositories")
    return RepositoryFilter(
        exact=tuple(e for e in entries if _EXACT_ENTRY.match(e)),
        patterns=tuple(e for e in entries if not _EXACT_ENTRY.match(e)),
        organizations=_logins(config, "organizations"),
        users=_logins(config, "users"),
        excluded=_patterns(config, "exclude_repositories"),
        include_archived=bool(config.get("include_archived", True)),
        include_forks=bool(config.get("include_forks", False)),
    )


def _start_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        msg = f"start_date {value!r} is not an ISO 8601 date, e.g. 2024-01-01T00:00:00Z."
        raise ConfigError(msg) from None


def _positive(config: dict[str, Any], setting: str, default: int) -> int:
    value = config.get(setting, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        msg = f"{setting} must be a positive whole number, not {value!r}."
        raise ConfigError(msg)
    return value


def _at_most(config: dict[str, Any], setting: str, default: int, maximum: int, why: str) -> int:
    """A whole number from 0 to `maximum`; `why` says where the maximum comes from."""
    value = _non_negative(config, setting, default)
    if value > maximum:
        msg = f"{setting} must be at most {maximum} ({why}), not {value}."
        raise ConfigError(msg)
    return value


def _non_negative(config: dict[str, Any], setting: str, default: int) -> int:
    value = config.get(setting, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        msg = f"{setting} must be zero or a positive whole number, not {value!r}."
        raise ConfigError(msg)
    return value


def _flag(config: dict[str, Any], setting: str, default: bool) -> bool:
    value = config.get(setting, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        msg = f"{setting} must be true or false, not {value!r}."
        raise ConfigError(msg)
    return value


def _tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        msg = f'tags must be a list of non-empty strings, e.g. ["team-a"], not {value!r}.'
        raise ConfigError(msg)
    return tuple(value)


def _branches(value: object) -> tuple[str, ...] | None:
    if not value:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        msg = f"commit_branches must be a list of branch names or patterns, not {value!r}."
        raise ConfigError(msg)
    return tuple(value)
