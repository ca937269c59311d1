"""The deployments fetcher against the simulator: exact first, repeated and changed syncs, and
statuses added later to old deployments (in_progress -> success, success -> inactive)."""

from __future__ import annotations

import json

import pytest

from github_simulator import Fault, GitHubSimulator, graphql_api, seeded_world
from github_simulator.deployments import add_deployment, add_status, deployments_of
from github_simulator.graphql_cost import EXPENSIVE, KIND, CostReading
from github_simulator.truth import EXPECTED, MUTATIONS
from tests.fetching import (
    FamilyFetcher,
    changed,
    deployments_fetcher,
    fetch_all,
    projected,
    query_families,
    repositories,
    rng,
)

STREAMS = ("deployments", "deployment_statuses")


@pytest.fixture
def fetcher(github: GitHubSimulator) -> FamilyFetcher:
    return deployments_fetcher(github)


def test_first_sync_emits_exactly_the_deployments_and_statuses(github, world, fetcher):
    first = fetch_all(github, fetcher)
    for stream in STREAMS:
        truth = EXPECTED[stream](world)
        assert projected(first.keyed(stream), truth) == truth, stream
        assert len(first.rows[stream]) == len(truth), f"{stream}: a row emitted twice"
    assert "\\u0000" not in json.dumps(first.rows)
    # One query per repository: 100 deployments with 100 statuses each are one point.
    assert (first.requests, first.points) == (3, 3)


def test_a_repeated_sync_emits_nothing(github, fetcher):
    first = fetch_all(github, fetcher)
    again = fetch_all(github, fetcher, first.bookmarks)
    assert again.rows == {}
    # Per repository one query: the open deployments by id beside the newest page.
    assert (again.requests, again.points) == (3, 3)
    assert again.bookmarks == first.bookmarks


def test_after_changes_the_next_sync_emits_exactly_them(github, world, clock, fetcher):
    first = fetch_all(github, fetcher)
    before = {stream: EXPECTED[stream](world) for stream in STREAMS}
    clock.advance(3600)
    MUTATIONS["deployments"](world, rng(1))
    after = {stream: EXPECTED[stream](world) for stream in STREAMS}
    second = fetch_all(github, fetcher, first.bookmarks)
    for stream in STREAMS:
        expected_keys = changed(before[stream], after[stream])
        emitted = second.keyed(stream)
        assert set(emitted) == expected_keys, stream
        assert projected(emitted, after[stream]) == {k: after[stream][k] for k in expected_keys}
    states = {row["state"] for row in second.rows["deployment_statuses"]}
    assert {"inactive", "success", "queued"} <= states
    assert (second.requests, second.points) == (3, 3)
    assert fetch_all(github, fetcher, second.bookmarks).rows == {}


def test_an_old_deployment_turned_inactive_is_caught(github, world, clock, fetcher):
    first = fetch_all(github, fetcher)
    repo = repositories(world)[0]
    production = [d for d in deployments_of(world, repo) if d.environment == "production"]
    active = [d for d in production if d.latest is not None and d.latest.state == "success"]
    assert active, "the seeded world has no active production deployment"
    clock.advance(60)
    newest = add_deployment(world, rng(2), repo, world.now(), 0)
    add_status(world, newest, "success", world.now())  # inactivates the older active one
    second = fetch_all(github, fetcher, first.bookmarks)
    inactive = {
        row["deployment_id"]
        for row in second.rows["deployment_statuses"]
        if row["state"] == "inactive"
    }
    assert inactive == {d.id for d in active}
    emitted = second.keyed("deployments")
    assert set(emitted) == {(d.id,) for d in [*active, newest]}
    for deployment in active:
        assert emitted[(deployment.id,)]["latest_status_state"] == "inactive"
        assert (
            emitted[(deployment.id,)]["updated_at"]
            > first.keyed("deployments")[(deployment.id,)]["updated_at"]
        )


