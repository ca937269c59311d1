"""The one GitHub client every stream shares.

It decides, in one place, which credential spends a request, when to wait for a rate limit,
what is retried and what is fatal, and it counts every request it makes.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import requests

from tap_github_activity.accounting import RequestLedger
from tap_github_activity.auth import AppInstallations, Credential
from tap_github_activity.clock import Clock
from tap_github_activity.errors import (
    AuthenticationError,
    NotAccessibleError,
    RequestFailedError,
)
from tap_github_activity.ratelimit import PointsPerMinute, RateLimits, resource_of
from tap_github_activity.settings import Settings

__all__ = ["GitHubClient", "Page"]

API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_TRANSIENT_RETRIES = 5
MAX_SECONDARY_RETRIES = 10
SECONDARY_DEFAULT_WAIT = 60.0
SECONDARY_WAIT_CAP = 3600.0
BACKOFF_CAP_SECONDS = 60.0
APP_STREAM = "app_authentication"
NOT_ACCESSIBLE = frozenset({403, 404, 409, 410, 451})

logger = logging.getLogger("tap_github_activity.client")


@dataclass
class Page:
    """One answered request: its JSON body (None for 204 and 304) and what follows it."""

    url: str
    status: int
    data: Any
    etag: str | None
    next_url: str | None
    headers: Mapping[str, str]

    @property
    def not_modified(self) -> bool:
        """GitHub answered 304 to our If-None-Match: nothing changed, no point spent."""
        return self.status == 304


class _TransientError(Exception):
    """A failure worth retrying: 5xx, connection trouble, or a broken body."""

    def __init__(self, reason: str, response: requests.Response | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.response = response


class GitHubClient:
    """REST and GraphQL access to GitHub (or GitHub Enterprise Server), shared by every stream."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, ledger: RequestLedger | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.ledger = ledger or RequestLedger()
        self.limits = RateLimits(settings.rate_limit_reserve)
        self.minute_points = PointsPerMinute()
        self._local = threading.local()
        # GitHub allows 100 concurrent requests per user or App; the tap keeps to its setting.
        self._in_flight = threading.BoundedSemaphore(settings.max_concurrent_requests)
        # Waits are taken one thread at a time (a thread finding the wait over goes on), and a
        # secondary limit met by one request pauses every request until `_resume_at`.
        self._wait_lock = threading.Lock()
        self._resume_at = 0.0
        self._tokens = [
            Credential.personal(token, setting)
            for token, setting in _token_settings(settings.tokens)
        ]
        self.app: AppInstallations | None = None
        if settings.app:
            self.app = AppInstallations(
                settings.app.app_id,
                settings.app.private_key,
                settings.app.installation_id,
                self.clock,
                self._jwt_request,
            )

    # -- public API ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URL of an API path (every URL derives from api_url)."""
        return path if path.startswith(("http://", "https://")) else self.settings.api_url + path

    def get(
        self,
        path: str,
        *,
        stream: str,
        owner: str | None = None,
        params: Mapping[str, Any] | None = None,
        etag: str | None = None,
    ) -> Page:
        """GET one page. 403/404/409/410/451 raise `NotAccessibleError` for the stream to handle."""
        page = self.request(
            "GET", self.url(path), stream=stream, owner=owner, params=params, etag=etag
        )
        if page.status in NOT_ACCESSIBLE:
            message = page.data.get("message", "") if isinstance(page.data, dict) else ""
            raise NotAccessibleError(page.url, page.status, message)
        if page.status >= 400:
            raise RequestFailedError(
                "GET",
                page.url,
                page.status,
                page.headers.get("x-github-request-id"),
                _message(page.data),
            )
        return page

    def paginate(
        self,
        path: str,
        *,
        stream: str,
        owner: str | None = None,
        params: Mapping[str, Any] | None = None,
        etag: str | None = None,
    ) -> Iterator[Page]:
        """Every page of a listing, following the Link header; `etag` applies to page one."""
        url: str | None = self.url(path)
        query: dict[str, Any] | None = {"per_page": PER_PAGE, **(params or {})}
        while url:
            page = self.get(url, stream=stream, owner=owner, params=query, etag=etag)
            yield page
            # The next link carries every query parameter already.
            url, query, etag = page.next_url, None, None

    def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        stream: str,
        owner: str | None = None,
    ) -> dict[str, Any]:
        """Run a GraphQL query. NOT_FOUND leaves nulls in the data (the caller decides); FORBIDDEN
        raises `NotAccessibleError`; any other error raises `RequestFailedError`. The points
        GitHub charged are checked against the query family's design (cost_check.py), which may
        lower its page-size variable."""
        checks = self.ledger.cost_check
        sent = checks.adjust(query, variables or {})
        body = {"query": query, "variables": sent}
        page = self.request(
            "POST", self.settings.graphql_url, stream=stream, owner=owner, json_body=body
        )
        if page.status >= 400 or not isinstance(page.data, dict):
            raise RequestFailedError(
                "POST",
                page.url,
                page.status,
                page.headers.get("x-github-request-id"),
                _message(page.data),
            )
        charged = ((page.data.get("data") or {}).get("rateLimit") or {}).get("cost")
        if isinstance(charged, int):
            checks.observe(query, sent, charged)
        errors = [e for e in page.data.get("errors") or [] if e.get("type") != "NOT_FOUND"]
        forbidden = [e for e in errors if e.get("type") == "FORBIDDEN"]
        if forbidden:
            # Like REST's 403: the stream skips this repository and the run goes on.
            raise NotAccessibleError(page.url, 403, str(forbidden[0].get("message")))
        if errors:
            raise RequestFailedError(
                "POST",
                page.url,
                page.status,
                page.headers.get("x-github-request-id"),
                "; ".join(str(e.get("message")) for e in errors),
            )
        return page.data.get("data") or {}

    def viewer(self, stream: str = "connection_test") -> tuple[str, Credential]:
        """Who the credentials are: the login (or App installation) and the credential used."""
        if self.app:
            installations = self.app.installations()
            owner = installations[0][1] if installations else ""
            credential = self.app.credential_for(owner or None)
            return credential.label + (f" on {owner}" if owner else ""), credential
        credential = self._tokens[0]
        page = self.request("GET", self.url("/user"), stream=stream)
        if page.status >= 400:
            raise RequestFailedError(
                "GET",
                page.url,
                page.status,
                page.headers.get("x-github-request-id"),
                _message(page.data),
            )
        return str(page.data.get("login")), credential

    @property
    def credentials(self) -> list[Credential]:
        """The personal tokens (empty for a GitHub App)."""
        return list(self._tokens)

    # -- one request, with every rule of GitHub's ---------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        stream: str,
        owner: str | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        etag: str | None = None,
    ) -> Page:
        """Send one request: wait for budget, retry what is transient, count everything."""
        resource = resource_of(url, self.settings.graphql_url)
        transient_failures = 0
        secondary_waits = 0
        refreshed_app_token = False
        while True:
            credential = self._credential(owner, resource, stream)
            self._pace(credential, resource, method, stream)
            if self._resume_at > self.clock.now():
                self._pause(stream)
            try:
                response = self._send(
                    method, url, credential, params=params, json_body=json_body, etag=etag
                )
            except _TransientError as exc:
                self._count(stream, resource, exc.response, credential)
                transient_failures += 1
                self._retry_or_raise(method, url, exc, transient_failures, stream)
                continue
            self._count(stream, resource, response, credential)
            status = response.status_code
            if status == 401:
                if self.app and not refreshed_app_token:
                    self.app.invalidate(credential)
                    refreshed_app_token = True
                    continue
                raise AuthenticationError(_unauthorized(credential))
            limit = _rate_limit_kind(response, resource)
            if limit == "primary":
                reset = _seconds(response.headers.get("x-ratelimit-reset")) or 0.0
                if reset <= self.clock.now():
                    # The server's clock is behind ours: wait a minute rather than spin.
                    reset = self.clock.now() + SECONDARY_DEFAULT_WAIT
                self.limits.spend_all(credential.key, resource, reset)
                continue
            if limit == "secondary":
                secondary_waits += 1
                self._wait_secondary(response, secondary_waits, method, url, stream)
                continue
            try:
                return _page(response, url)
            except _TransientError as exc:
                transient_failures += 1
                self._retry_or_raise(method, url, exc, transient_failures, stream)

    def _send(
        self,
        method: str,
        url: str,
        credential: Credential,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        etag: str | None = None,
    ) -> requests.Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": self.settings.user_agent,
            "Authorization": credential.authorization,
        }
        if etag:
            headers["If-None-Match"] = etag
        try:
            with self._in_flight:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self.settings.request_timeout,
                )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _TransientError(f"{type(exc).__name__}: {exc}") from None
        except requests.RequestException as exc:
            raise _TransientError(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise _TransientError(f"server error {response.status_code}", response)
        return response

    @property
    def _session(self) -> requests.Session:
        # requests.Session is not thread-safe: one per thread.
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def _count(
        self, stream: str, resource: str, response: requests.Response | None, credential: Credential
    ) -> None:
        """Count an answer (its budget, its points); the request is no longer in flight."""
        try:
            if response is None:
                return
            answered = response.headers.get("x-ratelimit-resource", resource)
            self.limits.update(credential.key, response.headers, answered)
            self.ledger.record(stream, answered, response.status_code, _points(response, answered))
        finally:
            self.limits.release(credential.key, resource)

    # -- choosing a credential and waiting for budget ------------------------------------------

    def _credential(self, owner: str | None, resource: str, stream: str) -> Credential:
        """The first credential with budget above the reserve, its point counted before the
        request is sent; when none has, wait for the earliest reset."""
        while True:
            candidates = [self.app.credential_for(owner)] if self.app else self._tokens
            now = self.clock.now()
            chosen, seconds = self.limits.acquire([c.key for c in candidates], resource, now)
            if chosen is not None:
                return candidates[chosen]
            with self._wait_lock:  # the threads behind find the budget reset and go on
                now = self.clock.now()
                seconds = min(self.limits.wait_seconds(c.key, resource, now) for c in candidates)
                if seconds <= 0:
                    continue
                wake = datetime.fromtimestamp(now + seconds, tz=timezone.utc)
                logger.warning(
                    "Rate limit (%s) spent on %d credential(s), keeping a reserve of %d points: "
                    "sleeping %.0f s, until %s",
                    resource,
                    len(candidates),
                    self.limits.reserve,
                    seconds,
                    wake.strftime("%Y-%m-%d %H:%M:%S UTC"),
                )
                self._sleep(seconds, stream)

    def _pace(self, credential: Credential, resource: str, method: str, stream: str) -> None:
        """Wait while this request would pass GitHub's points-per-minute limit (a GET or a
        GraphQL query is 1 point, a write 5)."""
        points = 1 if method in ("GET", "HEAD", "OPTIONS") or resource == "graphql" else 5
        while True:
            seconds = self.minute_points.take(credential.key, resource, self.clock.now(), points)
            if seconds <= 0:
                return
            logger.info(
                "Secondary rate limit: %d %s points a minute on %s reached: waiting %.1f s",
                self.minute_points.limits[resource],
                resource,
                credential.label,
                seconds,
            )
            self._sleep(seconds, stream)

    def _pause(self, stream: str) -> None:
        """Wait out the pause a secondary limit met by another request set."""
        with self._wait_lock:
            seconds = self._resume_at - self.clock.now()
            if seconds > 0:
                self._sleep(seconds, stream)

    def _sleep(self, seconds: float, stream: str) -> None:
        self.ledger.record_wait(stream, seconds)
        self.clock.sleep(seconds)

    def _wait_secondary(
        self, response: requests.Response, attempt: int, method: str, url: str, stream: str
    ) -> None:
        if attempt > MAX_SECONDARY_RETRIES:
            raise RequestFailedError(
                method,
                _path(url),
                response.status_code,
                response.headers.get("x-github-request-id"),
                f"secondary rate limit persisted after {attempt - 1} waits",
            )
        # GitHub's rule: wait retry-after seconds; else until x-ratelimit-reset when nothing
        # remains; else at least a minute, doubling while the limit persists.
        retry_after = _seconds(response.headers.get("retry-after"))
        reset = _seconds(response.headers.get("x-ratelimit-reset"))
        if retry_after is not None:
            seconds = max(retry_after, 1.0)
        elif reset is not None and response.headers.get("x-ratelimit-remaining") == "0":
            seconds = max(reset - self.clock.now(), 1.0)
        else:
            seconds = min(SECONDARY_DEFAULT_WAIT * 2 ** (attempt - 1), SECONDARY_WAIT_CAP)
        logger.warning(
            "Secondary rate limit (%s) on %s %s: waiting %.0f s (attempt %d of %d)",
            response.status_code,
            method,
            _path(url),
            seconds,
            attempt,
            MAX_SECONDARY_RETRIES,
        )
        with self._wait_lock:  # every request pauses until then (see request())
            self._resume_at = max(self._resume_at, self.clock.now() + seconds)
            self._sleep(seconds, stream)

    def _retry_or_raise(
        self, method: str, url: str, exc: _TransientError, failures: int, stream: str
    ) -> None:
        response = exc.response
        if failures > MAX_TRANSIENT_RETRIES:
            raise RequestFailedError(
                method,
                _path(url),
                response.status_code if response is not None else "none",
                response.headers.get("x-github-request-id") if response is not None else None,
                f"{exc.reason}, still after {MAX_TRANSIENT_RETRIES} retries",
            )
        seconds = min(2 ** (failures - 1), BACKOFF_CAP_SECONDS) * (0.5 + random.random())  # noqa: S311 -- jitter, not cryptography
        logger.warning(
            "%s %s: %s; retry %d of %d in %.1f s",
            method,
            _path(url),
            exc.reason,
            failures,
            MAX_TRANSIENT_RETRIES,
            seconds,
        )
        self._sleep(seconds, stream)

    def _jwt_request(self, method: str, path: str, token: str) -> tuple[int, Any]:
        """App endpoints (installations, token exchange) authenticated by the JWT."""
        url = self.url(path)
        jwt_credential = Credential(key="app-jwt", label="GitHub App JWT", token=token)
        failures = 0
        while True:
            try:
                response = self._send(method, url, jwt_credential)
            except _TransientError as exc:
                if exc.response is not None:
                    self.ledger.record(APP_STREAM, "app", exc.response.status_code, 0)
                failures += 1
                self._retry_or_raise(method, url, exc, failures, APP_STREAM)
                continue
            self.ledger.record(APP_STREAM, "app", response.status_code, 0)
            try:
                return response.status_code, response.json()
            except ValueError:
                failures += 1
                self._retry_or_raise(
                    method,
                    url,
                    _TransientError("response body is not JSON", response),
                    failures,
                    APP_STREAM,
                )


def _token_settings(tokens: tuple[str, ...]) -> list[tuple[str, str]]:
    if len(tokens) == 1:
        return [(tokens[0], "auth_token")]
    return [(token, f"auth_tokens[{i}]") for i, token in enumerate(tokens)]


def _page(response: requests.Response, url: str) -> Page:
    data: Any = None
    if response.status_code in (200, 201) and not response.content:
        raise _TransientError("empty response body", response)
    if response.status_code not in (204, 304) and response.content:
        try:
            data = response.json()
        except ValueError:
            raise _TransientError("response body is not JSON (truncated?)", response) from None
    next_link = response.links.get("next", {}).get("url")
    return Page(
        url=response.url or url,
        status=response.status_code,
        data=data,
        etag=response.headers.get("etag"),
        next_url=next_link,
        headers=response.headers,
    )


def _points(response: requests.Response, resource: str) -> int:
    """The points GitHub charged: none for a 304, for a request refused by a rate limit, for
    /rate_limit, or when the server keeps no rate limit (no x-ratelimit-* headers)."""
    headers = response.headers
    if (
        response.status_code == 304
        or "x-ratelimit-remaining" not in headers
        or urlsplit(response.url or "").path.endswith("/rate_limit")
        or _rate_limit_kind(response, resource) == "primary"
    ):
        return 0
    if resource != "graphql":
        return 1
    try:
        cost = response.json()["data"]["rateLimit"]["cost"]
    except (ValueError, KeyError, TypeError):
        return 1
    return int(cost)


def _rate_limit_kind(response: requests.Response, resource: str) -> str | None:
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


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _message(data: Any) -> str:
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return json.dumps(data)[:200] if data is not None else "no body"


def _unauthorized(credential: Credential) -> str:
    if credential.expires_at is not None:  # an App installation token, fetched just now
        return (
            f"GitHub rejected {credential.label} (401 Bad credentials) even with a fresh "
            "installation token: check that the App is still installed there and not "
            "suspended."
        )
    return (
        f"GitHub rejected {credential.label} (401 Bad credentials): check that the token "
        "is current, not revoked or expired, and copied whole."
    )
