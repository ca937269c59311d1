"""A fault profile as hostile as GitHub on a bad day, seeded so that a failing run can be
replayed: `simulator.chaos = FaultProfile(seed)`.

Every mode below is scheduled once within the first `horizon` requests (a mode waits for the
first request it applies to: GraphQL errors for a query, 202 for statistics), and any other
request meets one of the cheap modes with probability `rate`:

    server_error      500/502/503 with GitHub's JSON body
    html_gateway      502/504 with an HTML body (GitHub's proxies answer so, GraphQL too)
    reset             the connection closed without an answer, after the request was served
                      (its points spent)
    truncate          the answer cut off half-way (content-length promises more)
    graphql_partial   HTTP 200, one random node of the data nulled, and an error "Something
                      went wrong while executing your query. This may be the result of a
                      timeout..." pointing at it
    graphql_null      the same error with "data": null
    graphql_internal  an error of type INTERNAL with the data nulled
    stats_202         statistics answered 202 ("being computed") once more
    timeout           no answer for `timeout_stall` real seconds (once: it costs real time)
    secondary_after   403 secondary rate limit with retry-after
    secondary_bare    403 with GitHub's documented message only (the client must wait a
                      minute or more)
    secondary_429     429 without headers
    outage            every request answered 503 (REST) or an HTML 502 (GraphQL) for
                      `outage_seconds` of the world's clock (a fake clock moves as the tap waits)

Every fault is recorded on the simulator's log (`Recorded.fault`) and counted in `injected`.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter
from typing import Any

__all__ = ["CHEAP_MODES", "GATEWAY_HTML", "MODES", "SOMETHING_WENT_WRONG", "FaultProfile"]

SOMETHING_WENT_WRONG = (
    "Something went wrong while executing your query. This may be the result of a timeout, or "
    "it could be a GitHub bug. Please include `{request_id}` when reporting this issue."
)
GATEWAY_HTML = (
    b"<html><head><title>{status} Bad Gateway</title></head><body><h1>{status}</h1>"
    b"<p>We couldn't respond to your request in time. Please try again.</p></body></html>"
)
CHEAP_MODES = (
    "server_error",
    "html_gateway",
    "reset",
    "truncate",
    "graphql_partial",
    "graphql_null",
    "graphql_internal",
    "stats_202",
)
MODES = (
    *CHEAP_MODES,
    "timeout",
    "secondary_after",
    "secondary_bare",
    "secondary_429",
    "outage",
)
_GRAPHQL_ONLY = frozenset({"graphql_partial", "graphql_null", "graphql_internal"})
_STATISTICS = re.compile(r"/stats/")


class FaultProfile:
    """Decides, request by request, which fault (if any) the simulator serves."""

    def __init__(
        self,
        seed: int,
        *,
        rate: float = 0.04,
        horizon: int = 30,
        modes: tuple[str, ...] = MODES,
        outage_seconds: float = 600.0,
        timeout_stall: float = 2.0,
        max_stats_202: int = 3,
    ) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.outage_seconds = outage_seconds
        self.timeout_stall = timeout_stall
        self.max_stats_202 = max_stats_202
        self.cheap = tuple(m for m in CHEAP_MODES if m in modes)
        # (first request number, mode): each mode once, early in the first sync.
        self.pending = sorted((self.rng.randrange(1, horizon + 1), mode) for mode in modes)
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self.outage_until: float | None = None
        self._stats_202: Counter[str] = Counter()
        self._lock = threading.Lock()

    def pick(self, method: str, path: str, now: float) -> str | None:
        """The fault mode for this request, or None (answered normally)."""
        with self._lock:
            self.requests += 1
            if self.outage_until is not None and now < self.outage_until:
                self.injected["outage"] += 1
                return "outage"
            for index, (start, mode) in enumerate(self.pending):
                if start <= self.requests and self._applies(mode, path):
                    del self.pending[index]
                    return self._take(mode, path, now)
            if self.cheap and self.rng.random() < self.rate:
                mode = self.rng.choice(self.cheap)
                if self._applies(mode, path):
                    return self._take(mode, path, now)
            return None

    def _applies(self, mode: str, path: str) -> bool:
        if mode in _GRAPHQL_ONLY:
            return path == "/graphql"
        if mode == "stats_202":
            return bool(_STATISTICS.search(path)) and self._stats_202[path] < self.max_stats_202
        return True

    def _take(self, mode: str, path: str, now: float) -> str:
        self.injected[mode] += 1
        if mode == "outage":
            self.outage_until = now + self.outage_seconds
        if mode == "stats_202":
            self._stats_202[path] += 1
        return mode

    def recount(self, served: str, instead: str) -> None:
        """A fault served as another mode than the one picked (a 304 cannot be cut off)."""
        with self._lock:
            self.injected[served] -= 1
            self.injected[instead] += 1

    # -- what each mode answers ------------------------------------------------------------------

    def status(self) -> int:
        """A server error's status."""
        with self._lock:
            return self.rng.choice((500, 502, 503))

    def spoil_graphql(self, mode: str, payload: bytes, request_id: str) -> bytes:
        """A served GraphQL answer turned into GitHub's 'Something went wrong' answer."""
        body: dict[str, Any] = json.loads(payload)
        message = SOMETHING_WENT_WRONG.format(request_id=request_id)
        if mode == "graphql_internal":
            return _encode({"data": None, "errors": [{"type": "INTERNAL", "message": message}]})
        if mode == "graphql_null" or not isinstance(body.get("data"), dict):
            return _encode({"data": None, "errors": [{"message": message}]})
        data = body["data"]
        with self._lock:
            path = self._random_node(data)
        if path:
            parent: Any = data
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = None
        return _encode({"data": data, "errors": [{"message": message, "path": path}]})

    def _random_node(self, data: dict[str, Any]) -> list[Any]:
        """The path of a random object below the root fields: objects and the items of
        connections are nullable in GitHub's schema (pageInfo and rateLimit are not chosen)."""
        candidates: list[list[Any]] = []

        def walk(value: Any, path: list[Any]) -> None:
            items = (
                value.items()
                if isinstance(value, dict)
                else enumerate(value)
                if isinstance(value, list)
                else ()
            )
            for key, child in items:
                if child is None or key in ("rateLimit", "pageInfo"):
                    continue
                if path and isinstance(child, dict):
                    candidates.append([*path, key])
                walk(child, [*path, key])

        walk(data, [])
        return self.rng.choice(candidates) if candidates else []


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
