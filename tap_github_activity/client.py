"""The one GitHub client every stream shares.

It decides, in one place, which credential spends a request, when to wait for a rate limit,
what is retried and for how long, and what is fatal (failure_modes.py classifies each answer,
retries.py times the retries, transport.py sends), and it counts every request and every retry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import requests

from tap_github_activity import failure_modes
from tap_github_activity.accounting import RequestLedger
from tap_github_activity.auth import AppInstallations, Credential
from tap_github_activity.clock import Clock
from tap_github_activity.errors import (
    AuthenticationError,
    NotAccessibleError,
    RequestFailedError,
)
from tap_github_activity.failure_modes import NOT_ACCESSIBLE, TransientError, message_of, path_of
from tap_github_activity.ratelimit import PointsPerMinute, RateLimits, resource_of
from tap_github_activity.retries import (
    MAX_SECONDARY_RETRIES,
    SECONDARY_DEFAULT_WAIT,
    Attempts,
    RetryBudget,
    secondary_wait,
)
from tap_github_activity.settings import Settings
from tap_github_activity.transport import Page, Transport, page_of

__all__ = ["GitHubClient", "Page"]

PER_PAGE = 100
APP_STREAM = "app_authentication"

logger = logging.getLogger("tap_github_activity.client")


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
        self.retry_budget = RetryBudget(settings.retry_max_attempts, settings.retry_max_seconds)
        self.transport = Transport(settings)
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
            raise self._refused("GET", page, None)
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
        """Run a GraphQL query. Errors that say it did not finish are retried (request); then
        NOT_FOUND leaves nulls in the data (the caller decides); FORBIDDEN raises
        `NotAccessibleError`; any other error raises `RequestFailedError`. The points GitHub
        charged are checked against the query family's design (cost_check.py), which may lower
        its page-size variable."""
        checks = self.ledger.cost_check
        sent = checks.adjust(query, variables or {})
        body = {"query": query, "variables": sent}
        page = self.request(
            "POST", self.settings.graphql_url, stream=stream, owner=owner, json_body=body
        )
        if page.status >= 400 or not isinstance(page.data, dict):
            raise self._refused("POST", page, body)
        charged = ((page.data.get("data") or {}).get("rateLimit") or {}).get("cost")
        if isinstance(charged, int):
            checks.observe(query, sent, charged)
        errors = [e for e in page.data.get("errors") or [] if e.get("type") != "NOT_FOUND"]
        forbidden = [e for e in errors if e.get("type") == "FORBIDDEN"]
        if forbidden:
            # Like REST's 403: the stream skips this repository and the run goes on.
            raise NotAccessibleError(page.url, 403, str(forbidden[0].get("message")))
        if errors:
            reason = "; ".join(str(e.get("message")) for e in errors)
            raise self._refused("POST", page, body, reason)
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
            raise self._refused("GET", page, None)
        return str(page.data.get("login")), credential

    @property
    def credentials(self) -> list[Credential]:
        """The personal tokens (empty for a GitHub App)."""
        return list(self._tokens)

    @staticmethod
    def _refused(
        method: str, page: Page, body: Any, reason: str | None = None
    ) -> RequestFailedError:
        """A request GitHub answered with a refusal no retry cures."""
        return RequestFailedError(
            method,
            path_of(page.url),
            page.status,
            page.headers.get("x-github-request-id"),
            reason or message_of(page.data),
            repository=failure_modes.repository_of(page.url, body),
        )

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
        attempts = Attempts(method, url, stream, failure_modes.repository_of(url, json_body))
        while True:
            credential = self._credential(owner, resource, stream)
            self._pace(credential, resource, method, stream)
            if self._resume_at > self.clock.now():
                self._pause(stream)
            try:
                response = self.transport.send(
                    method, url, credential, params=params, json_body=json_body, etag=etag
                )
            except TransientError as exc:
                self._count(stream, resource, exc.response, credential)
                self._retry_or_raise(attempts, exc)
                continue
            self._count(stream, resource, response, credential)
            status = response.status_code
            if status == 401:
                if self.app and not attempts.refreshed_app_token:
                    self.app.invalidate(credential)
                    attempts.refreshed_app_token = True
                    continue
                raise AuthenticationError(_unauthorized(credential))
            limit = failure_modes.rate_limit_kind(response, resource)
            if limit == "primary":
                # Another credential may have budget (_credential rotates), else the reset.
                reset = failure_modes.seconds_of(response.headers.get("x-ratelimit-reset")) or 0.0
                if reset <= self.clock.now():
                    # The server's clock is behind ours: wait a minute rather than spin.
                    reset = self.clock.now() + SECONDARY_DEFAULT_WAIT
                self.limits.spend_all(credential.key, resource, reset)
                self.ledger.record_retry(stream, failure_modes.PRIMARY_LIMIT)
                continue
            if limit == "secondary":
                self._wait_secondary(response, attempts)
                continue
            try:
                page = page_of(response, url)
                if resource == "graphql" and status == 200:
                    reason = failure_modes.graphql_transient(page.data)
                    if reason is not None:
                        # Never keep a partial page: the whole query is asked again.
                        raise TransientError(reason, failure_modes.GRAPHQL_ERROR, response)
            except TransientError as exc:
                self._retry_or_raise(attempts, exc)
                continue
            return page

    def _count(
        self, stream: str, resource: str, response: requests.Response | None, credential: Credential
    ) -> None:
        """Count an answer (its budget, its points); the request is no longer in flight."""
        try:
            if response is None:
                return
            answered = response.headers.get("x-ratelimit-resource", resource)
            self.limits.update(credential.key, response.headers, answered)
            self.ledger.record(
                stream, answered, response.status_code, failure_modes.points_of(response, answered)
            )
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

    def _wait_secondary(self, response: requests.Response, attempts: Attempts) -> None:
        seconds = secondary_wait(response, attempts, self.clock.now())
        self.ledger.record_retry(attempts.stream, failure_modes.SECONDARY_LIMIT)
        logger.warning(
            "Secondary rate limit (%s) on %s %s: waiting %.0f s (attempt %d of %d)",
            response.status_code,
            attempts.method,
            path_of(attempts.url),
            seconds,
            attempts.secondary_waits,
            MAX_SECONDARY_RETRIES,
        )
        with self._wait_lock:  # every request pauses until then (see request())
            self._resume_at = max(self._resume_at, self.clock.now() + seconds)
            self._sleep(seconds, attempts.stream)

    def _retry_or_raise(self, attempts: Attempts, exc: TransientError) -> None:
        """Wait before the next attempt, or raise once the retry budget is spent."""
        seconds = self.retry_budget.backoff(attempts, exc)
        self.ledger.record_retry(attempts.stream, exc.mode)
        logger.warning(
            "%s%s %s: %s; retry %d in %.1f s",
            f"{attempts.repository}: " if attempts.repository else "",
            attempts.method,
            path_of(attempts.url),
            exc.reason,
            attempts.failures,
            seconds,
        )
        self._sleep(seconds, attempts.stream)

    def _jwt_request(self, method: str, path: str, token: str) -> tuple[int, Any]:
        """App endpoints (installations, token exchange) authenticated by the JWT; a secondary
        rate limit is waited out and the request asked again, as any other."""
        url = self.url(path)
        jwt_credential = Credential(key="app-jwt", label="GitHub App JWT", token=token)
        attempts = Attempts(method, url, APP_STREAM, None)
        while True:
            try:
                response = self.transport.send(method, url, jwt_credential)
                self.ledger.record(APP_STREAM, "app", response.status_code, 0)
                if failure_modes.rate_limit_kind(response, "app") == "secondary":
                    self._wait_secondary(response, attempts)
                    continue
                try:
                    return response.status_code, response.json()
                except ValueError:
                    raise TransientError(
                        "response body is not JSON", failure_modes.BROKEN_BODY, response
                    ) from None
            except TransientError as exc:
                if exc.response is not None and exc.mode != failure_modes.BROKEN_BODY:
                    self.ledger.record(APP_STREAM, "app", exc.response.status_code, 0)
                self._retry_or_raise(attempts, exc)


def _token_settings(tokens: tuple[str, ...]) -> list[tuple[str, str]]:
    if len(tokens) == 1:
        return [(tokens[0], "auth_token")]
    return [(token, f"auth_tokens[{i}]") for i, token in enumerate(tokens)]


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
