"""Every token spent down to the reserve: the tap waits for the earliest reset (on the fake
clock), says until when, and never spends a token's reserve."""

from __future__ import annotations

import logging

import pytest

from github_simulator import FakeClock, World
from tap_github_activity.client import GitHubClient
from tap_github_activity.settings import Settings
from tests.conftest import EIGHT_REPOSITORIES, run_sync, two_token_world

NAMES = EIGHT_REPOSITORIES


@pytest.fixture
def world(clock: FakeClock) -> World:
    return two_token_world(clock, limit_a=203, limit_b=202)


def test_all_tokens_spent_waits_until_the_earliest_reset(github, clock, caplog):
    started = clock.now()  # 2026-11-20 12:00:00 UTC
    config = {
        "auth_tokens": ["ghp_tokenA", "ghp_tokenB"],
        "api_url": github.api_url,
        "repositories": NAMES,
        "rate_limit_reserve": 200,
    }
    with caplog.at_level(logging.WARNING, logger="tap_github_activity"):
        result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 8
    callers = [r.caller for r in github.requests()]
    # A down to its reserve (3 requests), B down to its reserve (2), one wait, then A again.
    assert callers == ["token:alice:kenA"] * 3 + ["token:alice:kenB"] * 2 + ["token:alice:kenA"] * 3
    # A's window opened with the first request: it resets an hour later; one second margin.
    assert clock.slept == [pytest.approx(3601, abs=1)]
    assert started + sum(clock.slept) >= started + 3600
    waits = [r.getMessage() for r in caplog.records if "sleeping" in r.getMessage()]
    assert len(waits) == 1
    assert "until 2026-11-20 13:00:01 UTC" in waits[0]
    assert "reserve of 200" in waits[0]
    assert result.tap.client.ledger.waited == {"repositories": pytest.approx(3601, abs=1)}


def test_the_reserve_is_never_spent(github, clock):
    config = {
        "auth_tokens": ["ghp_tokenA", "ghp_tokenB"],
        "api_url": github.api_url,
        "repositories": NAMES[:5],
        "rate_limit_reserve": 200,
    }
    run_sync(config, streams={"repositories"})
    assert github.remaining("ghp_tokenA") == 200
    assert github.remaining("ghp_tokenB") == 200
    assert clock.slept == []


def test_a_reserve_of_zero_spends_a_token_to_its_end(github, world, clock):
    world.tokens["ghp_tokenA"].limit = 5
    config = {
        "auth_token": "ghp_tokenA",
        "api_url": github.api_url,
        "repositories": NAMES[:7],
        "rate_limit_reserve": 0,
    }
    run_sync(config, streams={"repositories"})
    assert [r.status for r in github.requests()] == [200] * 7
    assert clock.slept == [pytest.approx(3601, abs=1)]  # after 5, until the reset


def test_graphql_rate_limited_waits_for_the_graphql_reset(github, world, clock):
    world.tokens["ghp_tokenA"].graphql_limit = 2
    config = {"auth_token": "ghp_tokenA", "api_url": github.api_url, "rate_limit_reserve": 0}
    client = GitHubClient(Settings.from_config(config, version="test"))
    query = "query { viewer { login } rateLimit { cost } }"
    # The budget is read from the headers; a third query would go over: it waits first.
    for _ in range(3):
        assert client.graphql(query, stream="test") == {
            "viewer": {"login": "alice"},
            "rateLimit": {"cost": 1},
        }
    assert [(r.status, r.points) for r in github.requests()] == [(200, 1)] * 3
    assert clock.slept == [pytest.approx(3601, abs=1)]


def test_graphql_rate_limited_answer_is_waited_out_not_raised(github, world, clock):
    world.tokens["ghp_tokenA"].graphql_limit = 1
    config = {"auth_token": "ghp_tokenA", "api_url": github.api_url, "rate_limit_reserve": 0}
    query = "query { viewer { login } rateLimit { cost } }"
    other_program = GitHubClient(Settings.from_config(config, version="test"))
    other_program.graphql(query, stream="test")
    # This client has not seen the budget spent: GitHub refuses with RATE_LIMITED (HTTP 200).
    client = GitHubClient(Settings.from_config(config, version="test"))
    assert client.graphql(query, stream="test")["viewer"] == {"login": "alice"}
    assert [(r.status, r.points) for r in github.requests()] == [(200, 1), (200, 0), (200, 1)]
    assert client.ledger.total_points() == 1
    assert client.ledger.requests[("test", "graphql", 200)] == 2
    assert clock.slept == [pytest.approx(3601, abs=1)]
