"""Every GraphQL query of a run scored under each reading of GitHub's cost rule.

The simulator charges its world's reading (github_simulator/graphql_cost.py; expensive unless
`--reading kind`). The benchmark also scores each query it executes under the other readings:
what GitHub would charge for the same query if it read the undocumented cases that way. The
tap sends the same queries under either reading as long as no query costs more than its design
expects (it would then warn, "GitHub charged ...", and make its pages smaller): the benchmark
counts those warnings, so a figure that does not hold is visible.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import graphql

from github_simulator.graphql_api import query_cost
from github_simulator.graphql_cost import READINGS
from github_simulator.server import Reply, Request

__all__ = ["ReadingScores"]


@functools.lru_cache(maxsize=1024)
def _parsed(source: str) -> graphql.DocumentNode | None:
    try:
        return graphql.parse(source)
    except graphql.GraphQLError:
        return None


def _executed(reply: Reply) -> bool:
    """Executed, not rejected by validation (a payload with `data`): a dict, or the JSON bytes
    of a forked executor (github_simulator/forked_graphql.py)."""
    body = reply.body
    if isinstance(body, bytes):
        return body.lstrip().startswith(b'{"data"')
    return isinstance(body, dict) and "data" in body


class ReadingScores:
    """Points of the executed queries under each reading, and the largest single query's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.points: Counter[str] = Counter()  # reading -> points of the executed queries
        self.charged = 0  # what the simulator charged for them
        self.largest: dict[str, tuple[int, str]] = {}  # reading -> (points, operation)

    def reset(self) -> None:
        with self._lock:
            self.points.clear()
            self.charged = 0
            self.largest.clear()

    def wrap(self, execute: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        """`execute`, scoring each query it answers."""

        def scored(request: Request) -> Reply:
            reply = execute(request)
            self._score(request, reply)
            return reply

        return scored

    def under(self, reading: str, graphql_points: int) -> int:
        """A run's GraphQL points under `reading`, from what the simulator charged in all
        (refused queries, not executed, cost the same under every reading)."""
        with self._lock:
            return graphql_points - self.charged + self.points[reading]

    def _score(self, request: Request, reply: Reply) -> None:
        charged = int(reply.headers.get("x-sim-points", 1))
        body: Any = request.body or {}
        document = _parsed(body.get("query") or "")
        operation = "?"
        costs = dict.fromkeys(READINGS, charged)  # a query GitHub rejects costs 1 either way
        if document is not None and _executed(reply):
            variables = body.get("variables") or {}
            costs = {name: query_cost(document, variables, r) for name, r in READINGS.items()}
            operation = next(
                (
                    d.name.value
                    for d in document.definitions
                    if isinstance(d, graphql.OperationDefinitionNode) and d.name
                ),
                "?",
            )
        with self._lock:
            self.charged += charged
            for name, points in costs.items():
                self.points[name] += points
                if points > self.largest.get(name, (0, ""))[0]:
                    self.largest[name] = (points, operation)
