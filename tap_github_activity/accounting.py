"""Request accounting: every request counted by stream, status and resource, with the points it
spent and the seconds spent waiting for GitHub."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

from tap_github_activity.cost_check import CostCheck

__all__ = ["RequestLedger", "RunSummary"]

METRICS_LOGGER = "singer_sdk.metrics"


@dataclass
class RunSummary:
    """Repositories skipped or left for the next run, by stream, with the reason."""

    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, stream: str, repository: str, reason: str) -> None:
        """Note that `stream` could not read `repository`."""
        self.skipped.setdefault(stream, []).append(f"{repository} ({reason})")


class RequestLedger:
    """Thread-safe counters of requests, points and waiting."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.points: Counter[tuple[str, str]] = Counter()
        self.waited: dict[str, float] = {}
        self.retries: Counter[tuple[str, str]] = Counter()  # (stream, failure mode)
        self.cost_check = CostCheck()
        self._lock = threading.Lock()

    def record(self, stream: str, resource: str, status: int, points: int) -> None:
        """Count one answered request."""
        with self._lock:
            self.requests[(stream, resource, status)] += 1
            self.points[(stream, resource)] += points

    def record_wait(self, stream: str, seconds: float) -> None:
        """Count seconds spent waiting (rate limits, backoff)."""
        with self._lock:
            self.waited[stream] = self.waited.get(stream, 0.0) + seconds

    def record_retry(self, stream: str, mode: str) -> None:
        """Count one request asked again after a failure of this mode (client.failures)."""
        with self._lock:
            self.retries[(stream, mode)] += 1

    def retries_by_mode(self) -> dict[str, int]:
        """Retries of this run by failure mode."""
        totals: Counter[str] = Counter()
        for (_, mode), count in self.retries.items():
            totals[mode] += count
        return dict(sorted(totals.items()))

    def total_requests(self) -> int:
        """Every answered request."""
        with self._lock:  # read while fetching threads count
            return sum(self.requests.values())

    def total_points(self, resource: str | None = None) -> int:
        """Points spent, for one resource or all."""
        with self._lock:  # read while fetching threads count
            return sum(n for (_, res), n in self.points.items() if resource in (None, res))

    def rows(self) -> list[dict[str, object]]:
        """One row per stream and resource, sorted."""
        keys = sorted({(s, r) for s, r, _ in self.requests} | set(self.points))
        rows = []
        for stream, resource in keys:
            statuses = {
                status: n
                for (s, r, status), n in self.requests.items()
                if (s, r) == (stream, resource)
            }
            rows.append(
                {
                    "stream": stream,
                    "resource": resource,
                    "requests": sum(statuses.values()),
                    "not_modified": statuses.get(304, 0),
                    "statuses": dict(sorted(statuses.items())),
                    "points": self.points[(stream, resource)],
                    "waited_seconds": round(float(self.waited.get(stream, 0.0)), 1),
                }
            )
        return rows

    def log_summary(self, logger: logging.Logger, summary: RunSummary) -> None:
        """Log the run's cost as one table, and as singer-sdk style metric lines."""
        lines = [
            f"{'stream':<24}{'resource':<10}{'requests':>9}{'304':>6}{'points':>8}"
            f"{'waited s':>10}  statuses"
        ]
        for row in self.rows():
            statuses = " ".join(f"{k}:{v}" for k, v in row["statuses"].items())  # type: ignore[attr-defined]
            lines.append(
                f"{row['stream']:<24}{row['resource']:<10}{row['requests']:>9}"
                f"{row['not_modified']:>6}{row['points']:>8}{row['waited_seconds']:>10}"
                f"  {statuses}"
            )
        lines.append(
            f"{'total':<34}{self.total_requests():>9}{'':>6}{self.total_points():>8}"
            f"{sum(self.waited.values()):>10.1f}"
        )
        logger.info("GitHub requests this run:\n%s", "\n".join(lines))
        if self.retries:
            logger.info(
                "Retried after failures: %s",
                ", ".join(f"{mode} {n}" for mode, n in self.retries_by_mode().items()),
            )
        families = self.cost_check.rows()
        if families:
            logger.info(
                "GraphQL points by query family (queries, expected by design, charged): %s",
                ", ".join(
                    f"{name} {n}, {expected}, {charged}" for name, n, expected, charged in families
                ),
            )
        # Each skip was a warning when it happened; here they are summed up.
        for stream, repositories in sorted(summary.skipped.items()):
            logger.info(
                "%s skipped %d repositories: %s", stream, len(repositories), ", ".join(repositories)
            )
        metrics = logging.getLogger(METRICS_LOGGER)
        for row in self.rows():
            for status, count in row["statuses"].items():  # type: ignore[attr-defined]
                metrics.info(
                    "METRIC: %s",
                    json.dumps(
                        {
                            "type": "counter",
                            "metric": "http_request_count",
                            "value": count,
                            "tags": {
                                "stream": row["stream"],
                                "resource": row["resource"],
                                "http_status_code": status,
                            },
                        },
                        separators=(",", ":"),
                    ),
                )
            metrics.info(
                "METRIC: %s",
                json.dumps(
                    {
                        "type": "counter",
                        "metric": "rate_limit_points",
                        "value": row["points"],
                        "tags": {"stream": row["stream"], "resource": row["resource"]},
                    },
                    separators=(",", ":"),
                ),
            )
