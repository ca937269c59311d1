"""Errors the tap raises, each worded so a person can act on it.

GitHubActivityError
├── ConfigError            a setting is wrong: names the setting and the fix
│   └── UnreachableError   the very first request found no server at api_url
├── AuthenticationError    401: which credential, what to check
├── RequestFailedError     retries exhausted: repository, method, path, status, request id
└── NotAccessibleError     403/404/409/410/451 on a repository's sub-resource: the stream skips it
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "GitHubActivityError",
    "NotAccessibleError",
    "RequestFailedError",
    "UnreachableError",
]


class GitHubActivityError(Exception):
    """Base of every error the tap raises on purpose."""


class ConfigError(GitHubActivityError):
    """A configuration mistake, reported as one line naming the setting."""


class UnreachableError(ConfigError):
    """Nothing answered the run's first request: a wrong api_url, or no network."""


class AuthenticationError(GitHubActivityError):
    """GitHub refused a credential (401)."""


class RequestFailedError(GitHubActivityError):
    """A request still failed after every retry (or failed in a way no retry cures)."""

    def __init__(
        self,
        method: str,
        url: str,
        status: int | str,
        request_id: str | None,
        reason: str,
        *,
        repository: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.request_id = request_id
        self.reason = reason
        self.repository = repository
        where = f"{repository}: " if repository else ""
        super().__init__(
            f"{where}{method} {url} failed: {reason} (status {status}, "
            f"X-GitHub-Request-Id {request_id or 'none'})"
        )


class NotAccessibleError(GitHubActivityError):
    """GitHub will not serve this resource to these credentials (or it does not exist)."""

    def __init__(self, url: str, status: int, message: str) -> None:
        self.url = url
        self.status = status
        self.message = message
        super().__init__(f"{url} answered {status}: {message}")
