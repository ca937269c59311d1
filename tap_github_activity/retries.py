"""How long one request waits before it is sent again, and when it is given up: exponential
backoff with jitter for transient failures, bounded by the retry budget (attempts and seconds of
waiting, both settings), and GitHub's rule for secondary rate limits. Decisions only: the client
sleeps, logs and counts."""

from __future__ import annotations

import random
from dataclasses import dataclass

import requests

from tap_github_activity.errors import RequestFailedError
from tap_github_activity.failure_modes import TransientError, path_of, seconds_of

__all__ = ["Attempts", "RetryBudget", "secondary_wait"]

MAX_SECONDARY_RETRIES = 10
SECONDARY_DEFAULT_WAIT = 60.0
SECONDARY_WAIT_CAP = 3600.0
BACKOFF_CAP_SECONDS = 60.0


@dataclass
class Attempts:
    """One request's history: its transient failures, the seconds it waited between them (its
    own backoff: concurrent requests' waits and rate-limit waits do not count), and its
    secondary-limit waits."""

    method: str
    url: str
    stream: str
    repository: str | None
    failures: int = 0
    backoff_seconds: float = 0.0
    secondary_waits: int = 0
    refreshed_app_token: bool = False

    def failed(self, response: requests.Response | None, reason: str) -> RequestFailedError:
        """The error that ends this request: repository, method, path, status, request id."""
        return RequestFailedError(
            self.method,
            path_of(self.url),
            response.status_code if response is not None else "none",
            response.headers.get("x-github-request-id") if response is not None else None,
            reason,
            repository=self.repository,
        )


@dataclass(frozen=True)
class RetryBudget:
    """retry_max_attempts and retry_max_seconds."""

    max_attempts: int
    max_seconds: float

    def backoff(self, attempts: Attempts, exc: TransientError) -> float:
        """Count a transient failure and return the seconds to wait before the next attempt (1,
        2, 4, ... at most a minute, each +-50% at random), or raise once the budget is spent."""
        attempts.failures += 1
        backoff = min(2.0 ** (attempts.failures - 1), BACKOFF_CAP_SECONDS)
        seconds = backoff * (0.5 + random.random())  # noqa: S311 -- jitter, not cryptography
        if (
            attempts.failures >= self.max_attempts
            or attempts.backoff_seconds + seconds > self.max_seconds
        ):
            raise attempts.failed(
                exc.response,
                f"{exc.reason}; still failing after {attempts.failures} attempts and "
                f"{attempts.backoff_seconds:.0f} s of waiting (retry_max_attempts "
                f"{self.max_attempts}, retry_max_seconds {self.max_seconds:g})",
            )
        attempts.backoff_seconds += seconds
        return seconds


def secondary_wait(response: requests.Response, attempts: Attempts, now: float) -> float:
    """Count a secondary rate limit and return the seconds GitHub asks to wait, or raise when
    it persists past MAX_SECONDARY_RETRIES waits. GitHub's rule: retry-after seconds; else
    until x-ratelimit-reset when nothing remains; else at least a minute, doubling while the
    limit persists."""
    attempts.secondary_waits += 1
    attempt = attempts.secondary_waits
    if attempt > MAX_SECONDARY_RETRIES:
        raise attempts.failed(response, f"secondary rate limit persisted after {attempt - 1} waits")
    retry_after = seconds_of(response.headers.get("retry-after"))
    reset = seconds_of(response.headers.get("x-ratelimit-reset"))
    if retry_after is not None:
        return max(retry_after, 1.0)
    if reset is not None and response.headers.get("x-ratelimit-remaining") == "0":
        return max(reset - now, 1.0)
    return min(SECONDARY_DEFAULT_WAIT * 2.0 ** (attempt - 1), SECONDARY_WAIT_CAP)
