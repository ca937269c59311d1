"""The default log: a few lines per run plus progress; singer-sdk's per-stream lines at DEBUG,
its warnings that are wrong for this tap never; per-repository detail at DEBUG."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from github_simulator import FakeClock, GitHubSimulator
from github_simulator.server import Fault
from tap_github_activity import sdk_logs
from tap_github_activity.accounting import RequestLedger
from tap_github_activity.clock import Clock
from tap_github_activity.fetch import Repository
from tap_github_activity.progress import PROGRESS_INTERVAL, Progress

# The most INFO-or-above messages a first sync of the 3-repository world may log when each of its
# 47 requests takes SECONDS_PER_REQUEST of (fake) time: the change probe's line, at most 5
# progress lines (one per 10 s), the end line and the run summary (counted: 6, with 3 progress
# lines; the fetching threads' timing may add one or two).
MOST_LINES = 8
SECONDS_PER_REQUEST = 1.0

# singer-sdk's lines that must not be in the default log.
SDK_CHATTER = (
    "Skipping parse of env var settings",
    "as child stream to",
    "Beginning sync of",
    "Starting incremental sync of",
    "not resumable if interrupted",
    "Forcing full table replication",
)

PROGRESS = re.compile(
    r"^Progress: (\d+) of 3 repositories, (\d+) records, (\d+) rate-limit points, "
    r"(?:about .+ left|time left not known yet)$"
)
FINISHED = re.compile(r"^Finished: 3 of 3 repositories, (\d+) records, (\d+) rate-limit points in ")


def synced_log(
    caplog: pytest.LogCaptureFixture,
    github: GitHubSimulator,
    sync: Any,
    config: dict[str, Any],
    level: int,
) -> tuple[list[logging.LogRecord], Any]:
    """The log records of a first sync at `level`, each request taking a second of the world's
    time (so that the run lasts long enough for progress lines)."""
    github.inject(Fault(r".*", advance=SECONDS_PER_REQUEST, times=10**6))
    caplog.set_level(level)
    result = sync(config)
    return caplog.records, result


def test_default_log_is_a_few_lines_and_progress(
    caplog: pytest.LogCaptureFixture, github: GitHubSimulator, sync: Any, config: dict[str, Any]
):
    records, result = synced_log(caplog, github, sync, config, logging.INFO)
    # singer-sdk's METRIC lines are off by default in meltano.yml (README, "Logs").
    lines = [
        r.getMessage()
        for r in records
        if r.levelno >= logging.INFO and r.name != "singer_sdk.metrics"
    ]
    assert len(lines) <= MOST_LINES, "\n".join(lines)
    for chatter in SDK_CHATTER:
        assert not [line for line in lines if chatter in line], chatter

    progress = [PROGRESS.match(line) for line in lines if line.startswith("Progress:")]
    assert len(progress) >= 2, lines
    figures = [(int(m[1]), int(m[2]), int(m[3])) for m in progress if m]
    assert len(figures) == len(progress), lines
    for column in zip(*figures, strict=True):
        assert list(column) == sorted(column)  # done, records and points only grow
    assert any("about" in line for line in lines if line.startswith("Progress:"))

    finished = [m for line in lines if (m := FINISHED.match(line))]
    assert len(finished) == 1, lines
    assert int(finished[0][1]) == sum(len(rows) for rows in result.records.values())
    assert int(finished[0][2]) == result.tap.client.ledger.total_points() > 0
    # The run summary stays at INFO, after the last progress line.
    summary = [i for i, line in enumerate(lines) if line.startswith("GitHub requests this run:")]
    assert len(summary) == 1, lines
    assert lines.index(finished[0].string) < summary[0]


def test_debug_log_has_per_repository_detail_and_sdk_lines(
    caplog: pytest.LogCaptureFixture, github: GitHubSimulator, sync: Any, config: dict[str, Any]
):
    records, _ = synced_log(caplog, github, sync, config, logging.DEBUG)
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    for repository in ("acme/api", "acme/web", "acme/infra"):
        detail = [line for line in debug if line.startswith(f"{repository} done: ")]
        assert len(detail) == 1, debug
        assert re.search(r"done: \d+ records \(.*pull_requests \d+", detail[0]), detail
    # singer-sdk's per-stream lines are still there, one level down (this pins their texts:
    # a singer-sdk upgrade that rewords them fails here, not silently in users' logs).
    for demoted in SDK_CHATTER[:4]:
        assert any(demoted in line for line in debug), demoted
    # Wrong for this tap at any level.
    shown = [r.getMessage() for r in records]
    for dropped in SDK_CHATTER[4:]:
        assert not [line for line in shown if dropped in line], dropped


def test_a_failed_run_ends_with_stopped(
    caplog: pytest.LogCaptureFixture, github: GitHubSimulator, sync: Any, config: dict[str, Any]
):
    github.inject(Fault(r"^/repos/acme/web/releases$", status=500, times=10**6))
    caplog.set_level(logging.INFO)
    with pytest.raises(Exception, match="500"):
        sync(config)
    ends = [r.getMessage() for r in caplog.records if r.name == "tap_github_activity.progress"]
    assert ends, caplog.text
    assert ends[-1].startswith("Stopped: "), ends
    assert not [line for line in ends if line.startswith("Finished:")]


def test_the_dropped_warnings_are_what_singer_sdk_says_here(
    caplog: pytest.LogCaptureFixture,
    github: GitHubSimulator,
    sync: Any,
    config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
):
    # Without the filter's drop list the two warnings are there: the texts it matches are
    # singer-sdk's (an upgrade that rewords them fails here).
    monkeypatch.setattr(sdk_logs, "DROPPED", ())
    records, _ = synced_log(caplog, github, sync, config, logging.INFO)
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    for dropped in SDK_CHATTER[4:]:
        assert any(dropped in line for line in warnings), dropped


def test_progress_line_every_interval_with_time_left(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
):
    caplog.set_level(logging.INFO)
    ledger = RequestLedger()
    progress = Progress(ledger, Clock())
    clock.advance(PROGRESS_INTERVAL)
    progress.record("repositories", None)  # the selection, before the plan
    assert caplog.records[-1].getMessage() == (
        "Progress: no per-repository stream started, 1 records, 0 rate-limit points, "
        "time left not known yet"
    )
    caplog.clear()
    repositories = [Repository(repo_id=i, owner="acme", name=f"r{i}") for i in range(4)]
    progress.plan(repositories, ["pulls", "releases"])
    progress.record("pull_requests", repositories[0].context())
    assert not caplog.records  # not before the interval
    ledger.record("pull_requests", "graphql", 200, 3)
    progress.finished(repositories[0], "pulls")
    clock.advance(PROGRESS_INTERVAL)
    progress.finished(repositories[0], "releases")
    # A quarter done in 20 s: 60 s left.
    assert [r.getMessage() for r in caplog.records] == [
        "Progress: 1 of 4 repositories, 2 records, 3 rate-limit points, about 1 min 00 s left"
    ]
    clock.advance(PROGRESS_INTERVAL - 1)
    progress.record("pull_requests", repositories[1].context())
    assert len(caplog.records) == 1
    clock.advance(1)
    progress.report_end()
    assert caplog.records[-1].getMessage() == (
        "Finished: 1 of 4 repositories, 3 records, 3 rate-limit points in 30 s"
    )
    progress.report_end(failed=True)
    assert caplog.records[-1].getMessage() == (
        "Stopped: 1 of 4 repositories, 3 records, 3 rate-limit points after 30 s"
    )
