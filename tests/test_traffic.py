"""Traffic streams: a history longer than GitHub's 14 days, dated snapshots of the top lists,
repositories without push access, and conditional requests."""

from __future__ import annotations

import copy
import json
import logging
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator

from github_simulator import FakeClock, GitHubSimulator, World, seeded_world
from github_simulator import traffic as sim
from tap_github_activity.errors import ConfigError
from tap_github_activity.settings import Settings
from tests.conftest import SyncResult, alice_config, run_sync

HOUR = 3600
DAY = 86400
TRAFFIC = {"traffic_views", "traffic_clones", "traffic_referrers", "traffic_paths"}
KEYS = {
    "traffic_views": ("repo_id", "timestamp"),
    "traffic_clones": ("repo_id", "timestamp"),
    "traffic_referrers": ("repo_id", "snapshot_date", "referrer"),
    "traffic_paths": ("repo_id", "snapshot_date", "path"),
}
TRAFFIC_PATH = r"/traffic/"
SHAPES = json.loads(
    (Path(__file__).parents[1] / "github_simulator" / "rest_shapes.json").read_text()
)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography


def upsert(stream: str, *results: SyncResult) -> dict[tuple[Any, ...], dict[str, Any]]:
    """What a target that upserts by primary key holds after loading these syncs in order."""
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for result in results:
        for record in result.records.get(stream, []):
            table[tuple(record[k] for k in KEYS[stream])] = record
    return table


