"""Conditional requests across runs, through state: a listing that did not change answers 304,
costs no rate-limit point and emits no records, and its ETag stays in state. The selection's
own listings (kept in the repositories stream's state with compact repository contexts) too,
so a repeated sync with no change costs nothing, while per-repository streams still run."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk import typing as th

from github_simulator import FakeClock, Fault, Listing, Request, World, seeded_world
from github_simulator.rest_core import visible_repo
from github_simulator.server import ROUTER
from tap_github_activity import tap as tap_module
from tap_github_activity.conditional import STATE_KEY, Conditional, sent_etag
from tap_github_activity.errors import AuthenticationError
from tap_github_activity.fetch import Item, Keep, Row
from tap_github_activity.fetch import Request as FetchRequest
from tap_github_activity.streams.base import REPOSITORY_CONTEXT
from tap_github_activity.streams.repositories import RepositoryStream
from tap_github_activity.tap import LISTINGS_STATE_KEY, TapGitHubActivity
from tests.conftest import run_sync, select

TAGS_PATH = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/tags"
STREAMS = {"repositories", "test_tags"}


class TagsStream(RepositoryStream):
    """A test-only family of one stream (GitHub's tags): a declaration, and its fetcher below."""

    name = "test_tags"
    family = "test_tags"
    primary_keys = ("repo_id", "name")
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property("name", th.StringType),
    ).to_dict()


def fetch_tags(request: FetchRequest) -> Iterator[Item]:
    """Every changed page of a repository's tags, then the listing's ETags."""
    repository = request.repository
    conditional = Conditional(request.client, request.state.get(TagsStream.name))
    path = f"/repos/{repository.full_name}/tags"
    for page in conditional.pages(path, stream=TagsStream.name, owner=repository.owner):
        if not page.not_modified:
            yield from (Row(TagsStream.name, {"name": tag["name"]}) for tag in page.data)
    yield Keep(TagsStream.name, conditional.state())


@pytest.fixture
def tags(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[int, list[str]]]:
    """repo id -> tag names, served at GET /repos/{o}/{r}/tags; the stream is in the tap."""
    store = {repo.id: ["v1.0.0", "v1.1.0"] for repo in world.repos.values()}

    def handler(request: Request) -> Any:
        repo = visible_repo(request, request.params["owner"], request.params["repo"])
        return Listing([{"name": name} for name in reversed(store.get(repo.id, []))])

    ROUTER.add("GET", TAGS_PATH, handler)
    route = ROUTER.routes.pop()
    ROUTER.routes.insert(0, route)  # before any family's own tags route
    monkeypatch.setattr(tap_module, "STREAM_TYPES", [*tap_module.STREAM_TYPES, TagsStream])
    monkeypatch.setitem(tap_module.FETCHERS, TagsStream.family, fetch_tags)
    yield store
    ROUTER.routes.remove(route)


def test_an_unchanged_listing_is_free_the_second_time(config, github, tags):
    first = run_sync(config, streams=STREAMS)
    assert len(first.records["test_tags"]) == 6
    assert len(first.records["repositories"]) == 3
    github.reset_log()

    second = run_sync(config, state=first.state, streams=STREAMS)
    tag_requests = github.requests(r"/tags$")
    assert len(tag_requests) == 3
    assert all(r.if_none_match and r.status == 304 and r.points == 0 for r in tag_requests)
    assert second.records == {}  # nothing changed: no records at all
    assert github.points() == 0
    assert second.tap.client.ledger.total_points() == 0
    # The ETags are still in state for the run after.
    assert etags_of(second.state) == etags_of(first.state)
    assert len(etags_of(second.state)) == 3


def test_the_selection_listing_is_asked_conditionally(config, github, tags):
    first = run_sync(config, streams=STREAMS)
    listing = first.state["bookmarks"]["repositories"][LISTINGS_STATE_KEY]["owner:acme"]
    assert listing["path"] == "/orgs/acme/repos"
    page = listing["pages"][0]
    # Kept compact, sent as GitHub gave it (conditional.py).
    assert sent_etag(page["etag"]).startswith('W/"')
    assert len(page["etag"]) < len(sent_etag(page["etag"]))
    # Each repository compact: its owner once for the page, "main" and false left out.
    assert page["owner"] == "acme"
    assert sorted(page["repositories"], key=lambda r: r["repo"])[0] == {
        "repo_id": first.records["repositories"][0]["id"],
        "repo": "api",
    }
    github.reset_log()

    second = run_sync(config, state=first.state, streams=STREAMS)
    [selection] = github.requests(r"^/orgs/acme/repos$")
    assert (selection.status, selection.points) == (304, 0)
    assert selection.if_none_match == sent_etag(page["etag"])
    # No repository records, yet every repository's children ran, with the same context.
    assert "repositories" not in second.records
    assert sorted(r.path for r in github.requests(r"/tags$")) == [
        "/repos/acme/api/tags",
        "/repos/acme/infra/tags",
        "/repos/acme/web/tags",
    ]
    assert second.state["bookmarks"]["repositories"] == first.state["bookmarks"]["repositories"]


