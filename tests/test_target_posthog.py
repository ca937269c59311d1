"""target-posthog on Singer messages, against the local fake of PostHog's capture API.

The tap's own output (a sync of the seeded world, then of the world after a day of mutations)
becomes exactly one event per row after PostHog's deduplication, with the mapping's name,
timestamp and distinct id; batches keep to the size limits; retries recover from 5xx, 429 and
dropped connections; a STATE passes only once every event before it was accepted.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest
import yaml

from github_simulator import World
from github_simulator.truth import MUTATIONS
from posthog_fake import API_KEY, FakePostHog, PostHogFault, serve_posthog
from target_posthog.client import CaptureClient
from target_posthog.errors import CaptureFailedError, ConfigError
from target_posthog.events import MAX_EVENT_BYTES
from target_posthog.mapping import DEFAULTS, REPOSITORY
from target_posthog.target import OWN_SETTINGS, TargetPostHog
from tests.conftest import run_sync
from tests.e2e.project import ROOT

EVENT_STREAMS = {
    "pull_requests",
    "pull_request_reviews",
    "releases",
    "workflow_runs",
    "workflow_jobs",
    "commits",
    "traffic_views",
    "traffic_clones",
    "issues",
    "issue_comments",
    "deployments",
    "deployment_statuses",
}
NOT_EVENTS = {"repositories", "commit_branches", "traffic_paths", "traffic_referrers"}
NOT_EVENTS |= {"contributor_stats"}


@pytest.fixture
def posthog() -> Iterator[FakePostHog]:
    with serve_posthog() as fake:
        yield fake


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(CaptureClient, "pause", lambda _self, seconds: waited.append(seconds))
    return waited


class StateLog(io.StringIO):
    """The target's stdout: each STATE line with the number of events PostHog held when it was
    written."""

    def __init__(self, fake: FakePostHog) -> None:
        super().__init__()
        self.fake = fake
        self.states: list[tuple[dict[str, Any], int]] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.states.append((json.loads(line), len(self.fake.events)))
        return len(text)


def run_target(
    fake: FakePostHog, messages: list[dict[str, Any]], **settings: Any
) -> list[tuple[dict[str, Any], int]]:
    """One target run in this process; the STATE lines it wrote."""
    config = {"api_key": API_KEY, "host": fake.url, **settings}
    target = TargetPostHog(config=config, validate_config=True)
    out = StateLog(fake)
    lines = io.StringIO("".join(json.dumps(m, default=str) + "\n" for m in messages))
    with redirect_stdout(out):
        target.listen(file_input=lines)
    return out.states


def schema_message(stream: str, **properties: dict[str, Any]) -> dict[str, Any]:
    props = {
        "id": {"type": "integer"},
        "event_uuid": {"type": "string", "format": "uuid"},
        "owner": {"type": "string"},
        "repo": {"type": "string"},
        **properties,
    }
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": props},
        "key_properties": ["id"],
    }


RELEASES = schema_message(
    "releases",
    created_at={"type": ["string", "null"], "format": "date-time"},
    author_login={"type": ["string", "null"]},
    body={"type": ["string", "null"]},
)


def release(number: int, **fields: Any) -> dict[str, Any]:
    record = {
        "id": number,
        "event_uuid": f"00000000-0000-5000-8000-{number:012d}",
        "owner": "acme",
        "repo": "api",
        "created_at": "2026-01-02T03:04:05Z",
        "author_login": "alice",
        "body": "notes",
        **fields,
    }
    return {"type": "RECORD", "stream": "releases", "record": record}


def expected_event(stream: str, record: dict[str, Any]) -> tuple[str, str, dt.datetime, str]:
    """(uuid, event, timestamp, distinct_id) the mapping table (docs/posthog.md) gives a record."""
    timestamp_field, distinct_field = DEFAULTS[stream]
    distinct = record.get(distinct_field) if distinct_field != "repository" else None
    timestamp = dt.datetime.fromisoformat(record[timestamp_field].replace("Z", "+00:00"))
    return (
        record["event_uuid"],
        f"github_{stream}",
        timestamp,
        distinct or f"{record['owner']}/{record['repo']}",
    )


def test_every_event_row_becomes_one_event_and_other_streams_one_line(
    config: dict[str, Any], posthog: FakePostHog, caplog: pytest.LogCaptureFixture
):
    result = run_sync(config)
    assert set(result.records) == EVENT_STREAMS | NOT_EVENTS
    caplog.set_level("INFO")
    states = run_target(posthog, result.messages)

    expected = {
        expected_event(stream, record)
        for stream in EVENT_STREAMS
        for record in result.records[stream]
    }
    rows = sum(len(result.records[stream]) for stream in EVENT_STREAMS)
    assert len(expected) == rows, "two rows share an event key"
    assert set(posthog.deduplicated()) == expected
    assert not posthog.dropped
    # Properties are the record, with person profiles off.
    by_uuid = {event.uuid: event for event in posthog.events}
    record = result.records["pull_requests"][0]
    properties = by_uuid[record["event_uuid"]].properties
    assert properties["$process_person_profile"] is False
    assert {k: properties[k] for k in ("id", "title", "merged", "labels", "created_at")} == {
        k: record[k] for k in ("id", "title", "merged", "labels", "created_at")
    }
    # The last state passed on is the tap's last, written once everything was accepted.
    assert states[-1] == (result.state, len(posthog.events))
    skipped = [r.getMessage() for r in caplog.records if "has no event_uuid" in r.getMessage()]
    assert sorted(skipped) == [
        f"Stream {name} has no event_uuid: not sent to PostHog" for name in sorted(NOT_EVENTS)
    ]


def test_loading_again_after_a_day_of_changes_keeps_one_event_per_row(
    config: dict[str, Any], world: World, posthog: FakePostHog
):
    """Incremental, repeated and full re-syncs, with rows re-emitted with new values (pull
    requests merged since, today's traffic grown): every uuid keeps one deduplication key."""
    first = run_sync(config)
    run_target(posthog, first.messages)
    for name, mutation in MUTATIONS.items():
        mutation(world, random.Random(f"posthog:{name}"))  # noqa: S311 -- test data
    second = run_sync(config, state=first.state)
    fresh = run_sync(config)  # everything again, as after a lost state
    run_target(posthog, second.messages)
    run_target(posthog, fresh.messages)

    keys: dict[str, set[tuple[Any, ...]]] = {}
    for event in posthog.events:
        keys.setdefault(event.uuid, set()).add(event.key)
    assert {uuid: k for uuid, k in keys.items() if len(k) > 1} == {}
    rows = {
        record["event_uuid"]
        for result in (first, second, fresh)
        for stream in EVENT_STREAMS
        for record in result.records.get(stream, [])
    }
    assert set(keys) == rows
    assert len(posthog.deduplicated()) == len(rows)
    re_emitted = {r["event_uuid"] for r in second.records.get("pull_requests", [])}
    assert re_emitted & {r["event_uuid"] for r in first.records["pull_requests"]}, (
        "the mutations re-emitted no pull request: the test shows nothing"
    )


def test_mapping_settings_and_new_streams(posthog: FakePostHog, caplog: pytest.LogCaptureFixture):
    issues = schema_message(
        "issues",
        created_at={"type": "string", "format": "date-time"},
        author_login={"type": ["string", "null"]},
    )
    record = {
        "id": 7,
        "event_uuid": "00000000-0000-5000-8000-000000000007",
        "owner": "acme",
        "repo": "api",
        "created_at": "2026-02-03T04:05:06Z",
        "author_login": None,
    }
    messages = [
        issues,
        {"type": "RECORD", "stream": "issues", "record": record},
        RELEASES,
        release(1),
    ]
    overrides = {"releases": {"event": "release", "distinct_id": "id"}, "pull_request": {}}
    run_target(posthog, messages, streams=overrides)
    assert any(
        "The streams setting names streams this run had no events of: pull_request"
        in r.getMessage()
        for r in caplog.records
    )
    events = {e.event: e for e in posthog.events}
    # A new stream: its defaults; the author is null, so the repository is the distinct id.
    assert events["github_issues"].distinct_id == "acme/api"
    assert events["github_issues"].timestamp == dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    assert events["release"].distinct_id == "1"

    with pytest.raises(ConfigError, match=r"set streams\.sponsorships\.timestamp"):
        run_target(posthog, [schema_message("sponsorships")])
    with pytest.raises(ConfigError, match=r"streams\.releases\.timestamp: .* no field 'closed_at'"):
        run_target(posthog, [RELEASES], streams={"releases": {"timestamp": "closed_at"}})


def test_rows_without_their_time_are_reported_not_sent(
    posthog: FakePostHog, caplog: pytest.LogCaptureFixture
):
    run_target(posthog, [RELEASES, release(1, created_at=None), release(2)])
    assert [e.uuid for e in posthog.events] == ["00000000-0000-5000-8000-000000000002"]
    assert any(
        "releases record {'id': 1} not sent to PostHog: no created_at" in r.getMessage()
        for r in caplog.records
    )


def test_bodies_stay_under_20_mb_and_events_under_1_mb(
    posthog: FakePostHog, caplog: pytest.LogCaptureFixture
):
    big = "x" * 850_000
    huge = "é" * 1_500_000  # two bytes each in UTF-8
    messages = [RELEASES] + [release(n, body=big) for n in range(1, 31)]
    messages.append(release(99, body=huge))
    run_target(posthog, messages, batch_max_bytes=20_000_000)

    assert not posthog.dropped
    assert len(posthog.deduplicated()) == 31
    accepted = posthog.accepted()
    assert len(accepted) >= 2
    assert max(r.body_bytes for r in accepted) <= 20_000_000
    assert [r.status for r in posthog.requests] == [200] * len(posthog.requests)
    cut = next(e for e in posthog.events if e.properties["id"] == 99)
    assert cut.properties["truncated_properties"] == ["body"]
    assert huge.startswith(cut.properties["body"])
    assert len(json.dumps(cut.properties, ensure_ascii=False).encode()) < MAX_EVENT_BYTES
    intact = next(e for e in posthog.events if e.properties["id"] == 1)
    assert intact.properties["body"] == big
    assert "truncated_properties" not in intact.properties
    assert any(
        "releases event" in r.getMessage() and "body cut" in r.getMessage() for r in caplog.records
    )


def test_retries_recover_from_5xx_429_and_dropped_connections(
    posthog: FakePostHog, pauses: list[float]
):
    posthog.inject(PostHogFault(status=503, times=2))
    posthog.inject(PostHogFault(status=429, retry_after="7"))
    posthog.inject(PostHogFault(drop=True))
    posthog.inject(PostHogFault(status=502))
    run_target(posthog, [RELEASES, release(1), release(2)])
    assert len(posthog.deduplicated()) == 2
    assert [r.status for r in posthog.requests] == [503, 503, 429, 0, 502, 200]
    assert len(pauses) == 5
    assert pauses[2] >= 7, "Retry-After not honoured"
    # Exponential, with jitter between half and all of 1, 2, 4, ... seconds.
    assert [0.5 <= p / 2**i <= 1 for i, p in enumerate(pauses) if i != 2] == [True] * 4


def test_when_retries_run_out_no_state_passes(posthog: FakePostHog, pauses: list[float]):
    posthog.inject(PostHogFault(status=500, times=100))
    messages = [RELEASES, release(1), {"type": "STATE", "value": {"bookmarks": {"x": 1}}}]
    with pytest.raises(CaptureFailedError, match="still failed after 3 retries: status 500"):
        run_target(posthog, messages, max_retries=3)
    assert len(pauses) == 3
    assert not posthog.events


def test_a_state_passes_only_after_every_earlier_event_was_accepted(
    posthog: FakePostHog, pauses: list[float], monkeypatch: pytest.MonkeyPatch
):
    """singer-sdk drains every sink before it writes a state (Target.drain_all); with drains
    after every record (max record age 0), each state must find its events in PostHog."""
    monkeypatch.setattr(TargetPostHog, "_MAX_RECORD_AGE_IN_MINUTES", 0.0)
    messages: list[dict[str, Any]] = [RELEASES]
    for number in range(1, 6):
        messages.append(release(number))
        messages.append({"type": "STATE", "value": {"bookmarks": {"releases": number}}})
    states = run_target(posthog, messages)
    passed = [(state["bookmarks"]["releases"], held) for state, held in states]
    assert passed[-1] == (5, 5)
    assert [(n, held) for n, held in passed if held < n] == []

    # PostHog fails for good from the third event on: no state after the second passes.
    original = posthog.capture

    def failing_after_two(raw: bytes, encoding: str) -> tuple[int, dict[str, Any]]:
        if len(posthog.events) >= 2:
            return 503, {"error": "down"}
        return original(raw, encoding)

    monkeypatch.setattr(posthog, "capture", failing_after_two)
    posthog.events.clear()
    out = StateLog(posthog)
    target = TargetPostHog(
        config={"api_key": API_KEY, "host": posthog.url, "max_retries": 1}, validate_config=True
    )
    lines = io.StringIO("".join(json.dumps(m) + "\n" for m in messages))
    with redirect_stdout(out), pytest.raises(CaptureFailedError):
        target.listen(file_input=lines)
    passed = [(state["bookmarks"]["releases"], held) for state, held in out.states]
    assert passed == [(1, 2)]


def test_meltano_yml_lists_the_target_settings():
    loader = next(
        p
        for p in yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["loaders"]
        if p["name"] == "target-posthog"
    )
    listed = {s["name"]: s for s in loader["settings"]}
    assert set(listed) == {*OWN_SETTINGS, "batch_size_rows"}
    assert listed["api_key"].get("sensitive") is True
    assert loader["executable"] == "target-posthog"


def test_documented_mapping_table_is_the_code():
    readme = (ROOT / "docs" / "posthog.md").read_text()
    table = readme.split("<!-- posthog-mapping:start -->")[1].split("<!-- posthog-mapping:end -->")[
        0
    ]
    rows = [line for line in table.splitlines() if line.startswith("| `")]

    def cell(field: str) -> str:
        return "repository" if field == REPOSITORY else f"`{field}`"

    assert rows == [
        f"| `{stream}` | `github_{stream}` | {cell(timestamp)} | {cell(distinct)} |"
        for stream, (timestamp, distinct) in DEFAULTS.items()
    ]


@pytest.mark.parametrize(
    ("mode", "flagged"),
    [("auto", {"old"}), ("always", {"old", "recent"}), ("never", set())],
)
def test_historical_migration_flags_batches_of_old_events(
    posthog: FakePostHog, mode: str, flagged: set[str]
):
    now = dt.datetime.now(dt.UTC)
    old = (now - dt.timedelta(hours=49)).isoformat()
    recent = (now - dt.timedelta(hours=47)).isoformat()
    run_target(
        posthog,
        [RELEASES, release(1, created_at=old, body="old"), release(2, created_at=recent)],
        historical_migration=mode,
    )
    assert {e.properties["body"] for e in posthog.events if e.historical} == (
        {"old" if f == "old" else "notes" for f in flagged}
    )
    assert len(posthog.events) == 2


def test_413_splits_the_body_gzip_and_person_profiles(posthog: FakePostHog):
    posthog.inject(PostHogFault(status=413))
    run_target(
        posthog, [RELEASES] + [release(n) for n in range(1, 5)], process_person_profiles=True
    )
    assert [(r.status, r.events) for r in posthog.requests] == [(413, 0), (200, 2), (200, 2)]
    assert len(posthog.deduplicated()) == 4
    assert all(r.sent_bytes < r.body_bytes for r in posthog.accepted()), "not gzipped"
    assert all("$process_person_profile" not in e.properties for e in posthog.events)


def test_a_request_without_answer_times_out_and_is_retried(
    posthog: FakePostHog, pauses: list[float]
):
    stall = posthog.inject(PostHogFault(stall=threading.Event()))
    run_target(posthog, [RELEASES, release(1)], request_timeout=1)
    assert stall.reached.is_set()
    assert len(pauses) == 1
    assert len(posthog.deduplicated()) == 1
