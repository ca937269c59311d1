"""Several tokens (auth_tokens): when one nears its limit (the reserve), the next requests use
the next token, with no waiting."""

from __future__ import annotations

import pytest

from github_simulator import FakeClock, World
from tests.conftest import EIGHT_REPOSITORIES, run_sync, two_token_world

NAMES = EIGHT_REPOSITORIES


@pytest.fixture
def world(clock: FakeClock) -> World:
    # Token A has 3 points above the reserve of 200; token B plenty.
    return two_token_world(clock, limit_a=203, limit_b=5000)


def test_a_spent_token_hands_over_to_the_next(github, clock):
    config = {
        "auth_tokens": ["ghp_tokenA", "ghp_tokenB"],
        "api_url": github.api_url,
        "repositories": NAMES,
        "rate_limit_reserve": 200,
    }
    result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 8
    callers = [r.caller for r in github.requests()]
    assert callers == ["token:alice:kenA"] * 3 + ["token:alice:kenB"] * 5
    # Token A was left with exactly its reserve, and nobody waited.
    assert github.remaining("ghp_tokenA") == 200
    assert clock.slept == []
    assert result.tap.client.ledger.waited == {}


def test_a_token_refused_for_its_primary_limit_is_set_aside(github, world, clock):
    world.tokens["ghp_tokenA"].limit = 0  # spent by another program sharing it
    config = {
        "auth_tokens": ["ghp_tokenA", "ghp_tokenB"],
        "api_url": github.api_url,
        "repositories": NAMES[:2],
        "rate_limit_reserve": 0,
    }
    run_sync(config, streams={"repositories"})
    assert [(r.caller, r.status, r.points) for r in github.requests()] == [
        ("token:alice:kenA", 403, 0),
        ("token:alice:kenB", 200, 1),
        ("token:alice:kenB", 200, 1),
    ]
    assert clock.slept == []
