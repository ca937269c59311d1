"""Errors the target raises on purpose, each one line a person can act on.

PostHogTargetError
├── ConfigError          a setting is wrong: names it and the fix
├── AuthenticationError  401: the api_key setting was refused
└── CaptureFailedError   a batch was refused, or retries ran out
"""

from __future__ import annotations

__all__ = ["AuthenticationError", "CaptureFailedError", "ConfigError", "PostHogTargetError"]


class PostHogTargetError(Exception):
    """Base of every error the target raises on purpose."""


class ConfigError(PostHogTargetError):
    """A configuration mistake, reported as one line naming the setting."""


class AuthenticationError(PostHogTargetError):
    """PostHog refused the project API key (401)."""


class CaptureFailedError(PostHogTargetError):
    """A batch was refused for good, or still failed after every retry."""
