"""Primary rate-limit budgets, one per credential and resource (core, graphql, ...), and the
secondary limit of points per minute.

A budget is what GitHub last said (x-ratelimit-* headers), less the requests in flight: choosing
a credential and counting the request happen under one lock (`acquire`), and a late answer of
an earlier request (concurrent requests) never raises a budget GitHub has since lowered.

Points per minute (`PointsPerMinute`): besides the hourly budget GitHub allows at most 900
points a minute to REST endpoints and 2,000 to GraphQL (a GET or a GraphQL query is 1 point, a
write 5), and says so only by refusing requests. Concurrent requests answered quickly (a
repeated sync's 304s) can pass that; each credential's requests of the last 60 s are counted
and a request that would pass the limit waits until it would not.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MINUTE_POINTS", "Budget", "PointsPerMinute", "RateLimits", "resource_of"]


# GitHub's secondary limits: points a minute per resource ("core": every REST endpoint).
MINUTE_POINTS = {"core": 900, "graphql": 2000}
MINUTE = 60.0


def resource_of(url: str, graphql_url: str) -> str:
    """The rate-limit resource a request will spend, before GitHub says so in its headers."""
    return "graphql" if url == graphql_url else "core"


@dataclass
class Budget:
    """What GitHub last reported for one credential and resource."""

    remaining: int
    limit: int
    reset_at: float
    used: int | None = None


class RateLimits:
    """Budgets by (credential key, resource). A server without rate-limit headers has none."""

    def __init__(self, reserve: int) -> None:
        self.reserve = reserve
        self._budgets: dict[tuple[str, str], Budget] = {}
        self._in_flight: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def update(self, credential_key: str, headers: Mapping[str, str], resource: str) -> None:
        """Record the x-ratelimit-* headers of a response, if it has them."""
        try:
            remaining = int(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
            limit = int(headers.get("x-ratelimit-limit") or 0)
            used = int(headers["x-ratelimit-used"]) if "x-ratelimit-used" in headers else None
        except (KeyError, ValueError):
            return
        resource = headers.get("x-ratelimit-resource", resource)
        with self._lock:
            known = self._budgets.get((credential_key, resource))
            if known is not None and reset < known.reset_at:
                return  # an answer from the window before the current one
            if (
                known is not None
                and known.reset_at == reset
                and (
                    (used is not None and known.used is not None and used < known.used)
                    or (used is None and remaining > known.remaining)
                )
            ):
                return  # an earlier request's answer, arriving after a later one's
            self._budgets[(credential_key, resource)] = Budget(remaining, limit, reset, used)

    def spend_all(self, credential_key: str, resource: str, reset_at: float) -> None:
        """Mark a budget exhausted (GitHub refused a request for the primary limit)."""
        with self._lock:
            known = self._budgets.get((credential_key, resource))
            self._budgets[(credential_key, resource)] = Budget(
                0, known.limit if known else 0, reset_at, known.used if known else None
            )

    def acquire(
        self,
        credential_keys: list[str],
        resource: str,
        now: float,
    ) -> tuple[int | None, float]:
        """Choose the first credential that may spend a point and count the request in flight,
        in one step: (its index, 0). When none may: (None, seconds until the earliest reset).
        Every acquired request is `release`d when its answer is counted."""
        with self._lock:
            waits = []
            for index, key in enumerate(credential_keys):
                wait = self._wait(key, resource, now)
                if wait == 0:
                    self._in_flight[(key, resource)] += 1
                    return index, 0.0
                waits.append(wait)
        return None, min(waits, default=0.0)

    def release(self, credential_key: str, resource: str) -> None:
        """The request acquired on this credential has its answer (or none is coming)."""
        with self._lock:
            if self._in_flight[(credential_key, resource)] > 0:
                self._in_flight[(credential_key, resource)] -= 1

    def wait_seconds(self, credential_key: str, resource: str, now: float) -> float:
        """0 if the credential may spend now; else seconds until its budget resets."""
        with self._lock:
            return self._wait(credential_key, resource, now)

    def remaining(self, credential_key: str, resource: str) -> Budget | None:
        """The last known budget, if any."""
        with self._lock:
            return self._budgets.get((credential_key, resource))

    def _wait(self, credential_key: str, resource: str, now: float) -> float:
        budget = self._budgets.get((credential_key, resource))
        if budget is None or budget.reset_at <= now:
            return 0.0
        if budget.remaining - self._in_flight[(credential_key, resource)] > self.reserve:
            return 0.0
        return budget.reset_at - now + 1.0


class PointsPerMinute:
    """The secondary limit's points spent by (credential key, resource) in the last minute."""

    def __init__(self, limits: Mapping[str, int] | None = None) -> None:
        self.limits = dict(MINUTE_POINTS if limits is None else limits)
        self._spent: dict[tuple[str, str], deque[tuple[float, int]]] = {}
        self._totals: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def take(self, credential_key: str, resource: str, now: float, points: int = 1) -> float:
        """Count `points` spent now and return 0, or, when they would pass the limit, count
        nothing and return the seconds until they would not."""
        limit = self.limits.get(resource)
        if limit is None:
            return 0.0
        key = (credential_key, resource)
        with self._lock:
            spent = self._spent.setdefault(key, deque())
            while spent and spent[0][0] <= now - MINUTE:
                self._totals[key] -= spent.popleft()[1]
            if self._totals[key] + points <= limit:
                spent.append((now, points))
                self._totals[key] += points
                return 0.0
            # Until enough of the oldest points have left the window.
            total = self._totals[key]
            for moment, spent_points in spent:
                total -= spent_points
                if total + points <= limit:
                    return moment + MINUTE - now
            return MINUTE
