"""The releases stream: assets nested, drafts, and re-emission of the listing pages that
changed (one ETag per page, so an edit to an old release on page 2 is seen)."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft7Validator

from github_simulator import FakeClock, GitHubSimulator, World
from github_simulator import releases as sim
from tests.conftest import SyncResult, run_sync

RELEASES = {"releases"}
LISTING = r"^/repos/[^/]+/[^/]+/releases$"
SHAPES = json.loads(
    (Path(__file__).parents[1] / "github_simulator" / "rest_shapes.json").read_text()
)
FIELDS = (
    "repo_id",
    "tag_name",
    "name",
    "draft",
    "prerelease",
    "author_login",
    "author_id",
    "created_at",
    "published_at",
    "body",
    "assets",
)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography


def rows(result: SyncResult) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id,) -> the fields the simulator's truth knows, of every release emitted."""
    return {
        (r["id"],): {name: r[name] for name in FIELDS} for r in result.records.get("releases", [])
    }


def test_first_sync_emits_every_release_with_its_assets(
    config, github: GitHubSimulator, world: World
):
    result = run_sync(config, streams=RELEASES)

    assert rows(result) == sim.expected_releases(world)
    records = result.records["releases"]
    assert len(records) == len({r["id"] for r in records}) == 15  # 5 per repository
    assert any(r["draft"] and r["published_at"] is None for r in records)  # alice may push
    with_assets = next(r for r in records if r["assets"])
    assert set(with_assets["assets"][0]) == {
        "id",
        "name",
        "size",
        "content_type",
        "download_count",
        "created_at",
        "updated_at",
    }
    assert all(r["event_uuid"] and r["html_url"].startswith("https://") for r in records)
    # One page per repository, one point each.
    listings = github.requests(LISTING)
    assert [(r.status, r.points, r.query["page"]) for r in listings] == [(200, 1, "1")] * 3


def test_unchanged_releases_cost_nothing(config, github: GitHubSimulator):
    first = run_sync(config, streams=RELEASES)
    github.reset_log()

    second = run_sync(config, state=first.state, streams=RELEASES)

    assert "releases" not in second.records
    listings = github.requests(LISTING)
    assert [(r.status, r.points) for r in listings] == [(304, 0)] * 3
    assert all(r.if_none_match for r in listings)


def test_changed_releases_are_emitted_again(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    first = run_sync(config, streams=RELEASES)
    drafts = {key for key, row in sim.expected_releases(world).items() if row["draft"]}
    assert drafts
    clock.advance(3600)
    sim.mutate_releases(world, seeded(1))
    github.reset_log()

    second = run_sync(config, state=first.state, streams=RELEASES)

    # Every repository has a new release, so every page changed and is emitted whole: the
    # rows now match GitHub's, published drafts, edited notes and download counts included.
    expected = sim.expected_releases(world)
    assert rows(second) == expected
    assert len(expected) == len(rows(first)) + 3
    for key in drafts:
        assert expected[key]["draft"] is False
        assert expected[key]["published_at"] is not None
    downloads = {
        a["id"]: a["download_count"] for r in first.records["releases"] for a in r["assets"]
    }
    grown = [
        a
        for r in second.records["releases"]
        for a in r["assets"]
        if a["id"] in downloads and a["download_count"] > downloads[a["id"]]
    ]
    assert grown
    # The same release is the same event: its uuid does not change when it is emitted again.
    uuids = {r["id"]: r["event_uuid"] for r in first.records["releases"]}
    assert all(
        uuids[r["id"]] == r["event_uuid"] for r in second.records["releases"] if r["id"] in uuids
    )
    # A third sync finds nothing new again.
    github.reset_log()
    third = run_sync(config, state=second.state, streams=RELEASES)
    assert "releases" not in third.records
    assert github.points() - sum(r.points for r in github.requests("^/orgs/")) == 0


def test_an_old_release_edited_on_page_two_is_emitted(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    api = world.repo("acme", "api")
    assert api is not None
    rng = seeded(2)
    oldest = world.now() - timedelta(days=400)
    for index in range(145):  # 150 releases: page one holds the newest 100
        sim.add_release(world, api, rng, oldest + timedelta(hours=index), assets=1)
    first = run_sync(config, streams=RELEASES)
    assert len([r for r in first.records["releases"] if r["repo_id"] == api.id]) == 150
    old = sim.releases_of(world, api)[10]  # created long ago: on page 2
    clock.advance(3600)
    sim.edit_notes(old, world.now())
    old.assets[0].download_count += 7
    github.reset_log()

    second = run_sync(config, state=first.state, streams=RELEASES)

    api_listing = [
        (r.query["page"], r.status, r.points) for r in github.requests("/repos/acme/api/releases$")
    ]
    assert api_listing == [("1", 304, 0), ("2", 200, 1)]
    emitted = {r["id"]: r for r in second.records["releases"]}
    page_two = sorted(sim.releases_of(world, api), key=lambda r: (r.created_at, r.id))[:50]
    assert set(emitted) == {r.id for r in page_two}  # page 2 whole, nothing else
    assert emitted[old.id]["body"] == old.body
    assert emitted[old.id]["assets"][0]["download_count"] == old.assets[0].download_count

    # A new release shifts every page: both are read and emitted again.
    sim.add_release(world, api, rng, world.now())
    github.reset_log()
    third = run_sync(config, state=second.state, streams=RELEASES)
    assert [(r.query["page"], r.status) for r in github.requests("/repos/acme/api/releases$")] == [
        ("1", 200),
        ("2", 200),
    ]
    assert len([r for r in third.records["releases"] if r["repo_id"] == api.id]) == 151


def test_state_keeps_the_etags_of_eight_pages(config, github: GitHubSimulator, world: World):
    api = world.repo("acme", "api")
    assert api is not None
    rng = seeded(3)
    oldest = world.now() - timedelta(days=900)
    for index in range(845):  # 850 releases: 9 pages
        sim.add_release(world, api, rng, oldest + timedelta(hours=index))
    first = run_sync(config, streams=RELEASES)
    partitions = first.state["bookmarks"]["releases"]["partitions"]
    assert max(len(json.dumps(p)) for p in partitions) < 1024
    github.reset_log()

    second = run_sync(config, state=first.state, streams=RELEASES)

    # Pages 1-8 unchanged and free; page 9 has no stored ETag: read and emitted again.
    assert [(r.query["page"], r.status) for r in github.requests("/repos/acme/api/releases$")] == [
        (str(n), 304) for n in range(1, 9)
    ] + [("9", 200)]
    assert len(second.records["releases"]) == 50


def test_drafts_are_listed_only_with_push_access(config, github: GitHubSimulator, world: World):
    for repo in world.repos.values():
        repo.pushers = {"bob"}  # alice may read but not push
    result = run_sync(config, streams=RELEASES)

    assert rows(result) == sim.expected_releases(world)
    assert not any(r["draft"] for r in result.records["releases"])
    assert len(result.records["releases"]) < 15


def test_simulated_listing_matches_githubs_shape(github: GitHubSimulator, world: World):
    api = world.repo("acme", "api")
    assert api is not None
    sim.releases_of(world, api)[0].draft = True
    response = requests.get(
        f"{github.api_url}/repos/acme/api/releases",
        headers={"Authorization": "token ghp_alice"},
        timeout=10,
    )
    assert response.status_code == 200
    errors = list(
        Draft7Validator(SHAPES["GET /repos/{owner}/{repo}/releases"]).iter_errors(response.json())
    )
    assert errors == []
    assert [r["created_at"] for r in response.json()] == sorted(
        (r["created_at"] for r in response.json()), reverse=True
    )
