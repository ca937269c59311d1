"""What is retried, and how long the tap waits: secondary rate limits (403 with retry-after,
429, 403 with GitHub's message alone), 5xx, broken bodies; then one clear error."""

from __future__ import annotations

import pytest

from github_simulator import Fault
from github_simulator.server import SECONDARY_MESSAGE
from tap_github_activity.errors import RequestFailedError
from tap_github_activity.retries import MAX_SECONDARY_RETRIES
from tests.conftest import run_sync

LISTING = r"^/orgs/acme/repos$"
SECONDARY_BODY = b'{"message": "' + SECONDARY_MESSAGE.encode() + b'"}'


def statuses(github) -> list[int]:
    return [r.status for r in github.requests(LISTING)]


def test_secondary_limit_403_waits_retry_after(config, github, clock):
    github.inject(Fault(LISTING, secondary=30))
    result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 3
    assert statuses(github) == [403, 200]
    assert clock.slept == [30]


def test_429_waits_retry_after(config, github, clock):
    github.inject(Fault(LISTING, status=429, headers={"retry-after": "7"}, times=2))
    run_sync(config, streams={"repositories"})
    assert statuses(github) == [429, 429, 200]
    assert clock.slept == [7, 7]


def test_429_without_headers_waits_a_minute_then_doubles(config, github, clock):
    github.inject(Fault(LISTING, status=429, times=2))
    run_sync(config, streams={"repositories"})
    assert statuses(github) == [429, 429, 200]
    assert clock.slept == [60, 120]


def test_documented_message_without_retry_after_waits_60s_then_exponentially(config, github, clock):
    github.inject(Fault(LISTING, status=403, body=SECONDARY_BODY, times=3))
    result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 3
    assert statuses(github) == [403, 403, 403, 200]
    assert clock.slept == [60, 120, 240]


def test_secondary_limit_with_reset_waits_until_the_reset(config, github, clock):
    reset = int(clock.now()) + 90
    github.inject(
        Fault(
            LISTING,
            status=403,
            body=SECONDARY_BODY,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        )
    )
    run_sync(config, streams={"repositories"})
    assert clock.slept == [90]


def test_server_errors_are_retried_with_bounded_jittered_backoff(config, github, clock):
    github.inject(Fault(LISTING, status=502, times=3))
    result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 3
    assert statuses(github) == [502, 502, 502, 200]
    # 1, 2, 4 seconds, each with +-50% jitter.
    assert len(clock.slept) == 3
    for wait, base in zip(clock.slept, [1, 2, 4], strict=True):
        assert 0.5 * base <= wait <= 1.5 * base


@pytest.mark.parametrize("body", [b'[{"id": 1, "name": "ap', b"<html>Bad gateway</html>", b""])
def test_broken_bodies_are_retried(config, github, clock, body):
    github.inject(Fault(LISTING, status=200, body=body))
    result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 3
    assert statuses(github) == [200, 200]
    assert len(clock.slept) == 1


def test_after_the_last_attempt_one_clear_error(config, github, clock):
    github.inject(Fault(LISTING, status=503, times=6))
    with pytest.raises(RequestFailedError) as raised:
        run_sync({**config, "retry_max_attempts": 6}, streams={"repositories"})
    elapsed = sum(clock.slept)
    assert str(raised.value) == (
        f"GET /orgs/acme/repos failed: server error 503; still failing after 6 attempts and "
        f"{elapsed:.0f} s of waiting (retry_max_attempts 6, retry_max_seconds 900) (status 503, "
        "X-GitHub-Request-Id SIM:FAULT)"
    )
    assert statuses(github) == [503] * 6
    assert len(clock.slept) == 5
    assert 0.5 * (1 + 2 + 4 + 8 + 16) <= elapsed <= 1.5 * (1 + 2 + 4 + 8 + 16)


def test_an_outage_within_the_time_budget_is_ridden_out(config, github, clock):
    # GitHub down for ten minutes (on the fake clock): backoff grows to a minute and holds.
    github.inject(Fault(LISTING, status=503, times=10**6, until=clock.now() + 600))
    result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 3
    assert 600 <= sum(clock.slept) <= 600 + 1.5 * 60
    assert max(clock.slept) <= 1.5 * 60
    retries = result.tap.client.ledger.retries_by_mode()
    assert retries == {"server_error": len(clock.slept)}


def test_a_failure_outlasting_the_time_budget_is_final(config, github, clock):
    github.inject(Fault(LISTING, status=502, times=10**6))
    with pytest.raises(RequestFailedError, match=r"still failing after .* s of waiting"):
        run_sync({**config, "retry_max_seconds": 120}, streams={"repositories"})
    assert sum(clock.slept) <= 120
    assert sum(clock.slept) + 1.5 * 60 > 120  # not given up before it had to


def test_a_persistent_secondary_limit_ends_in_one_clear_error(config, github, clock):
    github.inject(Fault(LISTING, secondary=10, times=MAX_SECONDARY_RETRIES + 1))
    with pytest.raises(
        RequestFailedError,
        match=r"GET /orgs/acme/repos failed: secondary rate "
        r"limit persisted after 10 waits \(status 403",
    ):
        run_sync(config, streams={"repositories"})
    assert clock.slept == [10] * MAX_SECONDARY_RETRIES


def test_not_found_is_not_retried(config, github, clock):
    run_sync({**config, "repositories": ["acme/gone"]}, streams={"repositories"})
    assert [r.status for r in github.requests()] == [404]
    assert clock.slept == []