def fields(
    table: dict[tuple[Any, ...], dict[str, Any]],
    *names: str,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {key: {name: row[name] for name in names} for key, row in table.items()}


def test_daily_counts_build_a_history_longer_than_the_window(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    first = run_sync(config, streams=TRAFFIC)
    first_views = sim.current(world, "traffic_views")
    # Later that day today's figures grow; the next day brings new traffic.
    sim.mutate_traffic(world, seeded(1))
    grown_today = sim.current(world, "traffic_views")
    clock.advance(DAY)
    sim.mutate_traffic(world, seeded(2))
    github.reset_log()

    second = run_sync(config, state=first.state, streams=TRAFFIC)

    for stream, expected in (
        ("traffic_views", sim.expected_traffic_views),
        ("traffic_clones", sim.expected_traffic_clones),
    ):
        table = upsert(stream, first, second)
        # One row per repository and day over both windows, each holding its latest value.
        assert set(table) == set(first.keys(stream, *KEYS[stream])) | set(
            second.keys(stream, *KEYS[stream])
        )
        assert fields(table, "count", "uniques") == expected(world)
        window = sim.current(world, stream)
        assert fields({k: v for k, v in table.items() if k in window}, "count", "uniques") == window
        # The day that left GitHub's window keeps the value the first sync read.
        dropped = {k: v for k, v in table.items() if k not in window}
        assert dropped
        assert {k[1] for k in dropped} == {min(day for _, day in table)}
        assert all(v in first.records[stream] for v in dropped.values())
        # The same day is the same event on every run.
        uuids: dict[tuple[Any, ...], str] = {}
        for row in first.records[stream] + second.records[stream]:
            key = (row["repo_id"], row["timestamp"])
            assert uuids.setdefault(key, row["event_uuid"]) == row["event_uuid"]
    views = upsert("traffic_views", first, second)
    # Yesterday's growing figure was re-read: the target holds the later, larger value.
    yesterday = {k for k in first_views if k[1] == max(day for _, day in first_views)}
    assert yesterday
    for key in yesterday:
        assert views[key]["count"] == grown_today[key]["count"] > first_views[key]["count"]
    # History now spans 15 days of a 14-day window.
    assert len({day for _, day in views}) == 15
    # The second sync: four requests per repository, each sent with the stored ETag of a
    # different answer (the window moved), so none is free.
    calls = github.requests(TRAFFIC_PATH)
    assert len(calls) == 12
    assert {c.status for c in calls} == {200}
    assert sum(c.points for c in calls) == 12
    assert all(c.if_none_match for c in calls if "/popular/" not in c.path)


def test_unchanged_traffic_costs_no_points(config, github: GitHubSimulator):
    config = {**config, "traffic_interval_hours": 0}  # read on every run
    first = run_sync(config, streams=TRAFFIC)
    assert sum(c.points for c in github.requests(TRAFFIC_PATH)) == 12
    github.reset_log()

    second = run_sync(config, state=first.state, streams=TRAFFIC)

    calls = github.requests(TRAFFIC_PATH)
    assert len(calls) == 12
    assert {c.status for c in calls} == {304}
    assert sum(c.points for c in calls) == 0
    assert not any(second.records.get(stream) for stream in TRAFFIC)


def test_top_lists_are_dated_snapshots(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    streams = {"traffic_referrers", "traffic_paths"}
    config = {**config, "traffic_interval_hours": 0}  # read on every run
    first = run_sync(config, streams=streams)
    assert {r["snapshot_date"] for r in first.records["traffic_referrers"]} == {"2026-11-20"}
    assert fields(upsert("traffic_referrers", first), "count", "uniques") == sim.current(
        world, "traffic_referrers"
    )

    # Same day, new referrers: the day's rows are replaced key by key.
    sim.mutate_traffic(world, seeded(3))
    github.reset_log()
    second = run_sync(config, state=first.state, streams=streams)
    same_day = upsert("traffic_referrers", first, second)
    assert {key[1] for key in same_day} == {"2026-11-20"}
    today = sim.current(world, "traffic_referrers")
    assert fields(upsert("traffic_referrers", second), "count", "uniques") == today
    # Each newcomer pushed one referrer out of a full top 10: its earlier row stays.
    assert len(same_day) > len(today)
    assert fields(same_day, "count", "uniques") == sim.expected_traffic_referrers(world)
    # Both lists changed: sent with today's ETag, answered in full.
    assert {c.status for c in github.requests(TRAFFIC_PATH)} == {200}
    assert all(c.if_none_match for c in github.requests(TRAFFIC_PATH))

    # The next day adds a snapshot, and the earlier one stays.
    clock.advance(DAY)
    github.reset_log()
    third = run_sync(config, state=second.state, streams=streams)
    history = upsert("traffic_referrers", first, second, third)
    assert {key[1] for key in history} == {"2026-11-20", "2026-11-21"}
    assert {k: v for k, v in history.items() if k[1] == "2026-11-20"} == same_day
    assert fields(
        {k: v for k, v in history.items() if k[1] == "2026-11-21"}, "count", "uniques"
    ) == sim.current(world, "traffic_referrers")
    assert fields(history, "count", "uniques") == sim.expected_traffic_referrers(world)
    paths = upsert("traffic_paths", first, second, third)
    assert fields(paths, "title", "count", "uniques") == sim.expected_traffic_paths(world)
    assert {key[1] for key in paths} == {"2026-11-20", "2026-11-21"}
    # A new day needs its own rows, even for a list that did not change: asked without ETag.
    assert [c.if_none_match for c in github.requests(TRAFFIC_PATH)] == [None] * 6


def test_each_repository_is_read_once_a_day_at_its_own_hour(clock: FakeClock):
    world = seeded_world(clock, scale={"repos": 24, "pulls_per_repo": 0, "commits_per_repo": 0})
    with GitHubSimulator(world) as github:
        config = alice_config(github)  # traffic_interval_hours: 24 by default
        state = run_sync(config, streams=TRAFFIC).state
        assert len(github.requests(TRAFFIC_PATH)) == 24 * 4
        first_day = clock.now() // DAY
        runs_per_repository: Counter[str] = Counter()
        read_per_run = []
        for _ in range(24):
            clock.advance(HOUR)
            github.reset_log()
            state = run_sync(config, state=state, streams=TRAFFIC).state
            calls = github.requests(TRAFFIC_PATH)
            read = Counter(c.path.split("/")[3] for c in calls)
            assert set(read.values()) <= {4}  # a repository read is its four endpoints
            runs_per_repository.update(read.keys())
            read_per_run.append(len(read))
            # The top lists' ETags are kept for a read on the same day only (a new day needs
            # its own snapshot): free then, asked in full the next day.
            for call in github.requests("/traffic/popular/"):
                same_day = clock.now() // DAY == first_day
                assert (call.status, bool(call.if_none_match)) == (
                    (304, True) if same_day else (200, False)
                )
        # Over the day every repository was read again, once; the runs share the reads.
        assert runs_per_repository == dict.fromkeys(runs_per_repository, 1)
        assert len(runs_per_repository) == 24
        assert max(read_per_run) <= 4
        assert sum(1 for n in read_per_run if n) >= 12
        # Not again within the hour; state from before the interval existed (no read time)
        # reads every repository.
        github.reset_log()
        state = run_sync(config, state=state, streams=TRAFFIC).state
        assert github.requests(TRAFFIC_PATH) == []
        older = copy.deepcopy(state)
        for stream in TRAFFIC:
            for partition in older["bookmarks"][stream]["partitions"]:
                del partition["read_at"]
        run_sync(config, state=older, streams=TRAFFIC)
        assert len(github.requests(TRAFFIC_PATH)) == 24 * 4


def test_an_empty_top_list_is_asked_conditionally_every_day(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    infra = world.repo("acme", "infra")
    assert infra is not None
    sim.store(world).referrers[infra.id] = {}
    first = run_sync(config, streams={"traffic_referrers"})
    assert infra.id not in {r["repo_id"] for r in first.records["traffic_referrers"]}
    clock.advance(DAY)
    github.reset_log()

    run_sync(config, state=first.state, streams={"traffic_referrers"})

    (call,) = github.requests("/acme/infra/traffic/")
    assert (call.status, call.points) == (304, 0)
    assert call.if_none_match


def test_repository_without_push_access_is_skipped_once(
    config, github: GitHubSimulator, world: World, caplog: pytest.LogCaptureFixture
):
    web = world.repo("acme", "web")
    assert web is not None
    web.pushers = {"bob"}
    caplog.set_level(logging.WARNING)

    result = run_sync(config, streams=TRAFFIC)

    # Every other repository loads in all four streams.
    for stream in TRAFFIC:
        assert {r["repo"] for r in result.records[stream]} == {"api", "infra"}
    # One request found out; the other three traffic endpoints were not asked.
    web_calls = github.requests("/acme/web/traffic/")
    assert [(c.path, c.status) for c in web_calls] == [("/repos/acme/web/traffic/views", 403)]
    assert len(github.requests(TRAFFIC_PATH)) == 9
    assert result.tap.run_summary.skipped == {
        "traffic": ["acme/web (403 Must have push access to repository)"]
    }
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
        and "acme/web" in r.getMessage()
        and "skipped" not in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "Skipping the traffic of acme/web" in warnings[0]
    assert "Administration" in warnings[0]


def test_no_activate_version_even_when_configured(config, github: GitHubSimulator):
    result = run_sync(
        {**config, "emit_activate_version_messages": True}, streams=TRAFFIC | {"repositories"}
    )
    activated = {m["stream"] for m in result.messages if m["type"] == "ACTIVATE_VERSION"}
    # Re-sending only GitHub's window must not make targets delete the older days.
    assert not activated & TRAFFIC
    assert result.tap.config["emit_activate_version_messages"] is True
    assert all(result.records[stream] for stream in TRAFFIC)


@pytest.mark.parametrize(
    ("path", "query", "operation"),
    [
        ("traffic/views", {"per": "day"}, "GET /repos/{owner}/{repo}/traffic/views"),
        ("traffic/views", {"per": "week"}, "GET /repos/{owner}/{repo}/traffic/views"),
        ("traffic/clones", {"per": "day"}, "GET /repos/{owner}/{repo}/traffic/clones"),
        ("traffic/clones", {"per": "week"}, "GET /repos/{owner}/{repo}/traffic/clones"),
        ("traffic/popular/referrers", {}, "GET /repos/{owner}/{repo}/traffic/popular/referrers"),
        ("traffic/popular/paths", {}, "GET /repos/{owner}/{repo}/traffic/popular/paths"),
    ],
)
def test_simulator_answers_in_githubs_shapes(
    github: GitHubSimulator, world: World, path: str, query: dict[str, str], operation: str
):
    sim.mutate_traffic(world, seeded(4))
    response = requests.get(
        f"{github.api_url}/repos/acme/api/{path}",
        params=query,
        headers={"Authorization": "token ghp_alice"},
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    errors = [e.message for e in Draft7Validator(SHAPES[operation]).iter_errors(body)]
    assert errors == []
    assert body
    if isinstance(body, dict):
        entries = body[path.rsplit("/", maxsplit=1)[-1]]
        assert len(entries) <= (14 if query["per"] == "day" else 3)
        assert body["count"] == sum(e["count"] for e in entries)
    else:
        assert len(body) <= 10
        assert [e["count"] for e in body] == sorted((e["count"] for e in body), reverse=True)


def test_simulator_refuses_traffic_without_push_access(github: GitHubSimulator, world: World):
    web = world.repo("acme", "web")
    assert web is not None
    web.pushers = set()
    response = requests.get(
        f"{github.api_url}/repos/acme/web/traffic/views",
        headers={"Authorization": "token ghp_alice"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["message"] == "Must have push access to repository"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "traffic_interval_hours must be zero or a positive whole number, not -1."),
        ("24", "traffic_interval_hours must be zero or a positive whole number, not '24'."),
        (313, "traffic_interval_hours must be at most 312 (13 days: GitHub serves 14 days"),
    ],
)
def test_the_interval_is_checked(config, value: object, message: str):
    with pytest.raises(ConfigError) as refused:
        Settings.from_config({**config, "traffic_interval_hours": value}, version="0")
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)
    for fine in (0, 1, 24, 312):
        settings = Settings.from_config({**config, "traffic_interval_hours": fine}, version="0")
        assert settings.traffic_interval_hours == fine
    assert Settings.from_config(config, version="0").traffic_interval_hours == 24
