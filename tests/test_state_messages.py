"""STATE messages: the whole tap state is written at most once per STATE_MESSAGE_INTERVAL seconds
while a run goes on, and once when it ends; a failed run leaves its last checkpoint."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from github_simulator import Fault, GitHubSimulator
from tap_github_activity import sdk_seams
from tap_github_activity.errors import AuthenticationError
from tap_github_activity.sdk_seams import STATE_MESSAGE_INTERVAL
from tap_github_activity.tap import TapGitHubActivity
from tests.conftest import SyncResult, run_sync, select


class Monotonic:
    """sdk_seams' monotonic clock: `step` seconds pass at every reading."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def seconds_per_reading(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    """How much wall time passes between two checks for a checkpoint (set `step`)."""
    clock = Monotonic(0.0)
    monkeypatch.setattr(sdk_seams, "monotonic", clock)
    return clock


def states(result: SyncResult) -> list[dict[str, Any]]:
    return [m["value"] for m in result.messages if m["type"] == "STATE"]


def partitions(state: dict[str, Any]) -> int:
    return sum(len(b.get("partitions", [])) for b in state["bookmarks"].values())


def test_a_short_run_writes_its_state_once_at_the_end(config, seconds_per_reading: Monotonic):
    seconds_per_reading.step = STATE_MESSAGE_INTERVAL
    every = run_sync(config)
    # A checkpoint due at every check: singer-sdk's own rhythm, one after each partition whose
    # state changed.
    assert len(states(every)) > 30
    assert partitions(every.state) > 30

    seconds_per_reading.step = 0.0
    short = run_sync(config)

    assert len(states(short)) == 1
    assert short.state == every.state
    assert [m["type"] for m in short.messages][-1] == "STATE"  # after every record


def test_a_long_run_writes_a_checkpoint_per_interval(config, seconds_per_reading: Monotonic):
    seconds_per_reading.step = STATE_MESSAGE_INTERVAL / 4  # due at every fourth check
    result = run_sync(config)

    written = states(result)
    every_partition = partitions(result.state)
    assert 1 < len(written) < every_partition / 2
    # Each checkpoint holds what was emitted before it: the bookmarks only grow.
    assert [partitions(s) for s in written] == sorted(partitions(s) for s in written)


def test_a_failed_run_leaves_its_last_checkpoint(
    config, github: GitHubSimulator, seconds_per_reading: Monotonic
):
    # A failure of the whole run (a 503 would fail each repository's runs alone).
    github.inject(Fault(r"/actions/runs$", status=401, times=1000))
    discovered = TapGitHubActivity(config=config, validate_config=True)
    tap = TapGitHubActivity(
        config=config, state={}, validate_config=True, catalog=select(discovered.catalog_dict, None)
    )
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(AuthenticationError):
        tap.sync_all()
    messages = [json.loads(line) for line in buffer.getvalue().splitlines() if line]

    # No checkpoint was due: nothing of the failed run's progress is claimed (the target
    # keeps the state it had), although records were emitted.
    assert any(m["type"] == "RECORD" for m in messages)
    assert [m for m in messages if m["type"] == "STATE"] == []
