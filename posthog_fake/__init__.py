"""A local stand-in for PostHog's capture API (`POST /batch/`), holding to its documented contract,
for the tests and the benchmark.

- The body may be gzipped (`Content-Encoding: gzip`); over 20 MB, compressed or not, is 413.
- `api_key` must be a known project key, else 401; `batch` must be a list of events, each with
  a non-empty `event` and `distinct_id`, else 400 for the whole request.
- An event with an invalid `uuid` is dropped, one over 1 MB is discarded, an unparsable
  `timestamp` is replaced by the time of receipt (PostHog's ingestion warnings); the answer is
  still 200. With `sent_at`, the timestamp is corrected for clock skew as PostHog does
  (now - (sent_at - timestamp)), so a sender that sends it loses its timestamps.
- Faults are injected per request: a status (5xx, 429 with Retry-After), a dropped connection,
  or a stall until released.
- Every accepted event is kept with the request it came in; PostHog's eventual deduplication on
  (uuid, event, timestamp, distinct_id) is `deduplicated()`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["API_KEY", "FakePostHog", "PostHogFault", "Received", "serve_posthog"]

API_KEY = "phc_test_project_key"
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024


@dataclass
class PostHogFault:
    """What the next `times` requests get instead of normal handling."""

    status: int = 503
    times: int = 1
    retry_after: str | None = None
    drop: bool = False  # close the connection without an answer
    stall: threading.Event | None = None  # hold the request until this is set
    reached: threading.Event = field(default_factory=threading.Event)


@dataclass
class Received:
    """One event as PostHog would store it."""

    uuid: str
    event: str
    distinct_id: str
    timestamp: dt.datetime
    properties: dict[str, Any]
    historical: bool
    request: int

    @property
    def key(self) -> tuple[str, str, dt.datetime, str]:
        """What PostHog deduplicates on."""
        return (self.uuid, self.event, self.timestamp, self.distinct_id)


@dataclass
class RequestLog:
    """One request: its answer (0: the connection was dropped) and sizes."""

    status: int
    sent_bytes: int
    body_bytes: int = 0
    events: int = 0
    historical: bool = False


class FakePostHog:
    """The fake's state; serve it with `serve_posthog`."""

    def __init__(self, api_keys: frozenset[str] = frozenset({API_KEY})) -> None:
        self.api_keys = api_keys
        self.lock = threading.Lock()
        self.events: list[Received] = []
        self.dropped: list[tuple[str, dict[str, Any]]] = []  # (reason, event)
        self.requests: list[RequestLog] = []
        self.faults: list[PostHogFault] = []
        self.url = ""

    def inject(self, fault: PostHogFault) -> PostHogFault:
        """Answer the next requests with `fault`."""
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self) -> PostHogFault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def deduplicated(self) -> dict[tuple[str, str, dt.datetime, str], Received]:
        """One event per (uuid, event, timestamp, distinct_id): the last received, as PostHog's
        background merges eventually keep."""
        with self.lock:
            return {event.key: event for event in self.events}

    def accepted(self) -> list[RequestLog]:
        """The requests answered 200."""
        return [r for r in self.requests if r.status == 200]

    def capture(self, raw: bytes, encoding: str) -> tuple[int, dict[str, Any]]:
        """Handle one `/batch/` body: (status, answer)."""
        try:
            payload, body_bytes = _payload(raw, encoding, self.api_keys)
        except RefusedError as refused:
            return refused.status, {"error": refused.message}
        batch = payload["batch"]
        now = dt.datetime.now(dt.timezone.utc)
        sent_at = _parse_time(payload.get("sent_at"))
        historical = payload.get("historical_migration") is True
        with self.lock:
            number = len(self.requests)
            self.requests.append(RequestLog(200, len(raw), body_bytes, len(batch), historical))
            for item in batch:
                self._store(item, number, now, sent_at, historical)
        return 200, {"status": "Ok"}

    def _store(
        self,
        item: dict[str, Any],
        request: int,
        now: dt.datetime,
        sent_at: dt.datetime | None,
        historical: bool,
    ) -> None:
        size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_EVENT_BYTES:
            self.dropped.append(("over 1 MB", item))
            return
        try:
            event_uuid = str(uuid.UUID(str(item.get("uuid"))))
        except ValueError:
            self.dropped.append(("invalid uuid", item))
            return
        timestamp = _parse_time(item.get("timestamp")) or now
        if sent_at is not None:
            timestamp = now - (sent_at - timestamp)
        self.events.append(
            Received(
                uuid=event_uuid,
                event=item["event"],
                distinct_id=item["distinct_id"],
                timestamp=timestamp,
                properties=dict(item.get("properties") or {}),
                historical=historical,
                request=request,
            )
        )


class RefusedError(Exception):
    """A request PostHog answers with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _payload(raw: bytes, encoding: str, api_keys: frozenset[str]) -> tuple[dict[str, Any], int]:
    """The request's JSON and its decompressed size, checked as PostHog checks it."""
    if len(raw) > MAX_BODY_BYTES:
        raise RefusedError(413, "payload too large")
    body = raw
    if encoding == "gzip":
        try:
            body = _gunzip(raw, MAX_BODY_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise RefusedError(400, "invalid gzip body") from exc
    if len(body) > MAX_BODY_BYTES:
        raise RefusedError(413, "payload too large")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise RefusedError(400, "invalid JSON") from exc
    if not isinstance(payload, dict):
        raise RefusedError(400, "body is not an object")
    if payload.get("api_key") not in api_keys:
        raise RefusedError(401, "Project API key invalid. Find your key in project settings.")
    batch = payload.get("batch")
    if not isinstance(batch, list) or not batch:
        raise RefusedError(400, "batch must be a non-empty list")
    for item in batch:
        if not isinstance(item, dict) or not item.get("event"):
            raise RefusedError(400, "missing event name")
        if not isinstance(item.get("distinct_id"), str) or not item["distinct_id"]:
            raise RefusedError(400, "missing distinct_id")
    return payload, len(body)


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress, stopping past `limit` bytes (a small body can inflate enormously)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, limit)
    if not inflater.eof and len(out) < limit:
        raise EOFError("truncated gzip body")
    return out


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _handler(fake: FakePostHog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read the fake's own log."""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") != "/batch":
                self._answer(404, {"error": "not found"})
                return
            fault = fake.take_fault()
            if fault is not None:
                fault.reached.set()
                if fault.stall is not None:
                    fault.stall.wait(timeout=600)
                with fake.lock:
                    fake.requests.append(RequestLog(0 if fault.drop else fault.status, len(raw)))
                if fault.drop:
                    self.close_connection = True
                    return
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._answer(fault.status, {"error": "injected"}, headers)
                return
            status, answer = fake.capture(raw, self.headers.get("Content-Encoding", ""))
            if status != 200:
                with fake.lock:
                    fake.requests.append(RequestLog(status, len(raw)))
            self._answer(status, answer)

        def _answer(
            self, status: int, answer: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the sender gave up on this request

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A sender killed or timed out mid-request is part of the tests, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve_posthog(fake: FakePostHog | None = None) -> Iterator[FakePostHog]:
    """The fake served on 127.0.0.1 (a free port) for the block's duration."""
    fake = fake or FakePostHog()
    server = _Server(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        for fault in fake.faults:
            if fault.stall is not None:
                fault.stall.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
