"""contributor_stats: weekly rows per contributor, statistics GitHub is still computing (202)
resolved within one bounded wait, empty repositories (204), and conditional requests."""

from __future__ import annotations

import copy
import json
import logging
import random
from pathlib import Path

import pytest
import requests
from jsonschema import Draft7Validator

from github_simulator import FakeClock, GitHubSimulator, World, commits
from github_simulator import statistics as sim
from tap_github_activity.conditional import STATE_KEY
from tap_github_activity.fetch.statistics import retry_delays
from tests.conftest import run_sync

STREAM = {"contributor_stats"}
STATS_PATH = r"/stats/contributors$"
SHAPES = json.loads(
    (Path(__file__).parents[1] / "github_simulator" / "rest_shapes.json").read_text()
)


def rows(result) -> dict[tuple, dict]:
    table = {}
    for record in result.records.get("contributor_stats", []):
        key = (record["repo_id"], record["contributor_id"], record["week_start"])
        assert key not in table
        table[key] = {
            "commits": record["commits"],
            "additions": record["additions"],
            "deletions": record["deletions"],
        }
    return table


def repo_id(world: World, name: str) -> int:
    repo = world.repo("acme", name)
    assert repo is not None
    return repo.id


def test_one_row_per_contributor_and_active_week(config, github: GitHubSimulator, world: World):
    result = run_sync(config, streams=STREAM)

    assert rows(result) == sim.expected_contributor_stats(world)
    record = result.records["contributor_stats"][0]
    assert set(record) == {
        "repo_id",
        "owner",
        "repo",
        "contributor_id",
        "contributor_login",
        "week_start",
        "commits",
        "additions",
        "deletions",
        "tags",
    }
    assert record["owner"] == "acme"
    assert all(
        r["commits"] or r["additions"] or r["deletions"]
        for r in result.records["contributor_stats"]
    )
    # GitHub's answer has every week since the first, most of them empty: those are no rows.
    assert len(result.records["contributor_stats"]) < sum(
        len(c["weeks"])
        for rid in sim.store(world).contributors
        for c in sim.contributors_answer(world, rid, github.api_url)
    )
    calls = github.requests(STATS_PATH)
    assert [(c.status, c.points) for c in calls] == [(200, 1)] * 3
    # Asked concurrently: in any order.
    assert sorted(c.path for c in calls) == [
        "/repos/acme/api/stats/contributors",
        "/repos/acme/infra/stats/contributors",
        "/repos/acme/web/stats/contributors",
    ]


