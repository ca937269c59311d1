"""The tap checks its own cost assumptions while it runs.

Every GraphQL query asks `rateLimit { cost }`: the points GitHub charged. Each query family (its
operation name) declares, next to its text, the connection requests GitHub's documented rule
counts for it, read the expensive way where the documentation is silent (a connection asked for
its `totalCount` alone counts a request; `nodes(ids:)` counts what is inside once per id). The
design's page sizes keep each query at 1 point that way; if GitHub charges a family more, one
WARNING names the family and the figures, and, where a smaller page or batch gives the same data,
the family uses it for the rest of the run (`size`: lowered in proportion to the overcharge).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAMILIES", "CostCheck", "QueryFamily", "aliases", "documented_points", "register"]

logger = logging.getLogger("tap_github_activity.cost")

_OPERATION = re.compile(r"^\s*query\s+(\w+)")


def documented_points(requests: int) -> int:
    """GitHub's conversion: connection requests / 100, rounded to nearest, at least 1."""
    return max(1, math.floor(requests / 100 + 0.5))


def aliases(variables: Mapping[str, Any], prefix: str) -> int:
    """How many aliased parts a query carries: its variables named `prefix` + a number."""
    pattern = re.compile(re.escape(prefix) + r"\d+")
    return sum(1 for name in variables if pattern.fullmatch(name))


@dataclass(frozen=True)
class QueryFamily:
    """One query shape: the operation name, what the warning calls it, the connection requests
    the design expects GitHub to count (from the query text and variables), and what may be made
    smaller for the same data (a page-size variable the client lowers, or a batch its caller
    sizes with `CostCheck.size`)."""

    operation: str
    title: str
    requests: Callable[[str, Mapping[str, Any]], int]
    page_variable: str | None = None
    designed: int = 0  # the designed page or batch size
    smaller: str = ""  # "pages of {size} pull requests", for the warning


FAMILIES: dict[str, QueryFamily] = {}


def register(family: QueryFamily) -> QueryFamily:
    """Declare a query family (at import of the module that holds its text)."""
    FAMILIES[family.operation] = family
    return family


@dataclass
class _Observed:
    queries: int = 0
    expected: int = 0
    charged: int = 0
    scale: float = 1.0  # expected / charged of the worst overcharge (sizes shrink by it)
    warned: bool = False


@dataclass
class CostCheck:
    """Per family, the points GitHub charged against the design's expectation (thread-safe)."""

    observed: dict[str, _Observed] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def size(self, operation: str, designed: int) -> int:
        """The page or batch size a family uses now: `designed`, or smaller once GitHub charged
        it more than expected."""
        with self._lock:
            seen = self.observed.get(operation)
            scale = seen.scale if seen else 1.0
        return max(1, math.floor(designed * scale)) if scale < 1 else designed

    def adjust(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The variables to send: a family's page-size variable at its current size."""
        family = self._family(query)
        adjusted = dict(variables)
        if family and family.page_variable and family.page_variable in adjusted:
            designed = int(adjusted[family.page_variable])
            adjusted[family.page_variable] = self.size(family.operation, designed)
        return adjusted

    def observe(self, query: str, variables: Mapping[str, Any], charged: int) -> None:
        """Compare GitHub's charge for one answered query with the design's expectation."""
        family = self._family(query)
        if family is None:
            return
        expected = documented_points(family.requests(query, variables))
        with self._lock:
            seen = self.observed.setdefault(family.operation, _Observed())
            seen.queries += 1
            seen.expected += expected
            seen.charged += charged
            if charged <= expected:
                return
            seen.scale = min(seen.scale, expected / charged)
            if seen.warned:
                return
            seen.warned = True
        if family.smaller:
            size = max(1, math.floor(family.designed * expected / charged))
            consequence = family.smaller.format(size=size) + " for the rest of the run"
        else:
            consequence = "no cheaper query gives the same data: the run goes on at this cost"
        logger.warning(
            "GitHub charged %d points for a %s query (%s) where its documented cost rule, read "
            "the expensive way, gives %d: %s",
            charged,
            family.title,
            family.operation,
            expected,
            consequence,
        )

    def rows(self) -> list[tuple[str, int, int, int]]:
        """(operation, queries, points expected, points charged), by operation."""
        with self._lock:
            return [
                (name, seen.queries, seen.expected, seen.charged)
                for name, seen in sorted(self.observed.items())
            ]

    @staticmethod
    def _family(query: str) -> QueryFamily | None:
        match = _OPERATION.match(query)
        return FAMILIES.get(match.group(1)) if match else None
