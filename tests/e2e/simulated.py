"""The simulated GitHub a Meltano run extracts from, and the tap settings that point at it."""

from __future__ import annotations

import time

from github_simulator import FakeClock, World, seeded_world
from github_simulator.serve import SELECTION, TOKEN
from github_simulator.serve import tap_settings as simulator_settings

__all__ = ["SELECTION", "TOKEN", "realtime_world", "tap_config", "tap_settings"]


def realtime_world() -> tuple[FakeClock, World]:
    """The seeded world, its time starting at the real now (in whole seconds, as GitHub's
    timestamps are): the tap runs in another process, on real time."""
    clock = FakeClock(start=float(int(time.time())))
    return clock, seeded_world(clock)


def tap_config(api_url: str) -> dict[str, object]:
    """The tap's config for the simulator at `api_url`."""
    return {"auth_token": TOKEN, "api_url": api_url, "repositories": SELECTION}


def tap_settings(api_url: str) -> dict[str, str]:
    """The simulator's settings as Meltano environment variables, with a short retry budget."""
    return {
        **simulator_settings(api_url),
        # Real time: an outage test must not ride out the default 15 minutes.
        "TAP_GITHUB_ACTIVITY_RETRY_MAX_SECONDS": "10",
        # Traffic on every run: these tests compare every run with the world of that moment,
        # runs seconds apart, or days apart on the simulator's clock but not on the tap's
        # (the daily interval itself: tests/test_traffic.py, on the simulator's clock).
        "TAP_GITHUB_ACTIVITY_TRAFFIC_INTERVAL_HOURS": "0",
    }