@pytest.mark.parametrize("reading", [EXPENSIVE, KIND], ids=["expensive", "kind"])
def test_many_deployments_and_statuses_are_read_whole(clock, reading: CostReading):
    world = seeded_world(clock, scale={"repos": 1, "deployments_per_repo": 230})
    graphql_api.cost_reading(world).count_only_connections = reading.count_only_connections
    graphql_api.cost_reading(world).nodes_multiply = reading.nodes_multiply
    repo = next(iter(world.repos.values()))
    busy = deployments_of(world, repo)[0]
    for _ in range(150):
        add_status(world, busy, "in_progress", world.now())
    with GitHubSimulator(world) as github:
        fetcher = deployments_fetcher(github)
        first = fetch_all(github, fetcher)
        for stream in STREAMS:
            truth = EXPECTED[stream](world)
            assert projected(first.keyed(stream), truth) == truth, stream
        assert len([s for s in truth.values() if s["deployment_id"] == busy.id]) > 150
        # Three pages of deployments, one more page of the busy deployment's statuses: a page of
        # 100 deployments is 1 + 100 requests under GitHub's rule (each nested statuses page
        # one, whatever its size), 1 point; each family charged what it declares.
        assert (first.requests, first.points) == (4, 4)
        assert query_families(fetcher) == {
            "DeploymentPage": (3, 3, 3),
            "DeploymentStatuses": (1, 1, 1),
        }


def test_an_incremental_chain_equals_a_fresh_full_sync(github, world, clock, fetcher):
    merged: dict[str, dict] = {stream: {} for stream in STREAMS}
    bookmarks = None
    for day in range(3):
        result = fetch_all(github, fetcher, bookmarks)
        bookmarks = result.bookmarks
        for stream in STREAMS:
            merged[stream].update(result.keyed(stream))
        clock.advance(86400)
        MUTATIONS["deployments"](world, rng(day))
    final = fetch_all(github, fetcher, bookmarks)
    full = fetch_all(github, fetcher)
    for stream in STREAMS:
        merged[stream].update(final.keyed(stream))
        assert merged[stream] == full.keyed(stream), stream


def test_a_sync_under_transient_faults_equals_one_without(github, fetcher):
    clean = fetch_all(github, fetcher)
    github.inject(Fault(path=r"/graphql$", status=502, times=2))
    github.inject(Fault(path=r"/graphql$", status=200, body=b'{"data": {', times=1))
    faulty = fetch_all(github, fetcher)
    assert faulty.rows == clean.rows
    assert faulty.bookmarks == clean.bookmarks


def test_more_open_deployments_than_one_query_holds(clock):
    world = seeded_world(clock, scale={"repos": 1, "deployments_per_repo": 5})
    repo = next(iter(world.repos.values()))
    queued = [add_deployment(world, rng(i), repo, world.now(), 1) for i in range(150)]
    for deployment in queued:
        add_status(world, deployment, "queued", world.now())
    with GitHubSimulator(world) as github:
        fetcher = deployments_fetcher(github)
        first = fetch_all(github, fetcher)
        assert len(first.bookmarks[repo.id]["deployments"]["open"]) >= 150
        clock.advance(60)
        for deployment in queued:
            add_status(world, deployment, "in_progress", world.now())
        second = fetch_all(github, fetcher, first.bookmarks)
        states = [row["state"] for row in second.rows["deployment_statuses"]]
        assert states == ["in_progress"] * 150
        # The first 100 open ones beside the newest page (1 + 20 + 100 requests under the
        # expensive reading of nodes(ids:)), then the other 50: 1 point each, as declared.
        assert (second.requests, second.points) == (2, 2)
        assert query_families(fetcher)["DeploymentPageAndOpen"] == (1, 1, 1)
        assert query_families(fetcher)["OpenDeployments"] == (1, 1, 1)


def test_one_stream_alone(github, world):
    alone = fetch_all(github, deployments_fetcher(github, selected={"deployments"}))
    assert set(alone.rows) == {"deployments"}
    truth = EXPECTED["deployments"](world)
    assert projected(alone.keyed("deployments"), truth) == truth


def test_a_deleted_open_deployment_is_dropped(github, world, fetcher):
    first = fetch_all(github, fetcher)
    repo = repositories(world)[0]
    open_ids = first.bookmarks[repo.id]["deployments"]["open"]
    deployments = deployments_of(world, repo)
    deleted = next(d for d in deployments if d.node_id in open_ids)
    deployments.remove(deleted)
    second = fetch_all(github, fetcher, first.bookmarks)
    assert second.rows == {}
    assert deleted.node_id not in second.bookmarks[repo.id]["deployments"]["open"]
    assert len(second.bookmarks[repo.id]["deployments"]["open"]) == len(open_ids) - 1
