"""The REST endpoints the benchmark adds for the incumbent tap (github_simulator/rest_extra.py):
GitHub's shapes and filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from github_simulator import GitHubSimulator, World, rest_extra
from github_simulator.pulls import pulls_of
from github_simulator.server import ROUTER

SHAPES = json.loads(
    (Path(__file__).parents[1] / "github_simulator" / "rest_shapes.json").read_text()
)
HEADERS = {"Authorization": "Bearer ghp_alice"}


@pytest.fixture
def extra(github: GitHubSimulator) -> Iterator[GitHubSimulator]:
    """The simulator with the benchmark's routes, removed again afterwards."""
    routes = list(ROUTER.routes)
    rest_extra.register()
    yield github
    ROUTER.routes[:] = routes


def get(github: GitHubSimulator, path: str, **params: Any) -> Any:
    response = requests.get(github.api_url + path, params=params, headers=HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_pull_listing_has_githubs_shape_and_filters(extra: GitHubSimulator, world: World):
    pulls = pulls_of(world).by_repo[world.repo("acme", "api").id]
    listed = get(extra, "/repos/acme/api/pulls", state="all", per_page=100)
    errors = list(
        jsonschema.Draft7Validator(SHAPES["GET /repos/{owner}/{repo}/pulls"]).iter_errors(listed)
    )
    assert not errors, [e.message for e in errors[:3]]
    assert sorted(p["number"] for p in listed) == sorted(p.number for p in pulls)
    # Default: open ones, newest created first.
    open_numbers = [p["number"] for p in get(extra, "/repos/acme/api/pulls", per_page=100)]
    expected = sorted(
        (p for p in pulls if p.state == "OPEN"), key=lambda p: (p.created_at, p.id), reverse=True
    )
    assert open_numbers == [p.number for p in expected]
    by_update = get(
        extra, "/repos/acme/api/pulls", state="all", sort="updated", direction="desc", per_page=100
    )
    assert [p["updated_at"] for p in by_update] == sorted(
        (p["updated_at"] for p in by_update), reverse=True
    )


def test_reviews_in_submission_order_without_others_pending(extra: GitHubSimulator, world: World):
    pulls = pulls_of(world).by_repo[world.repo("acme", "api").id]
    pull = max(pulls, key=lambda p: len(p.reviews))
    reviews = get(extra, f"/repos/acme/api/pulls/{pull.number}/reviews", per_page=100)
    errors = list(
        jsonschema.Draft7Validator(
            SHAPES["GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"]
        ).iter_errors(reviews)
    )
    assert not errors, [e.message for e in errors[:3]]
    visible = [r for r in pull.reviews if r.state != "PENDING" or r.author.login == "alice"]
    assert [r["id"] for r in reviews] == [r.id for r in visible]
