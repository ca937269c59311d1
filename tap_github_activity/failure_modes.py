"""What each of GitHub's answers means for the request that got it: the one classification of
failures, used by the client alone.

    transient (retried with backoff)  5xx (JSON or HTML), connection reset/refused mid-run,
                                      read timeout, truncated or non-JSON body, GraphQL 200
                                      whose errors say "Something went wrong" / timeout /
                                      INTERNAL (with or without partial data: the whole query
                                      is asked again, the partial page never kept)
    rate limited (waited out)         primary: 403/429 with x-ratelimit-remaining 0, GraphQL
                                      RATE_LIMITED; secondary: 403/429 with retry-after or
                                      GitHub's documented message
    per object (the caller skips it)  REST 403/404/409/410/451, GraphQL NOT_FOUND/FORBIDDEN
    fatal for the run                 401 that a fresh token does not cure; nothing answering
                                      the first request; a first answer that is not GitHub's
                                      API; any other 4xx or GraphQL error (a bug of ours)
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = [
    "NOT_ACCESSIBLE",
    "TransientError",
    "graphql_transient",
    "is_api_answer",
    "message_of",
    "path_of",
    "points_of",
    "rate_limit_kind",
    "repository_of",
    "seconds_of",
    "transient_of_exception",
    "unreachable_reason",
]

NOT_ACCESSIBLE = frozenset({403, 404, 409, 410, 451})

# Retry modes, as counted in the run's summary.
SERVER_ERROR = "server_error"
CONNECTION = "connection"
TIMEOUT = "timeout"
BROKEN_BODY = "broken_body"
GRAPHQL_ERROR = "graphql_error"
SECONDARY_LIMIT = "secondary_limit"
PRIMARY_LIMIT = "primary_limit"

# GraphQL errors that say the query did not finish, not that it is wrong.
_TRANSIENT_GRAPHQL_TYPES = frozenset({"INTERNAL", "TIMEOUT", "SERVICE_UNAVAILABLE"})
_TRANSIENT_GRAPHQL_MESSAGE = re.compile(
    r"something went wrong|timeout|timed out|try again", re.IGNORECASE
)
_REPOSITORY_PATH = re.compile(r"/repos/([^/]+)/([^/?]+)")


class TransientError(Exception):
    """A failure worth retrying; `mode` says which kind (SERVER_ERROR, CONNECTION, ...)."""

    def __init__(self, reason: str, mode: str, response: requests.Response | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mode = mode
        self.response = response


def transient_of_exception(exc: requests.RequestException) -> TransientError:
    """A request that got no complete answer: timeout, connection trouble, or a body cut off."""
    if isinstance(exc, requests.ReadTimeout):
        return TransientError(f"no answer within the timeout ({exc})", TIMEOUT)
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return TransientError(f"response body cut off ({_innermost(exc)})", BROKEN_BODY)
    return TransientError(f"connection failed ({_innermost(exc)})", CONNECTION)


def unreachable_reason(exc: requests.RequestException) -> str | None:
    """Why nothing could be reached (DNS failure, connection refused, connect timeout), or None
    when a server was reached (the failure is then worth retrying)."""
    if isinstance(exc, requests.ConnectionError | requests.ConnectTimeout) and not isinstance(
        exc, requests.ReadTimeout
    ):
        text = _innermost(exc)
        if "Connection aborted" in text or "RemoteDisconnected" in text or "reset" in text:
            return None  # a server answered the connection, then dropped it
        return text
    return None


def _innermost(exc: BaseException) -> str:
    """The message of the deepest cause (urllib3 wraps the socket error two or three times),
    without urllib3's "HTTPConnection(host=..., port=...): " prefix."""
    inner: BaseException = exc
    while True:
        reason = getattr(inner, "reason", None)
        nested = inner.args[0] if inner.args and isinstance(inner.args[0], BaseException) else None
        following = reason if isinstance(reason, BaseException) else nested
        if following is None or following is inner:
            break
        inner = following
    text = str(inner)
    return (
        text.split("): ", 1)[1]
        if text.startswith(("HTTPConnection", "HTTPSConnection")) and "): " in text
        else text
    )


