"""Listings longer than a page: per_page=100, every Link rel="next" followed (and really
requested), nothing read twice."""

from __future__ import annotations

import pytest

from github_simulator import FakeClock, World, seeded_world
from tests.conftest import run_sync


@pytest.fixture
def world(clock: FakeClock) -> World:
    return seeded_world(clock, scale={"repos": 250})


def test_250_repositories_take_three_pages(config, github):
    result = run_sync(config, streams={"repositories"})
    ids = [r["id"] for r in result.records["repositories"]]
    assert len(ids) == len(set(ids)) == 250
    requests = github.requests()
    assert [(r.path, r.query) for r in requests] == [
        ("/orgs/acme/repos", {"per_page": "100", "type": "all"}),
        ("/orgs/acme/repos", {"per_page": "100", "type": "all", "page": "2"}),
        ("/orgs/acme/repos", {"per_page": "100", "type": "all", "page": "3"}),
    ]
    assert [r.status for r in requests] == [200, 200, 200]
    assert github.points() == 3


def test_client_paginate_follows_the_next_link(config, github):
    result = run_sync({**config, "repositories": ["acme/api"]}, streams={"repositories"})
    github.reset_log()
    pages = list(result.tap.client.paginate("/user/repos", stream="test", params={"type": "owner"}))
    assert [len(page.data) for page in pages] == [0]  # alice owns none
    pages = list(result.tap.client.paginate("/orgs/acme/repos", stream="test"))
    assert [len(page.data) for page in pages] == [100, 100, 50]
    assert [page.next_url is None for page in pages] == [False, False, True]
    assert pages[1].url == pages[0].next_url
    assert [r.query.get("page") for r in github.requests(r"^/orgs/")] == [None, "2", "3"]
