"""One HTTP exchange with GitHub: the headers every request carries, its timeouts, a session per
thread, the cap on requests in flight, the run's first-answer checks, and reading the body into
a `Page`. What to do with the answer (rate limits, retries, refusals) is the client's."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from tap_github_activity import failure_modes
from tap_github_activity.auth import Credential
from tap_github_activity.errors import ConfigError, UnreachableError
from tap_github_activity.failure_modes import TransientError, path_of
from tap_github_activity.settings import Settings

__all__ = ["API_VERSION", "Page", "Transport", "page_of"]

API_VERSION = "2022-11-28"
# Seconds to open a connection: a host that does not answer is known long before a slow
# response would be (request_timeout).
CONNECT_TIMEOUT = 10.0


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


class Transport:
    """Sends requests for the client, from any thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        # GitHub allows 100 concurrent requests per user or App; the tap keeps to its setting.
        self._in_flight = threading.BoundedSemaphore(settings.max_concurrent_requests)
        # Until the first answer, nothing answering is a mistake of api_url or the network;
        # the first answer below 500 shows whether api_url is GitHub's API.
        self._answered = False
        self._api_checked = False

    def send(
        self,
        method: str,
        url: str,
        credential: Credential,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        etag: str | None = None,
    ) -> requests.Response:
        """One HTTP exchange. A 5xx, a broken connection or a timeout raises `TransientError`;
        nothing answering the run's first request raises `UnreachableError`, and a first answer
        that is not GitHub's API `ConfigError`."""
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": self.settings.user_agent,
            "Authorization": credential.authorization,
        }
        if etag:
            headers["If-None-Match"] = etag
        timeout = self.settings.request_timeout
        try:
            with self._in_flight:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
                )
        except requests.RequestException as exc:
            unreachable = failure_modes.unreachable_reason(exc)
            if unreachable is not None and not self._answered:
                msg = (
                    f"cannot reach {self.settings.api_url}: {unreachable}; check api_url and "
                    "the network"
                )
                raise UnreachableError(msg) from None
            raise failure_modes.transient_of_exception(exc) from None
        self._answered = True
        if response.status_code >= 500:
            raise TransientError(
                f"server error {response.status_code}", failure_modes.SERVER_ERROR, response
            )
        if not self._api_checked:
            self._api_checked = True
            if not failure_modes.is_api_answer(response):
                msg = (
                    f"api_url {self.settings.api_url} does not answer like a GitHub API "
                    f"({method} {path_of(url)} answered {response.status_code} with "
                    f"{response.headers.get('content-type') or 'no content type'}): for "
                    "Enterprise Server use https://HOST/api/v3"
                )
                raise ConfigError(msg)
        return response

    @property
    def session(self) -> requests.Session:
        # requests.Session is not thread-safe: one per thread.
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session


def page_of(response: requests.Response, url: str) -> Page:
    """The page of an answer below 500; an empty or broken body raises `TransientError`."""
    data: Any = None
    if response.status_code in (200, 201) and not response.content:
        raise TransientError("empty response body", failure_modes.BROKEN_BODY, response)
    if response.status_code not in (204, 304) and response.content:
        try:
            data = response.json()
        except ValueError:
            raise TransientError(
                "response body is not JSON (truncated?)", failure_modes.BROKEN_BODY, response
            ) from None
    next_link = response.links.get("next", {}).get("url")
    return Page(
        url=response.url or url,
        status=response.status_code,
        data=data,
        etag=response.headers.get("etag"),
        next_url=next_link,
        headers=response.headers,
    )
