"""The benchmark's physical minimum (bench/minimum.py) models every stream the tap has, and its
figures for the medium world: what docs/cost.md compares the tap with."""

from __future__ import annotations

import pytest

from bench.minimum import STREAMS, Snapshot, minimum, snapshot
from bench.minimum_model import pull_plan
from bench.scales import SCALES
from github_simulator import FakeClock, seeded_world
from github_simulator.truth import MUTATIONS
from tap_github_activity.tap import STREAM_TYPES
from tests.fetching import rng


@pytest.fixture(scope="module")
def medium() -> tuple[Snapshot, Snapshot]:
    """The medium world as a first sync finds it, and after a day of every kind of change."""
    world = seeded_world(FakeClock(), scale=SCALES["medium"].world)
    before = snapshot(world)
    for name, mutation in MUTATIONS.items():
        mutation(world, rng(len(name)))
    return before, snapshot(world)


def test_every_stream_of_the_tap_has_a_minimum() -> None:
    assert {stream.name for stream in STREAM_TYPES} == set(STREAMS)


@pytest.mark.parametrize(
    ("reading", "total", "comments"), [("expensive", 277, 12), ("kind", 253, 24)]
)
def test_the_medium_first_syncs_minimum(
    medium: tuple[Snapshot, Snapshot], reading: str, total: int, comments: int
) -> None:
    costs = minimum(None, medium[0], jobs_by_graphql=True, reading=reading)
    assert sum(c.points for c in costs.values()) == total
    # Issues from the REST listing (pull requests included: 198 items, 2 pages a repository);
    # comments in their threads; deployments 100 with their statuses a query.
    assert costs["issues"].core_points == 24
    assert costs["issue_comments"].graphql_points == comments
    assert costs["deployments"].graphql_points == 12
    assert costs["deployment_statuses"].points == 0


def test_pull_request_comments_ride_on_the_pull_request_pages_when_counts_count() -> None:
    # Under the expensive reading `comments { totalCount }` is a request already: asking its
    # first 100 nodes instead costs nothing more. Under the kind one it is a connection more.
    assert pull_plan(183, "expensive", comments=True) == pull_plan(183, "expensive")
    assert pull_plan(183, "kind", comments=True)[0] == pull_plan(183, "kind")[0] + 1


def test_a_repeated_sync_costs_these_streams_nothing_and_a_changed_one_a_page_each(
    medium: tuple[Snapshot, Snapshot],
) -> None:
    before, after = medium
    repeat = minimum(before, before, jobs_by_graphql=True)
    for stream in ("issues", "issue_comments", "deployments"):
        assert (repeat[stream].points, repeat[stream].not_modified) == (0, 12), stream
    changed = minimum(before, after, jobs_by_graphql=True)
    # Every repository changed (a new one too, read for the first time): one point each.
    for stream in ("issues", "issue_comments", "deployments"):
        assert changed[stream].points == 13, stream
