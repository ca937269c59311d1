"""Each way GitHub fails, served by the simulator, through a whole sync: what is transient is
asked again (counted by mode) and the sync emits exactly what a sync without the fault emits;
what concerns one object is skipped; no time is slept for real (the fake clock)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from github_simulator import Fault, GitHubSimulator
from github_simulator.chaos import GATEWAY_HTML
from github_simulator.server import SECONDARY_MESSAGE
from tap_github_activity.client import GitHubClient
from tap_github_activity.errors import RequestFailedError
from tap_github_activity.settings import Settings
from tests.conftest import SyncResult, run_sync

GRAPHQL = r"^/graphql$"
RELEASES = r"^/repos/acme/api/releases$"
HTML = {"content-type": "text/html; charset=utf-8"}
STREAMS = {"repositories", "pull_requests", "pull_request_reviews", "releases"}


def rows(result: SyncResult) -> dict[str, list[Any]]:
    """Every stream's records, in a stable order (workers may finish in any order)."""
    return {
        stream: sorted(records, key=lambda r: repr(sorted(r.items())))
        for stream, records in result.records.items()
    }


@pytest.fixture
def clean(config: dict[str, Any], github: GitHubSimulator) -> SyncResult:
    """The same sync without a fault (the simulator's log is cleared after it)."""
    result = run_sync(config, streams=STREAMS)
    github.reset_log()
    return result


REST_FAULTS = {
    "5xx with JSON": (Fault(RELEASES, status=500), "server_error"),
    "502 with HTML": (
        Fault(RELEASES, status=502, body=GATEWAY_HTML.replace(b"{status}", b"502"), headers=HTML),
        "server_error",
    ),
    "connection reset": (Fault(RELEASES, connection="reset"), "connection"),
    "body cut off": (Fault(RELEASES, connection="truncate"), "broken_body"),
    "body not JSON": (Fault(RELEASES, status=200, body=b'[{"id": 1, "na'), "broken_body"),
    "secondary limit without retry-after": (
        Fault(RELEASES, status=403, body=b'{"message": "' + SECONDARY_MESSAGE.encode() + b'"}'),
        "secondary_limit",
    ),
}


@pytest.mark.parametrize("name", list(REST_FAULTS))
def test_a_transient_rest_failure_mid_run_is_retried(config, github, clean, clock, name):
    fault, mode = REST_FAULTS[name]
    github.inject(fault)
    result = run_sync(config, streams=STREAMS)
    assert rows(result) == rows(clean)
    assert result.tap.client.ledger.retries_by_mode() == {mode: 1}
    assert [r.fault for r in github.requests(RELEASES)] == ["injected", None]


GRAPHQL_FAULTS = {
    "partial data and Something went wrong": "graphql_partial",
    "null data and Something went wrong": "graphql_null",
    "INTERNAL": "graphql_internal",
}


@pytest.mark.parametrize("name", list(GRAPHQL_FAULTS))
def test_a_graphql_answer_that_did_not_finish_is_asked_again_whole(
    config, github, clean, clock, name
):
    github.inject(Fault(GRAPHQL, graphql=GRAPHQL_FAULTS[name]))
    result = run_sync(config, streams=STREAMS)
    # Nothing of the spoiled answer is kept: the query is asked again and the rows are whole.
    assert rows(result) == rows(clean)
    assert result.tap.client.ledger.retries_by_mode() == {"graphql_error": 1}
    spoiled, retried = github.requests(GRAPHQL)[:2]
    assert (spoiled.status, spoiled.fault, retried.fault) == (200, "injected", None)
    assert len(clock.slept) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_graphql_gateway_errors_with_html_bodies_are_retried(config, github, clean, clock, status):
    body = GATEWAY_HTML.replace(b"{status}", str(status).encode())
    github.inject(Fault(GRAPHQL, status=status, body=body, headers=HTML, times=2))
    result = run_sync(config, streams=STREAMS)
    assert rows(result) == rows(clean)
    assert result.tap.client.ledger.retries_by_mode() == {"server_error": 2}


def test_a_graphql_secondary_limit_is_waited_out(config, github, clean, clock):
    github.inject(Fault(GRAPHQL, secondary=45))
    result = run_sync(config, streams=STREAMS)
    assert rows(result) == rows(clean)
    assert result.tap.client.ledger.retries_by_mode() == {"secondary_limit": 1}
    assert 45 in clock.slept


def test_a_read_timeout_is_retried(config, github, clean, clock):
    # The one test that waits in real time: the simulator stalls past a 1 s timeout.
    github.inject(Fault(RELEASES, latency=1.5))
    result = run_sync({**config, "request_timeout": 1}, streams=STREAMS)
    assert rows(result) == rows(clean)
    # At least the stalled request (a loaded machine may be slower than a second elsewhere too).
    retries = result.tap.client.ledger.retries_by_mode()
    assert set(retries) == {"timeout"}
    assert retries["timeout"] >= 1


def test_a_graphql_error_that_is_no_failure_of_github_is_not_retried(config, github, clock):
    client = GitHubClient(Settings.from_config(config, version="test"))
    with pytest.raises(RequestFailedError, match="Cannot query field") as raised:
        client.graphql(
            "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) "
            "{ noSuchField } }",
            {"owner": "acme", "name": "api"},
            stream="test",
        )
    assert str(raised.value).startswith("acme/api: POST /graphql failed: ")
    assert "X-GitHub-Request-Id SIM:" in str(raised.value)
    assert len(github.requests()) == 1
    assert clock.slept == []


@pytest.mark.parametrize("status", [404, 409, 410, 451])
def test_a_refused_sub_resource_skips_that_repository_alone(config, github, clean, clock, status):
    github.inject(Fault(RELEASES, status=status, body=b'{"message": "Repository access blocked"}'))
    result = run_sync(config, streams=STREAMS)
    api = next(r["id"] for r in clean.records["repositories"] if r["full_name"] == "acme/api")
    expected = rows(clean)
    expected["releases"] = [r for r in expected["releases"] if r["repo_id"] != api]
    assert rows(result) == expected
    assert result.tap.client.ledger.retries_by_mode() == {}
    assert len(github.requests(RELEASES)) == 1  # not retried


@pytest.mark.parametrize(
    "fault",
    [
        Fault(r"^/orgs/acme/repos$", status=502, body=GATEWAY_HTML, headers=HTML),
        Fault(r"^/orgs/acme/repos$", connection="reset"),
        Fault(r"^/orgs/acme/repos$", connection="truncate"),
    ],
    ids=["HTML 502", "reset", "cut off"],
)
def test_a_transient_failure_of_the_first_request_is_no_configuration_mistake(
    config, github, clean, clock, fault
):
    github.inject(fault)
    result = run_sync(config, streams=STREAMS)
    assert rows(result) == rows(clean)
    assert sum(result.tap.client.ledger.retries_by_mode().values()) == 1


def test_the_run_summary_counts_retries_by_kind(config, github, clock, caplog):
    github.inject(Fault(RELEASES, status=503, times=2))
    github.inject(Fault(GRAPHQL, graphql="graphql_partial"))
    with caplog.at_level(logging.INFO, logger="tap-github-activity"):
        run_sync(config, streams=STREAMS)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("Retried")] == [
        "Retried after failures: graphql_error 1, server_error 2"
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        w.startswith("acme/api: GET /repos/acme/api/releases: server error 503; retry 1 in ")
        for w in warnings
    )
