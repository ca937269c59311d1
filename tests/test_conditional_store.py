"""The one conditional-request store (tap_github_activity/conditional.py), against the
simulator: what it asks with, what it keeps, and that what it keeps stays bounded."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest

from github_simulator import GitHubSimulator, World
from github_simulator import releases as sim
from tap_github_activity.accounting import RequestLedger
from tap_github_activity.client import GitHubClient
from tap_github_activity.conditional import (
    MAX_STORED_ETAGS,
    STATE_KEY,
    Conditional,
    request_key,
    sent_etag,
    stored_etag,
)
from tap_github_activity.settings import Settings

RELEASES = "/repos/acme/api/releases"
VIEWS = "/repos/acme/api/traffic/views"


@pytest.fixture
def client(config: dict[str, Any], clock: Any) -> GitHubClient:
    settings = Settings.from_config(config, version="test")
    return GitHubClient(settings, clock=clock, ledger=RequestLedger())


def statuses(github: GitHubSimulator, path: str) -> list[int]:
    return [r.status for r in github.requests(f"^{path}$")]


def test_a_single_answer_is_asked_again_with_its_etag(github, client):
    first = Conditional(client, None)
    page = first.get(VIEWS, stream="s", owner="acme", params={"per": "day"})
    assert page.status == 200
    state = first.state()
    assert list(state[STATE_KEY]) == [request_key(VIEWS, {"per": "day"})] == [f"{VIEWS}?per=day"]

    again = Conditional(client, state)
    assert again.get(VIEWS, stream="s", owner="acme", params={"per": "day"}).not_modified
    assert again.state() == state  # a 304 keeps what was kept
    assert statuses(github, VIEWS) == [200, 304]
    assert github.requests(f"^{VIEWS}$")[1].points == 0


def test_an_entry_not_reusable_is_asked_in_full_and_facts_are_kept(github, client):
    first = Conditional(client, None)
    first.get(VIEWS, stream="s", owner="acme", date="2026-11-20")
    first.note(VIEWS, empty=False)
    entry = first.state()[STATE_KEY][VIEWS]
    assert (entry["date"], entry["empty"], len(entry["etags"])) == ("2026-11-20", False, 1)

    later = Conditional(client, first.state())
    page = later.get(VIEWS, stream="s", owner="acme", reusable=lambda e: e["date"] == "tomorrow")
    assert page.status == 200
    assert github.requests(f"^{VIEWS}$")[1].if_none_match is None


def test_a_listing_keeps_each_pages_etag_up_to_a_bound(github, client, world: World):
    api = world.repo("acme", "api")
    assert api is not None
    rng = random.Random(3)  # noqa: S311 -- test data, not secrets
    for index in range(945):  # 950 releases: 10 pages
        sim.add_release(world, api, rng, world.now() - timedelta(days=900) + timedelta(hours=index))
    first = Conditional(client, None)
    assert len(list(first.pages(RELEASES, stream="s", owner="acme"))) == 10
    entry = first.state()[STATE_KEY][RELEASES]
    assert (len(entry["etags"]), entry["pages"]) == (MAX_STORED_ETAGS, 10)
    assert len(json.dumps(first.state())) < 1024  # per repository and endpoint, not per record
    github.reset_log()

    again = Conditional(client, first.state())
    pages = list(again.pages(RELEASES, stream="s", owner="acme"))
    assert [p.not_modified for p in pages] == [True] * 8 + [False, False]
    assert statuses(github, RELEASES) == [304] * 8 + [200, 200]


@pytest.mark.parametrize(
    ("etag", "compact"),
    [
        ('W/"' + "0123456789abcdef" * 2 + '01234567"', True),  # GitHub's weak form: SHA-1
        ('"' + "ab" * 32 + '"', True),  # strong, a SHA-256
        ('W/"ABCDEF0123"', False),  # not lowercase hex: kept as it is
        ('"abc"', False),  # not whole bytes
        ('W/"x"', False),
        ("", False),
    ],
)
def test_etags_are_kept_compact_and_sent_as_github_gave_them(etag: str, compact: bool):
    stored = stored_etag(etag)
    assert sent_etag(stored) == etag
    assert (len(json.dumps(stored)) <= len(json.dumps(etag)) - 18) == compact
    assert (stored == etag) == (not compact)
    # ETags an earlier version kept whole are sent as they are.
    assert sent_etag(etag) == etag


@pytest.mark.parametrize("odd", ["~not-base64!", "=", "~a", "~ab=="])
def test_a_kept_value_no_compaction_made_is_sent_as_it_is(odd: str):
    assert sent_etag(odd) == odd


def test_only_this_runs_requests_are_kept_and_forget_drops_one(github, client):
    stale = {STATE_KEY: {"/repos/acme/gone/releases": {"etags": ['W/"x"'], "pages": 1}}}
    store = Conditional(client, stale)
    list(store.pages(RELEASES, stream="s", owner="acme"))
    store.get(VIEWS, stream="s", owner="acme")
    assert set(store.state()[STATE_KEY]) == {RELEASES, VIEWS}
    store.forget(VIEWS)
    assert set(store.state()[STATE_KEY]) == {RELEASES}


def test_keys_are_kept_without_the_scope_every_path_shares(github, client):
    store = Conditional(client, None, scope="/repos/acme/api")
    store.get(VIEWS, stream="s", owner="acme", params={"per": "day"})
    assert list(store.state()[STATE_KEY]) == ["/traffic/views?per=day"]
    again = Conditional(client, store.state(), scope="/repos/acme/api")
    assert again.get(VIEWS, stream="s", owner="acme", params={"per": "day"}).not_modified


def test_a_fresh_read_asks_every_page_whole_and_keeps_the_new_etags(github, client):
    first = Conditional(client, None)
    list(first.pages(RELEASES, stream="s", owner="acme"))
    kept = first.kept_for(RELEASES)
    assert kept["etags"]
    assert first.kept_for("/repos/acme/api/other") == {}

    again = Conditional(client, first.state())
    pages = list(again.pages(RELEASES, stream="s", owner="acme", fresh=True))
    assert not any(page.not_modified for page in pages)
    assert all(r.if_none_match is None for r in github.requests(f"^{RELEASES}$"))
    assert again.kept_for(RELEASES) == kept  # the same pages: the same ETags