def is_api_answer(response: requests.Response) -> bool:
    """Whether an answer (below 500) can come from GitHub's API: JSON, or no body. A web site
    (GitHub Enterprise Server without /api/v3) answers HTML."""
    if response.status_code in (204, 304) or not response.content:
        return True
    return "json" in response.headers.get("content-type", "").lower()


def graphql_transient(data: Any) -> str | None:
    """Why a GraphQL answer (HTTP 200) must be asked again, or None: errors saying the query
    did not finish, or a body that is not a GraphQL answer at all."""
    if not isinstance(data, dict) or ("data" not in data and "errors" not in data):
        return "GraphQL answer without data or errors"
    for error in data.get("errors") or []:
        if not isinstance(error, dict):
            return "GraphQL errors of an unknown shape"
        if error.get("type") in _TRANSIENT_GRAPHQL_TYPES or (
            "type" not in error and _TRANSIENT_GRAPHQL_MESSAGE.search(str(error.get("message")))
        ):
            return f"GraphQL error: {error.get('message')}"
    if data.get("data") is None and not data.get("errors"):
        return "GraphQL answer with null data and no error"
    return None


def points_of(response: requests.Response, resource: str) -> int:
    """The points GitHub charged: none for a 304, for a request refused by a rate limit, for
    /rate_limit, or when the server keeps no rate limit (no x-ratelimit-* headers)."""
    headers = response.headers
    if (
        response.status_code == 304
        or "x-ratelimit-remaining" not in headers
        or urlsplit(response.url or "").path.endswith("/rate_limit")
        or rate_limit_kind(response, resource) == "primary"
    ):
        return 0
    if resource != "graphql":
        return 1
    try:
        cost = response.json()["data"]["rateLimit"]["cost"]
    except (ValueError, KeyError, TypeError):
        return 1
    return int(cost)


def rate_limit_kind(response: requests.Response, resource: str) -> str | None:
    """ "primary" (the hourly budget is spent), "secondary", or None (not rate limited).
    REST says so with 403/429; GraphQL may answer 200 with an error of type RATE_LIMITED."""
    status = response.status_code
    if status in (403, 429) and _is_primary_limit(response):
        return "primary"
    if status == 429 or (status == 403 and _is_secondary_limit(response)):
        return "secondary"
    if resource == "graphql" and status == 200:
        message = _graphql_rate_limited(response)
        if message is not None:
            return "secondary" if "secondary" in message.lower() else "primary"
    return None


def _graphql_rate_limited(response: requests.Response) -> str | None:
    """The message of a GraphQL RATE_LIMITED error, if the body has one."""
    if b"RATE_LIMITED" not in response.content:
        return None
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return None
    for error in errors:
        if isinstance(error, dict) and error.get("type") == "RATE_LIMITED":
            return str(error.get("message", ""))
    return None


def _is_primary_limit(response: requests.Response) -> bool:
    """403/429 because the credential's hourly budget is spent (not a secondary limit)."""
    return (
        response.headers.get("x-ratelimit-remaining") == "0"
        and "retry-after" not in response.headers
        and not _is_secondary_limit(response)
    )


def _is_secondary_limit(response: requests.Response) -> bool:
    """GitHub's secondary limit: a retry-after header, or its documented message."""
    if "retry-after" in response.headers:
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    return "secondary rate limit" in message.lower() or "abuse" in message.lower()


def seconds_of(value: str | None) -> float | None:
    """A header's number of seconds (retry-after, x-ratelimit-reset), if it is one."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def path_of(url: str) -> str:
    """The URL's path and query, as error messages show it."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def repository_of(url: str, body: Any) -> str | None:
    """The repository (owner/name) a request is about, when it says: its REST path, or its
    GraphQL variables."""
    found = _REPOSITORY_PATH.search(urlsplit(url).path)
    if found:
        return f"{found.group(1)}/{found.group(2)}"
    variables = body.get("variables") if isinstance(body, dict) else None
    if isinstance(variables, dict) and variables.get("owner") and variables.get("name"):
        return f"{variables['owner']}/{variables['name']}"
    return None


def message_of(data: Any) -> str:
    """GitHub's error message of a body, or the body's start."""
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return json.dumps(data)[:200] if data is not None else "no body"
