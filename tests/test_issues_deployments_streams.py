"""The issues and deployments families through the tap: the streams emit the simulator's data,
a repeated run from the state emits nothing, and the settings that shape their records."""

from __future__ import annotations

import random

from github_simulator.truth import EXPECTED, MUTATIONS
from tap_github_activity.streams.base import event_uuid
from tests.conftest import run_sync

STREAMS = {"issues", "issue_comments", "deployments", "deployment_statuses"}


def keyed(records: list[dict]) -> dict:
    return {(record["id"],): record for record in records}


def projected(records: list[dict], truth: dict) -> dict:
    fields = next(iter(truth.values())).keys()
    return {key: {f: row.get(f) for f in fields} for key, row in keyed(records).items()}


def test_the_streams_hold_the_simulators_data_and_a_repeated_run_adds_nothing(config, world, clock):
    first = run_sync(config, streams=STREAMS)
    for stream in STREAMS:
        truth = EXPECTED[stream](world)
        assert projected(first.records[stream], truth) == truth, stream
        assert all(
            record["event_uuid"] == event_uuid(stream, (record["id"],))
            for record in first.records[stream]
        )
    again = run_sync(config, state=first.state, streams=STREAMS)
    assert again.records == {}
    clock.advance(3600)
    for family in ("issues", "deployments"):
        MUTATIONS[family](world, random.Random(family))  # noqa: S311 -- test data
    changed = run_sync(config, state=again.state, streams=STREAMS)
    # A deployment emitted again (a new status) keeps its uuid.
    first_uuids = {r["id"]: r["event_uuid"] for r in first.records["deployments"]}
    again_uuids = {r["id"]: r["event_uuid"] for r in changed.records["deployments"]}
    assert again_uuids.keys() & first_uuids.keys()
    assert all(first_uuids.get(key, uuid) == uuid for key, uuid in again_uuids.items())
    for stream in STREAMS:
        truth = EXPECTED[stream](world)
        merged = {**keyed(first.records[stream]), **keyed(changed.records[stream])}
        assert projected(list(merged.values()), truth) == truth, stream


def test_bodies_can_be_left_out(config):
    result = run_sync({**config, "include_bodies": False}, streams={"issues", "issue_comments"})
    for stream in ("issues", "issue_comments"):
        assert {record["body"] for record in result.records[stream]} == {None}


def test_every_record_of_every_stream_carries_the_tags(config):
    result = run_sync({**config, "tags": ["team-a", "emea"]})
    assert len(result.records) == 17
    for stream, records in result.records.items():
        assert {tuple(record["tags"]) for record in records} == {("team-a", "emea")}, stream
    untagged = run_sync(config, streams={"repositories", "issues"})
    assert {tuple(r["tags"]) for rs in untagged.records.values() for r in rs} == {()}


def test_start_date_bounds_the_first_sync(config, world):
    start = "2026-11-14T12:00:00Z"  # the world's present is 2026-11-20T12:00:00Z
    result = run_sync({**config, "start_date": start}, streams=STREAMS)
    for stream in STREAMS:
        truth = EXPECTED[stream](world)
        field = "created_at" if stream.startswith("deployment") else "updated_at"
        expected = {key for key, value in truth.items() if value[field] >= start}
        if stream == "deployment_statuses":  # every status of a deployment read
            deployments = {
                key[0]
                for key, value in EXPECTED["deployments"](world).items()
                if value["created_at"] >= start
            }
            expected = {k for k, v in truth.items() if v["deployment_id"] in deployments}
        assert set(keyed(result.records.get(stream, []))) == expected, stream
        if stream in ("issue_comments", "deployments"):  # the bound leaves some out, not all
            assert 0 < len(expected) < len(truth), stream