def test_statistics_being_computed_are_asked_again_after_the_others(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    sim.store(world).pending_202[repo_id(world, "web")] = 2

    result = run_sync(config, streams=STREAM)

    # 3 requests (concurrent: in any order), then 2 more for the repository GitHub was
    # computing, after growing waits.
    calls = [(c.path.split("/")[3], c.status) for c in github.requests(STATS_PATH)]
    assert sorted(calls[:3]) == [("api", 200), ("infra", 200), ("web", 202)]
    assert calls[3:] == [("web", 202), ("web", 200)]
    assert clock.slept == [2.0, 4.0]
    assert result.tap.client.ledger.waited["contributor_stats"] == 6.0
    assert rows(result) == sim.expected_contributor_stats(world)
    assert result.tap.run_summary.skipped == {}


def test_one_wait_serves_every_repository_being_computed(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    for name in ("api", "infra", "web"):
        sim.store(world).pending_202[repo_id(world, name)] = 1

    result = run_sync(config, streams=STREAM)

    assert [c.status for c in github.requests(STATS_PATH)] == [202] * 3 + [200] * 3
    assert clock.slept == [2.0]
    assert rows(result) == sim.expected_contributor_stats(world)


def test_still_computing_after_the_wait_is_reported_and_read_next_run(
    config,
    github: GitHubSimulator,
    world: World,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
):
    web = repo_id(world, "web")
    sim.store(world).pending_202[web] = 5
    config = {**config, "stats_max_wait_seconds": 10}
    caplog.set_level(logging.WARNING)

    first = run_sync(config, streams=STREAM)

    statuses = [c.status for c in github.requests(STATS_PATH)]
    assert sorted(statuses[:3]) == [200, 200, 202]  # the first round, concurrent
    assert statuses[3:] == [202, 202, 202]
    assert clock.slept == [2.0, 4.0, 4.0]  # doubling, the last cut to the 10 s bound
    # Nothing stands in for the repository GitHub had not computed.
    assert web not in {key[0] for key in rows(first)}
    assert first.tap.run_summary.skipped == {
        "contributor_stats": ["acme/web (statistics still being computed)"]
    }
    assert any(
        "acme/web" in r.getMessage() and "still computing" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )
    # ETags of the repositories read (web's answer was not computed yet: none kept).
    assert set(first.state["bookmarks"]["contributor_stats"][STATE_KEY]) == {
        "/repos/acme/api/stats/contributors",
        "/repos/acme/infra/stats/contributors",
    }
    github.reset_log()
    clock.slept.clear()

    second = run_sync(config, state=first.state, streams=STREAM)

    calls = [(c.path.split("/")[3], c.status, c.points) for c in github.requests(STATS_PATH)]
    # Repositories whose default branch has not moved are not asked; the late one is read
    # after one wait.
    assert calls == [("web", 202, 1), ("web", 200, 1)]
    assert clock.slept == [2.0]
    expected = sim.expected_contributor_stats(world)
    assert rows(second) == {k: v for k, v in expected.items() if k[0] == web}
    assert rows(first) | rows(second) == expected
    assert second.tap.run_summary.skipped == {}


def test_asked_again_only_where_the_default_branch_moved(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    first = run_sync(config, streams=STREAM)
    # Statistics change with a push to the default branch (GitHub caches them by its head).
    clock.advance(3600)
    sim.mutate_statistics(world, random.Random(1))  # noqa: S311 -- test data
    api = world.repo("acme", "api")
    assert api is not None
    github.reset_log()

    second = run_sync(config, state=first.state, streams=STREAM)

    calls = sorted((c.path.split("/")[3], c.status) for c in github.requests(STATS_PATH))
    assert calls == [("api", 200), ("infra", 200), ("web", 200)]
    assert rows(first) | rows(second) == sim.expected_contributor_stats(world)
    # A push that changes no statistics (GitHub counts no merge commit): asked, 304.
    commits.git(world, api).advance(api.default_branch, world.now(), message="Merge")
    github.reset_log()

    third = run_sync(config, state=second.state, streams=STREAM)

    calls = [(c.path.split("/")[3], c.status) for c in github.requests(STATS_PATH)]
    assert calls == [("api", 304)]
    assert rows(third) == {}
    # Then nothing moved: nothing asked.
    github.reset_log()
    fourth = run_sync(config, state=third.state, streams=STREAM)
    assert github.requests(STATS_PATH) == []
    assert (
        fourth.state["bookmarks"]["contributor_stats"]
        == third.state["bookmarks"]["contributor_stats"]
    )


def test_state_from_before_the_heads_were_kept_asks_with_its_etags(config, github: GitHubSimulator):
    first = run_sync(config, streams=STREAM)
    older = copy.deepcopy(first.state)
    entries = older["bookmarks"]["contributor_stats"][STATE_KEY]
    for entry in entries.values():
        del entry["head"]
    github.reset_log()

    second = run_sync(config, state=older, streams=STREAM)

    assert [c.status for c in github.requests(STATS_PATH)] == [304] * 3
    assert (
        second.state["bookmarks"]["contributor_stats"]
        == first.state["bookmarks"]["contributor_stats"]
    )


def test_no_waiting_when_the_bound_is_zero(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    sim.store(world).pending_202[repo_id(world, "api")] = 1

    result = run_sync({**config, "stats_max_wait_seconds": 0}, streams=STREAM)

    assert len(github.requests(STATS_PATH)) == 3
    assert clock.slept == []
    assert result.tap.run_summary.skipped == {
        "contributor_stats": ["acme/api (statistics still being computed)"]
    }


def test_empty_repository_has_no_rows_and_no_error(config, github: GitHubSimulator, world: World):
    infra = repo_id(world, "infra")
    sim.store(world).contributors[infra] = {}

    result = run_sync(config, streams=STREAM)

    assert sorted(c.status for c in github.requests(STATS_PATH)) == [200, 200, 204]
    assert infra not in {key[0] for key in rows(result)}
    assert rows(result) == sim.expected_contributor_stats(world)
    assert result.tap.run_summary.skipped == {}


def test_line_counts_github_withholds_are_null_not_zero(
    config, github: GitHubSimulator, world: World
):
    api = repo_id(world, "api")
    week = sim.current_week(world)
    sim.add_activity(world, api, "alice", week, (500, 20, sim.LINE_COUNT_COMMIT_LIMIT))

    result = run_sync(config, streams=STREAM)

    api_rows = {k: v for k, v in rows(result).items() if k[0] == api}
    assert api_rows
    assert all(v["additions"] is None and v["deletions"] is None for v in api_rows.values())
    assert all(v["commits"] > 0 for v in api_rows.values())
    others = {k: v for k, v in rows(result).items() if k[0] != api}
    assert all(v["additions"] is not None for v in others.values())
    assert rows(result) == sim.expected_contributor_stats(world)


def test_no_activate_version_so_rows_of_late_repositories_stay(config, github: GitHubSimulator):
    result = run_sync({**config, "emit_activate_version_messages": True}, streams=STREAM)

    assert not [m for m in result.messages if m["type"] == "ACTIVATE_VERSION"]
    assert result.records["contributor_stats"]


def test_retry_delays_double_within_the_bound():
    assert list(retry_delays(120)) == [2, 4, 8, 16, 32, 58]
    assert list(retry_delays(1)) == [1]
    assert list(retry_delays(0)) == []


def test_simulator_answers_in_githubs_shape(github: GitHubSimulator, world: World):
    response = requests.get(
        f"{github.api_url}/repos/acme/api/stats/contributors",
        headers={"Authorization": "token ghp_alice"},
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    validator = Draft7Validator(SHAPES["GET /repos/{owner}/{repo}/stats/contributors"])
    assert [e.message for e in validator.iter_errors(body)] == []
    weeks = [[w["w"] for w in contributor["weeks"]] for contributor in body]
    assert all(w == weeks[0] for w in weeks)  # every contributor lists the same weeks
    assert all((b - a) == 7 * 86400 for a, b in zip(weeks[0], weeks[0][1:], strict=False))
    assert all(w % (7 * 86400) == 3 * 86400 for w in weeks[0])  # Sundays, 00:00 UTC

    sim.store(world).pending_202[repo_id(world, "api")] = 1
    pending = requests.get(
        f"{github.api_url}/repos/acme/api/stats/contributors",
        headers={"Authorization": "token ghp_alice"},
        timeout=10,
    )
    assert (pending.status_code, pending.json()) == (202, {})
