"""GitHub's secondary limit of points per minute (900 REST, 2,000 GraphQL) is waited for, not
met: tap_github_activity/ratelimit.py PointsPerMinute and the client's pacing."""

from __future__ import annotations

from typing import Any

import pytest

from github_simulator import FakeClock, GitHubSimulator
from tap_github_activity import ratelimit
from tap_github_activity.ratelimit import MINUTE, PointsPerMinute
from tests.conftest import run_sync


def test_points_of_the_last_minute_are_counted_per_credential_and_resource() -> None:
    minute = PointsPerMinute({"core": 3, "graphql": 2})
    assert [minute.take("a", "core", now) for now in (0.0, 1.0, 2.0)] == [0.0, 0.0, 0.0]
    assert minute.take("a", "core", 10.0) == MINUTE - 10.0  # until the first leaves the window
    assert minute.take("b", "core", 10.0) == 0.0  # another credential
    assert minute.take("a", "graphql", 10.0) == 0.0  # another resource
    assert minute.take("a", "core", MINUTE) == 0.0
    # A write (5 points) on a limit of 3: never; on a fuller window: when enough have left.
    assert minute.take("a", "core", MINUTE, points=2) == 2.0  # 1.0 and 2.0 must leave
    assert minute.take("a", "search", 0.0, points=100) == 0.0  # no limit known


def in_any_minute(moments: list[float]) -> int:
    """The most requests answered within one minute."""
    return max(
        (sum(1 for other in moments if moment - MINUTE < other <= moment) for moment in moments),
        default=0,
    )


def test_a_sync_keeps_under_the_limits_and_delivers_everything(
    config: dict[str, Any],
    github: GitHubSimulator,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {**config, "max_concurrent_requests": 1}
    unpaced = run_sync(config)
    core = [r.at for r in github.requests() if r.resource == "core"]
    graphql = [r.at for r in github.requests() if r.resource == "graphql"]
    assert in_any_minute(core) > 6  # the limits below would bind
    assert in_any_minute(graphql) > 3

    # When each request was let go, by the tap's clock (the simulator's record of it can come
    # later on the fake clock: another thread's wait moves it while the request is answered).
    sent: dict[str, list[float]] = {"core": [], "graphql": []}
    take = PointsPerMinute.take

    def recording(
        minute: PointsPerMinute, key: str, resource: str, now: float, points: int = 1
    ) -> float:
        seconds = take(minute, key, resource, now, points)
        if seconds == 0:
            sent[resource].append(now)
        return seconds

    monkeypatch.setattr(PointsPerMinute, "take", recording)
    monkeypatch.setattr(ratelimit, "MINUTE_POINTS", {"core": 6, "graphql": 3})
    github.reset_log()
    started = clock.now()
    paced = run_sync(config)

    assert in_any_minute(sent["core"]) <= 6
    assert in_any_minute(sent["graphql"]) <= 3
    assert len(sent["core"]) + len(sent["graphql"]) == len(github.requests())
    assert all(r.status < 400 for r in github.requests())  # waited for, never refused
    assert clock.now() - started >= MINUTE * (len(sent["core"]) // 6 - 1)
    assert paced.records == unpaced.records
