"""The request summary: its figures equal what GitHub (the simulator) counted, and it is logged
as one table plus singer-sdk metric lines."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from github_simulator import Fault
from github_simulator.server import SECONDARY_MESSAGE
from tap_github_activity.accounting import METRICS_LOGGER
from tests.conftest import run_sync


def test_ledger_equals_the_simulators_count(config, github, world, clock):
    app = world.add_app("9")
    world.install(app, "acme")
    # A bit of everything: 5xx, a secondary limit, a broken body, GraphQL, an App.
    github.inject(Fault(r"^/orgs/acme/repos$", status=502))
    github.inject(Fault(r"^/orgs/acme/repos$", secondary=5))
    github.inject(Fault(r"^/repos/acme/api$", status=200, body=b'{"id": '))
    github.inject(
        Fault(
            r"^/repos/acme/web$",
            status=403,
            body=b'{"message": "' + SECONDARY_MESSAGE.encode() + b'"}',
        )
    )
    first = run_sync({**config, "repositories": ["acme/*"]}, streams={"repositories"})
    second = run_sync(
        {**config, "repositories": ["acme/api", "acme/web", "acme/gone"]},
        state=first.state,
        streams={"repositories"},
    )
    third = run_sync(
        {
            "app_id": "9",
            "private_key": app.private_key_pem,
            "api_url": github.api_url,
            "repositories": ["acme/*"],
        },
        state=first.state,
        streams={"repositories"},
    )
    third.tap.client.graphql(
        "query { viewer { login } rateLimit { cost } }", stream="test", owner="acme"
    )
    taps = [first.tap, second.tap, third.tap]
    requests = github.requests()
    assert sum(t.client.ledger.total_requests() for t in taps) == len(requests) == 12
    assert sum(t.client.ledger.total_points() for t in taps) == github.points() == 5
    by_status = Counter()
    for tap in taps:
        for (_, _, status), count in tap.client.ledger.requests.items():
            by_status[status] += count
    assert by_status == Counter(r.status for r in requests)
    assert (
        sum(t.client.ledger.total_points("graphql") for t in taps) == github.points("graphql") == 1
    )
    # Every wait is counted too.
    assert sum(sum(t.client.ledger.waited.values()) for t in taps) == pytest.approx(
        sum(clock.slept)
    )


def test_summary_is_a_table_and_metric_lines(config, github, caplog):
    with caplog.at_level(logging.INFO):
        result = run_sync(config, state=None, streams={"repositories"})
        second = run_sync(config, state=result.state, streams={"repositories"})
    tables = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("GitHub requests this run")
    ]
    assert len(tables) == 2
    lines = tables[1].splitlines()
    assert lines[1].split() == [
        "stream",
        "resource",
        "requests",
        "304",
        "points",
        "waited",
        "s",
        "statuses",
    ]
    assert lines[2].split() == ["repositories", "core", "1", "1", "0", "0.0", "304:1"]
    assert lines[3].split() == ["total", "1", "0", "0.0"]
    metrics = [
        json.loads(r.getMessage().removeprefix("METRIC: "))
        for r in caplog.records
        if r.name == METRICS_LOGGER and "http_request_count" in r.getMessage()
    ]
    assert {
        "type": "counter",
        "metric": "http_request_count",
        "value": 1,
        "tags": {"stream": "repositories", "resource": "core", "http_status_code": 304},
    } in metrics
    assert second.tap.client.ledger.rows() == [
        {
            "stream": "repositories",
            "resource": "core",
            "requests": 1,
            "not_modified": 1,
            "statuses": {304: 1},
            "points": 0,
            "waited_seconds": 0.0,
        }
    ]
