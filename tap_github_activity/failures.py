"""What happens to a (repository, family) whose fetch failed: the one place for that policy.

- A repository these credentials may not read is skipped, warned about and counted.
- A configuration or authentication failure (or an error the tap does not expect: a bug) ends
  the run at once.
- Anything else (a request that still failed after the client's retries) fails that repository's
  family only: its streams' state for the repository is put back as it was before the run, so
  the next run reads it again, and the run goes on with every other repository and family. At
  the end each failure is logged as one ERROR line and the run fails in part
  (`PARTIAL_FAILURE_EXIT_CODE`, unless `fail_on_repository_errors` is off).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tap_github_activity.accounting import RunSummary
from tap_github_activity.errors import (
    AuthenticationError,
    ConfigError,
    GitHubActivityError,
    NotAccessibleError,
    RequestFailedError,
)
from tap_github_activity.fetch import Repository

__all__ = [
    "PARTIAL_FAILURE_EXIT_CODE",
    "TRAFFIC_SUMMARY_NAME",
    "Failure",
    "Failures",
    "PartialFailureError",
]

# The tap's exit code when some (repository, family) failed and everything else was read.
PARTIAL_FAILURE_EXIT_CODE = 3
# The name the run summary counts repositories without traffic access under.
TRAFFIC_SUMMARY_NAME = "traffic"
TRAFFIC = "traffic"
# Failures of the whole run: no other repository would fare better.
FATAL = (ConfigError, AuthenticationError)

logger = logging.getLogger("tap_github_activity")


@dataclass
class Failure:
    """One (repository, family) that failed, with the request that failed it."""

    repository: str
    family: str
    streams: list[str] = field(default_factory=list)
    method: str = "-"
    path: str = "-"
    status: str = "-"
    request_id: str = "none"
    reason: str = ""

    @classmethod
    def of(cls, repository: str, family: str, error: GitHubActivityError) -> Failure:
        """The failure `error` describes (a `RequestFailedError` names its request)."""
        if not isinstance(error, RequestFailedError):
            return cls(repository, family, reason=str(error))
        return cls(
            repository,
            family,
            method=error.method,
            path=urlsplit(error.url).path or error.url,
            status=str(error.status),
            request_id=error.request_id or "none",
            reason=error.reason,
        )

    def line(self) -> str:
        """One self-contained line: what failed, the request, GitHub's answer, what happens."""
        return (
            f"{self.repository}: {', '.join(self.streams)} ({self.family}) not read: "
            f"{self.method} {self.path} answered status {self.status} "
            f"(X-GitHub-Request-Id {self.request_id}): {self.reason}; "
            "its bookmarks are kept, the next run reads it again"
        )


class PartialFailureError(GitHubActivityError):
    """The run read everything it could, but some (repository, family) failed."""

    exit_code = PARTIAL_FAILURE_EXIT_CODE


class Failures:
    """The run's failed (repository, family) pairs, and the policy for each failure."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        self.failed: dict[tuple[str, str], Failure] = {}
        self._reported: set[tuple[str, Repository]] = set()

    def handle(
        self,
        stream: str,
        family: str,
        repository: Repository,
        error: Exception,
        *,
        keep_state: Callable[[], None],
    ) -> None:
        """Skip an unreadable repository; record a failed family (after `keep_state` put its
        state back); re-raise what fails the run."""
        if isinstance(error, NotAccessibleError):
            self._skip(stream, family, repository, error)
            return
        if isinstance(error, FATAL) or not isinstance(error, GitHubActivityError):
            raise error
        keep_state()
        key = (repository.full_name, family)
        failure = self.failed.get(key)
        if failure is None:
            failure = self.failed[key] = Failure.of(repository.full_name, family, error)
            logger.warning(
                "%s: %s of %s failed, the run goes on without it: %s",
                stream,
                family,
                repository.full_name,
                error,
            )
        if stream not in failure.streams:
            failure.streams.append(stream)

    def log(self) -> None:
        """Each failure as one ERROR line (the run's end: after the request table)."""
        if not self.failed:
            return
        logger.error(
            "%d repository stream families failed after their retries; everything else was "
            "read and its state saved:",
            len(self.failed),
        )
        for failure in self.failed.values():
            logger.error("%s", failure.line())

    def check(self, *, fail: bool) -> None:
        """Raise `PartialFailureError` when a family failed and the settings say to fail."""
        if self.failed and fail:
            msg = (
                f"{len(self.failed)} repository stream families failed (listed above); exit code "
                f"{PARTIAL_FAILURE_EXIT_CODE} (fail_on_repository_errors)"
            )
            raise PartialFailureError(msg)

    def _skip(
        self, stream: str, family: str, repository: Repository, error: NotAccessibleError
    ) -> None:
        if family == TRAFFIC:
            if (family, repository) in self._reported:
                return
            self._reported.add((family, repository))
            logger.warning(
                "Skipping the traffic of %s: %s answered %s (%s). Traffic needs write access "
                "to the repository (classic token: repo scope; fine-grained token or GitHub "
                "App: Administration read permission).",
                repository.full_name,
                error.url,
                error.status,
                error.message,
            )
            self.summary.skip(
                TRAFFIC_SUMMARY_NAME,
                repository.full_name,
                f"{error.status} {error.message}".strip(),
            )
            return
        logger.warning(
            "%s: skipping %s: %s answered %s (%s)",
            stream,
            repository.full_name,
            error.url,
            error.status,
            error.message,
        )
        self.summary.skip(stream, repository.full_name, str(error.status))
