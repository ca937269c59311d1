"""The simulated GitHub a Meltano run extracts from, and the tap settings that point at it."""

from __future__ import annotations

import json
import time

from github_simulator import FakeClock, World, seeded_world

__all__ = ["SELECTION", "TOKEN", "realtime_world", "tap_config", "tap_settings"]

TOKEN = "ghp_alice"
SELECTION = ["acme/*"]


def realtime_world() -> tuple[FakeClock, World]:
    """The seeded world, its time starting at the real now (in whole seconds, as GitHub's
    timestamps are): the tap runs in another process, on real time."""
    clock = FakeClock(start=float(int(time.time())))
    return clock, seeded_world(clock)


def tap_config(api_url: str) -> dict[str, object]:
    """The tap's config for the simulator at `api_url`."""
    return {"auth_token": TOKEN, "api_url": api_url, "repositories": SELECTION}


def tap_settings(api_url: str) -> dict[str, str]:
    """The same config as Meltano environment variables."""
    return {
        "TAP_GITHUB_ACTIVITY_API_URL": api_url,
        "TAP_GITHUB_ACTIVITY_AUTH_TOKEN": TOKEN,
        "TAP_GITHUB_ACTIVITY_REPOSITORIES": json.dumps(SELECTION),
        # Real time: an outage test must not ride out the default 15 minutes.
        "TAP_GITHUB_ACTIVITY_RETRY_MAX_SECONDS": "10",
    }
