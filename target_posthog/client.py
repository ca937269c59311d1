"""PostHog's capture API: events packed into gzipped `POST /batch/` bodies under the size limit,
sent with bounded retries.

Retried, with exponential backoff and jitter: 429 and 5xx (at least as long as Retry-After says),
connection errors and timeouts. Resending is safe: PostHog keeps one event per uuid, event name,
timestamp and distinct id. 413 splits the body in two. 401 is the api_key setting; any other 4xx
is a refusal to report.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import requests

from target_posthog.errors import AuthenticationError, CaptureFailedError
from target_posthog.events import encode

__all__ = ["MAX_BODY_BYTES", "CaptureClient", "CaptureStats", "pack"]

# PostHog refuses bodies over 20 MB; the limit is checked on the JSON before compression, so it
# holds whichever size PostHog measures.
MAX_BODY_BYTES = 20_000_000

# Backoff: 1 s doubling to at most 60 s, each wait drawn between half and all of it.
_BACKOFF_BASE = 1.0
_BACKOFF_CAP = 60.0
# A Retry-After beyond this is a sign of a misconfigured proxy, not of load: fail instead.
_RETRY_AFTER_CAP = 600.0


@dataclass
class CaptureStats:
    """What the target sent, over every sink (drains run in threads)."""

    events: int = 0
    batches: int = 0
    body_bytes: int = 0
    sent_bytes: int = 0
    retries: int = 0
    unsent: int = 0  # records that could not be events (no uuid, timestamp or distinct id)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, *, events: int = 0, body_bytes: int = 0, sent_bytes: int = 0) -> None:
        """Count one accepted body."""
        with self._lock:
            self.events += events
            self.batches += 1
            self.body_bytes += body_bytes
            self.sent_bytes += sent_bytes

    def not_sent(self) -> None:
        """Count one record that could not become an event."""
        with self._lock:
            self.unsent += 1

    def retried(self) -> None:
        """Count one retried request."""
        with self._lock:
            self.retries += 1


def _header(api_key: str, historical: bool) -> bytes:
    flag = b',"historical_migration":true' if historical else b""
    return b'{"api_key":' + encode(api_key) + flag + b',"batch":['


def pack(events: Sequence[bytes], header: bytes, max_body: int) -> Iterator[list[bytes]]:
    """Events grouped into bodies of at most `max_body` bytes, in order."""
    group: list[bytes] = []
    size = len(header) + 2
    for event in events:
        if group and size + len(event) + 1 > max_body:
            yield group
            group, size = [], len(header) + 2
        group.append(event)
        size += len(event) + 1
    if group:
        yield group


class CaptureClient:
    """Sends events to `{host}/batch/` with one project API key."""

    def __init__(
        self,
        host: str,
        api_key: str,
        *,
        stats: CaptureStats,
        logger: logging.Logger,
        max_body_bytes: int = 5_000_000,
        max_retries: int = 8,
        timeout: float = 60.0,
    ) -> None:
        self.url = host.rstrip("/") + "/batch/"
        self.api_key = api_key
        self.stats = stats
        self.logger = logger
        self.max_body_bytes = max_body_bytes
        self.max_retries = max_retries
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "User-Agent": "target-posthog (tap-github-activity)",
            }
        )

    def send(self, events: Sequence[bytes], *, historical: bool) -> None:
        """Send every event; returns once PostHog has accepted them all."""
        header = _header(self.api_key, historical)
        for group in pack(events, header, self.max_body_bytes):
            self._send_body(group, header)

    def _send_body(self, group: list[bytes], header: bytes) -> None:
        body = header + b",".join(group) + b"]}"
        compressed = gzip.compress(body, compresslevel=6)
        response = self._post(compressed, len(group))
        if response.status_code == 413 and len(group) > 1:
            self.logger.warning(
                "PostHog refused a body of %d bytes (%d events) as too large (413): "
                "sending it in two halves",
                len(body),
                len(group),
            )
            middle = len(group) // 2
            self._send_body(group[:middle], header)
            self._send_body(group[middle:], header)
            return
        if response.status_code == 401:
            raise AuthenticationError(
                f"PostHog refused the api_key setting (401 at {self.url}): use the project API "
                "key (phc_...) from the project's settings, and set host to that project's "
                "instance (https://us.i.posthog.com, https://eu.i.posthog.com or your own)."
            )
        if response.status_code >= 400:
            raise CaptureFailedError(
                f"POST {self.url} refused {len(group)} events ({len(body)} bytes): "
                f"status {response.status_code}: {response.text[:300]}"
            )
        self.stats.add(events=len(group), body_bytes=len(body), sent_bytes=len(compressed))

    def _post(self, data: bytes, count: int) -> requests.Response:
        """POST with retries; the last answer, or CaptureFailedError when retries run out."""
        for attempt in range(self.max_retries + 1):
            problem, retry_after = "", 0.0
            try:
                response = self.session.post(self.url, data=data, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                problem = f"status {response.status_code}"
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt == self.max_retries:
                break
            if retry_after > _RETRY_AFTER_CAP:
                raise CaptureFailedError(
                    f"POST {self.url}: {problem} with Retry-After {retry_after:.0f} s, "
                    f"more than the {_RETRY_AFTER_CAP:.0f} s the target waits"
                )
            backoff = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)
            wait = max(retry_after, backoff * random.uniform(0.5, 1.0))  # noqa: S311 -- jitter
            self.logger.warning(
                "POST %s (%d events): %s; retry %d of %d in %.1f s",
                self.url,
                count,
                problem,
                attempt + 1,
                self.max_retries,
                wait,
            )
            self.stats.retried()
            self.pause(wait)
        raise CaptureFailedError(
            f"POST {self.url} ({count} events) still failed after {self.max_retries} retries: "
            f"{problem}"
        )

    def pause(self, seconds: float) -> None:
        """Wait before a retry."""
        time.sleep(seconds)


def _retry_after(value: str | None) -> float:
    """Seconds a Retry-After header asks for (seconds or an HTTP date); 0 when absent."""
    if not value:
        return 0.0
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(when.timestamp() - time.time(), 0.0)
