"""Primary rate-limit budgets, one per credential and resource (core, graphql, ...)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Budget", "RateLimits", "resource_of"]


def resource_of(url: str, graphql_url: str) -> str:
    """The rate-limit resource a request will spend, before GitHub says so in its headers."""
    return "graphql" if url == graphql_url else "core"


@dataclass
class Budget:
    """What GitHub last reported for one credential and resource."""

    remaining: int
    limit: int
    reset_at: float


class RateLimits:
    """Budgets by (credential key, resource). A server without rate-limit headers has none."""

    def __init__(self, reserve: int) -> None:
        self.reserve = reserve
        self._budgets: dict[tuple[str, str], Budget] = {}
        self._lock = threading.Lock()

    def update(self, credential_key: str, headers: Mapping[str, str], resource: str) -> None:
        """Record the x-ratelimit-* headers of a response, if it has them."""
        remaining = headers.get("x-ratelimit-remaining")
        reset = headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        resource = headers.get("x-ratelimit-resource", resource)
        budget = Budget(int(remaining), int(headers.get("x-ratelimit-limit", 0) or 0),
                        float(reset))
        with self._lock:
            self._budgets[(credential_key, resource)] = budget

    def spend_all(self, credential_key: str, resource: str, reset_at: float) -> None:
        """Mark a budget exhausted (GitHub answered 403/429 with remaining 0)."""
        with self._lock:
            self._budgets[(credential_key, resource)] = Budget(0, 0, reset_at)

    def consume(self, credential_key: str, resource: str, points: int = 1) -> None:
        """Count points about to be spent, so concurrent requests do not overdraw a budget."""
        with self._lock:
            budget = self._budgets.get((credential_key, resource))
            if budget is not None:
                budget.remaining -= points

    def wait_seconds(self, credential_key: str, resource: str, now: float) -> float:
        """0 if the credential may spend now; else seconds until its budget resets."""
        with self._lock:
            budget = self._budgets.get((credential_key, resource))
        if budget is None or budget.reset_at <= now:
            return 0.0
        if budget.remaining > self.reserve:
            return 0.0
        return budget.reset_at - now + 1.0

    def remaining(self, credential_key: str, resource: str) -> Budget | None:
        """The last known budget, if any."""
        with self._lock:
            return self._budgets.get((credential_key, resource))
