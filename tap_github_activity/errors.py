"""Errors the tap raises, each worded so a person can act on it.

GitHubActivityError
├── ConfigError            a setting is wrong: names the setting and the fix
├── AuthenticationError    401: which credential, what to check
├── RequestFailedError     retries exhausted: method, path, status, request id
└── NotAccessibleError     403/404/409/451 on a repository's sub-resource: the stream skips it
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "GitHubActivityError",
    "NotAccessibleError",
    "RequestFailedError",
]


class GitHubActivityError(Exception):
    """Base of every error the tap raises on purpose."""


class ConfigError(GitHubActivityError):
    """A configuration mistake, reported as one line naming the setting."""


class AuthenticationError(GitHubActivityError):
    """GitHub refused a credential (401)."""


class RequestFailedError(GitHubActivityError):
    """A request still failed after every retry."""

    def __init__(
        self, method: str, url: str, status: int | str, request_id: str | None, reason: str
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.request_id = request_id
        self.reason = reason
        super().__init__(
            f"{method} {url} failed: {reason} (status {status}, "
            f"X-GitHub-Request-Id {request_id or 'none'})"
        )


class NotAccessibleError(GitHubActivityError):
    """GitHub will not serve this resource to these credentials (or it does not exist)."""

    def __init__(self, url: str, status: int, message: str) -> None:
        self.url = url
        self.status = status
        self.message = message
        super().__init__(f"{url} answered {status}: {message}")