def test_changes_are_read_and_only_the_changes_are_emitted(config, github, world, tags):
    first = run_sync(config, streams=STREAMS)
    api = world.repo("acme", "api")
    assert api is not None
    tags[api.id].append("v2.0.0")
    world.add_repo("acme/zeta")
    github.reset_log()

    second = run_sync(config, state=first.state, streams=STREAMS)
    # The listing changed (a new repository): every repository on it is emitted again.
    assert sorted(r["name"] for r in second.records["repositories"]) == [
        "api",
        "infra",
        "web",
        "zeta",
    ]
    assert sorted(second.keys("test_tags", "repo", "name")) == [
        ("api", "v1.0.0"),
        ("api", "v1.1.0"),
        ("api", "v2.0.0"),
    ]  # zeta has no tags
    assert sorted((r.path, r.status) for r in github.requests(r"/tags$")) == [
        ("/repos/acme/api/tags", 200),
        ("/repos/acme/infra/tags", 304),
        ("/repos/acme/web/tags", 304),
        ("/repos/acme/zeta/tags", 200),
    ]


def test_many_pages_each_keep_their_etag(github, clock, tags, config, world):
    for index in range(247):
        repo = world.add_repo(f"acme/service-{index:03}")
        tags[repo.id] = []
    first = run_sync(config, streams={"repositories"})
    assert len(first.records["repositories"]) == 250
    github.reset_log()

    # Unchanged: three free 304s, no records.
    second = run_sync(config, state=first.state, streams={"repositories"})
    assert [(r.query.get("page"), r.status) for r in github.requests()] == [
        (None, 304),
        ("2", 304),
        ("3", 304),
    ]
    assert second.records == {}
    github.reset_log()

    # One repository on the middle page changes: only that page is read and emitted; the
    # children of all 250 still run.
    ordered = sorted(world.repos.values(), key=lambda r: (r.created_at, r.id), reverse=True)
    ordered[150].stargazers += 1
    third = run_sync(config, state=second.state, streams={"repositories", "test_tags"})
    assert [(r.query.get("page"), r.status) for r in github.requests(r"^/orgs/")] == [
        (None, 304),
        ("2", 200),
        ("3", 304),
    ]
    assert len(third.records["repositories"]) == 100
    assert len(github.requests(r"/tags$")) == 250
    assert github.points() == 1 + 250  # the changed page; each tags listing asked in full


def test_etags_are_not_kept_when_the_run_fails_midway(config, github, tags):
    # A failure of the whole run (a 500 would fail acme/web's tags alone: test_isolation.py).
    github.inject(Fault(r"/repos/acme/web/tags$", status=401, times=10))
    messages = sync_messages(config)
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert all(
        LISTINGS_STATE_KEY not in s.get("bookmarks", {}).get("repositories", {}) for s in states
    )


def test_activate_version_is_never_sent_so_the_selection_stays_conditional(config, github, tags):
    # A repeated run sends no unchanged repository: ACTIVATE_VERSION would empty the table.
    config = {**config, "emit_activate_version_messages": True}
    first = run_sync(config, streams={"repositories"})
    github.reset_log()
    second = run_sync(config, state=first.state, streams={"repositories"})
    assert not [m for r in (first, second) for m in r.messages if m["type"] == "ACTIVATE_VERSION"]
    assert "repositories" not in second.records
    assert [r.status for r in github.requests()] == [304]


def etags_of(state: dict[str, Any]) -> dict[int, str]:
    """Each repository's first ETag (an entry of one ETag is kept as that ETag)."""
    return {
        p["context"]["repo_id"]: entry if isinstance(entry, str) else entry["etags"][0]
        for p in state["bookmarks"]["test_tags"]["partitions"]
        for entry in p[STATE_KEY].values()
    }


def sync_messages(config: dict[str, Any]) -> list[dict[str, Any]]:
    """A sync expected to fail: the messages it wrote before failing."""
    catalog = select(TapGitHubActivity(config=config).catalog_dict, STREAMS)
    tap = TapGitHubActivity(config=config, catalog=catalog)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(AuthenticationError):
        tap.sync_all()
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


@pytest.fixture
def world(clock: FakeClock) -> World:
    return seeded_world(clock)
