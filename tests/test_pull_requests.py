"""pull_requests and pull_request_reviews: one GraphQL walk per repository feeds both streams.

Costs are pinned: a page of 29 pull requests (with reviews, labels, review requests and the
commits and comments counts nested) costs 1 point under the expensive reading; follow-up queries
page the reviews beyond the nested page of 50.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import graphql
import jsonschema
import pytest

from github_simulator import FakeClock, Fault, GitHubSimulator, World, seeded_world
from github_simulator.graphql_api import query_cost, schema
from github_simulator.graphql_cost import KIND
from github_simulator.pulls import (
    expected_pull_request_reviews,
    expected_pull_requests,
    mutate_pulls,
    pulls_of,
)
from github_simulator.world import iso
from tap_github_activity import tap as tap_module
from tap_github_activity.client import GitHubClient
from tap_github_activity.errors import RequestFailedError
from tap_github_activity.fetch.pull_query import (
    PAGE_QUERY,
    PAGE_SIZE,
    PAGE_SIZES,
    REVIEWS_PAGE_SIZE,
    follow_up_query,
)
from tap_github_activity.streams.pull_requests import PullRequestReviewsStream, PullRequestsStream
from tap_github_activity.tap import TapGitHubActivity
from tests.conftest import run_sync, select

BOTH = {"pull_requests", "pull_request_reviews"}
GRAPHQL = "^/graphql$"


@contextlib.contextmanager
def simulated(
    clock: FakeClock, **scale: int
) -> Iterator[tuple[World, GitHubSimulator, dict[str, Any]]]:
    """A world of a given scale, served."""
    world = seeded_world(clock, scale=scale)
    with GitHubSimulator(world) as github:
        yield (
            world,
            github,
            {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]},
        )


def graphql_cost(github: GitHubSimulator) -> tuple[int, int]:
    """(requests, points) of POST /graphql since the log was reset."""
    requests = github.requests(GRAPHQL, "POST")
    return len(requests), sum(r.points for r in requests)


def emitted(
    result: Any,
    stream: str,
    expected: dict[tuple[Any, ...], dict[str, Any]],
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The stream's records by primary key, cut to the fields the truth speaks of."""
    fields = next(iter(expected.values())).keys()
    rows = result.records.get(stream, [])
    by_key = {(row["id"],): {f: row[f] for f in fields} for row in rows}
    assert len(by_key) == len(rows), "a record was emitted twice in one run"
    return by_key


def bookmarks(state: dict[str, Any], stream: str) -> dict[int, str | None]:
    """repo_id -> the stream's bookmark."""
    partitions = state.get("bookmarks", {}).get(stream, {}).get("partitions", [])
    return {p["context"]["repo_id"]: p.get("replication_key_value") for p in partitions}


def newest_update(world: World) -> dict[int, str]:
    """repo_id -> the newest updatedAt of its pull requests."""
    return {
        repo_id: iso(max(p.updated_at for p in pulls))
        for repo_id, pulls in pulls_of(world).by_repo.items()
    }


def run_until_failure(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    streams: set[str] | None = None,
) -> tuple[list[dict[str, Any]], BaseException | None]:
    """Like run_sync, but keeps the messages written before the run failed."""
    discovered = TapGitHubActivity(config=config, validate_config=True)
    tap = TapGitHubActivity(
        config=config,
        state=state or {},
        catalog=select(discovered.catalog_dict, streams),
        validate_config=True,
    )
    buffer = io.StringIO()
    error = None
    with contextlib.redirect_stdout(buffer):
        try:
            tap.sync_all()
        except RequestFailedError as exc:
            error = exc
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line], error


def hook_graphql(monkeypatch: pytest.MonkeyPatch, before_call: dict[int, Any]) -> None:
    """Run before_call[n]() just before the tap's n-th GraphQL request (1-based)."""
    original = GitHubClient.graphql
    calls = {"n": 0}

    def graphql_hooked(self: GitHubClient, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] in before_call:
            before_call[calls["n"]]()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GitHubClient, "graphql", graphql_hooked)


# -- the queries ---------------------------------------------------------------------------------


def test_queries_are_valid_and_cost_one_point():
    page = graphql.parse(PAGE_QUERY)
    assert graphql.validate(schema(), page) == []
    assert query_cost(page, {"cursor": None, **PAGE_SIZES}) == 1
    # One more pull request per page and its five nested connections cost 2 points (counts
    # counted: GitHub's expensive reading); 1 if they were free.
    assert query_cost(page, {**PAGE_SIZES, "pageSize": PAGE_SIZE + 1}) == 2
    kind = {**PAGE_SIZES, "pageSize": 49}
    assert (query_cost(page, kind), query_cost(page, kind, KIND)) == (2, 1)
    for batch in (1, 3, 100):
        follow_up = graphql.parse(follow_up_query(batch))
        assert graphql.validate(schema(), follow_up) == []
        assert query_cost(follow_up, {}) == 1


# -- first sync ------------------------------------------------------------------------------------


def test_first_sync_emits_every_pull_request_and_review(config, github, world):
    result = run_sync(config, streams=BOTH)

    expected_pulls = expected_pull_requests(world)
    expected_reviews = expected_pull_request_reviews(world)
    assert emitted(result, "pull_requests", expected_pulls) == expected_pulls
    assert emitted(result, "pull_request_reviews", expected_reviews) == expected_reviews
    assert len(expected_pulls) == 36
    # The seeded world has what the records must get right.
    rows = result.records["pull_requests"]
    assert {r["state"] for r in rows} == {"open", "closed", "merged"}
    assert any(r["draft"] for r in rows)
    bots = [r for r in rows if r["author_type"] == "Bot"]
    assert bots
    assert all(r["author_login"].endswith("[bot]") for r in bots)  # REST's spelling
    assert any(r["requested_teams"] for r in rows)
    assert any(r["requested_reviewers"] for r in rows)
    states = {r["state"] for r in result.records["pull_request_reviews"]}
    assert states == {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"}
    # alice's own unsubmitted review is visible to her token, and not reported.
    pending = [
        r
        for pulls in pulls_of(world).by_repo.values()
        for p in pulls
        for r in p.reviews
        if r.state == "PENDING" and r.author.login == "alice"
    ]
    assert pending
    assert not {(r.id,) for r in pending} & expected_reviews.keys()
    for row in result.records["pull_request_reviews"]:
        assert "body" not in row
    # The change probe, then one GraphQL page per repository; nothing per pull request,
    # nothing from REST's pulls.
    assert graphql_cost(github) == (1 + 3, 1 + 3)
    assert not github.requests("/pulls")


def test_records_match_their_schema_messages(config, github):
    result = run_sync(config, streams=BOTH)
    schemas = {m["stream"]: m["schema"] for m in result.messages if m["type"] == "SCHEMA"}
    for stream in BOTH:
        validator = jsonschema.Draft7Validator(schemas[stream])
        for row in result.records[stream]:
            validator.validate(row)
        assert {"event_uuid", "repo_id", "updated_at"} <= schemas[stream]["properties"].keys()
    uuids = [r["event_uuid"] for stream in BOTH for r in result.records[stream]]
    assert len(set(uuids)) == len(uuids)


def test_both_streams_cost_what_one_costs(config, github, world):
    costs = {}
    results = {}
    for streams in ({"pull_requests"}, {"pull_request_reviews"}, BOTH):
        github.reset_log()
        results[frozenset(streams)] = run_sync(config, streams=streams)
        costs[frozenset(streams)] = graphql_cost(github)
    assert set(costs.values()) == {(1 + 3, 1 + 3)}  # the change probe and a page each
    alone = results[frozenset({"pull_request_reviews"})]
    expected = expected_pull_request_reviews(world)
    assert emitted(alone, "pull_request_reviews", expected) == expected


def test_either_stream_may_sync_first(config, github, world, monkeypatch):
    reordered = [t for t in tap_module.STREAM_TYPES if t is not PullRequestsStream]
    reordered.insert(reordered.index(PullRequestReviewsStream) + 1, PullRequestsStream)
    monkeypatch.setattr(tap_module, "STREAM_TYPES", reordered)

    result = run_sync(config, streams=BOTH)

    children = [s.name for s in result.tap.streams["repositories"].child_streams]
    assert children.index("pull_request_reviews") < children.index("pull_requests")
    for stream, truth in (
        ("pull_requests", expected_pull_requests),
        ("pull_request_reviews", expected_pull_request_reviews),
    ):
        expected = truth(world)
        assert emitted(result, stream, expected) == expected
    assert graphql_cost(github) == (1 + 3, 1 + 3)  # the change probe and a page each
    # One walk, counted under pull_requests whichever stream takes its rows first.
    assert result.tap.client.ledger.points[("pull_requests", "graphql")] == 3
    assert ("pull_request_reviews", "graphql") not in result.tap.client.ledger.points


def test_150_pull_requests_take_six_one_point_pages(clock):
    with simulated(clock, repos=1, pulls_per_repo=150) as (world, github, config):
        result = run_sync(config, streams=BOTH)

        expected = expected_pull_requests(world)
        assert emitted(result, "pull_requests", expected) == expected
        assert len(expected) == 150
        # The change probe, then five pages of 29 and one of 5, newest update first.
        assert graphql_cost(github) == (1 + 6, 1 + 6)
        updated = [r["updated_at"] for r in result.records["pull_requests"]]
        assert updated == sorted(updated, reverse=True)

        clock.advance(3600)
        github.reset_log()
        again = run_sync(config, state=result.state, streams=BOTH)
        assert again.records == {}
        assert graphql_cost(github) == (1, 1)  # the change probe alone


# -- bookmarks -----------------------------------------------------------------------------------


def test_bookmark_is_the_newest_update_of_each_repository(config, github, world):
    result = run_sync(config, streams=BOTH)
    newest = newest_update(world)
    for stream in BOTH:
        # Newest first is not sorted for singer-sdk (it would stop at the second record).
        assert result.tap.streams[stream].is_sorted is False
        assert bookmarks(result.state, stream) == newest
        for partition in result.state["bookmarks"][stream]["partitions"]:
            # One small bookmark per repository: nothing else kept.
            assert set(partition) == {"context", "replication_key", "replication_key_value"}


def test_repeated_sync_without_change_emits_nothing_for_one_probe(config, github, clock):
    first = run_sync(config, streams=BOTH)
    clock.advance(3600)
    github.reset_log()

    second = run_sync(config, state=first.state, streams=BOTH)

    assert second.records == {}
    # One change probe for the three repositories: no pull request is newer than a bookmark,
    # so no repository is asked.
    assert graphql_cost(github) == (1, 1)
    for stream in BOTH:
        assert bookmarks(second.state, stream) == bookmarks(first.state, stream)


def test_changes_come_again_and_nothing_else(config, github, world, clock):
    first = run_sync(config, streams=BOTH)
    before_pulls = expected_pull_requests(world)
    before_reviews = expected_pull_request_reviews(world)
    clock.advance(3600)
    mutate_pulls(world, random.Random(1))  # noqa: S311 -- reproducible test data
    clock.advance(60)
    github.reset_log()

    second = run_sync(config, state=first.state, streams=BOTH)

    after_pulls = expected_pull_requests(world)
    changed = {key: value for key, value in after_pulls.items() if before_pulls.get(key) != value}
    # Per repository: a new one, an edit, a new review on the oldest, a merge, a relabelling.
    assert len(changed) == 5 * 3
    assert emitted(second, "pull_requests", after_pulls) == changed
    # Every review of a changed pull request comes again (with its new updated_at).
    after_reviews = expected_pull_request_reviews(world)
    changed_ids = {key[0] for key in changed}
    assert emitted(second, "pull_request_reviews", after_reviews) == {
        key: value
        for key, value in after_reviews.items()
        if value["pull_request_id"] in changed_ids
    }
    new_reviews = after_reviews.keys() - before_reviews.keys()
    assert len(new_reviews) == 2 * 3
    assert new_reviews <= {(r["id"],) for r in second.records["pull_request_reviews"]}
    # The oldest pull request's new approval is in its summary; the merge is there.
    rows = {r["id"]: r for r in second.records["pull_requests"]}
    reviewed = [
        k
        for k, v in changed.items()
        if k in before_pulls and v["approval_count"] == before_pulls[k]["approval_count"] + 1
    ]
    assert len(reviewed) == 3
    merged = [
        k
        for k, v in changed.items()
        if k in before_pulls and before_pulls[k]["state"] == "open" and v["state"] == "merged"
    ]
    assert len(merged) == 3
    assert all(rows[k[0]]["merged_at"] == rows[k[0]]["updated_at"] for k in merged)
    # The change probe and one page per repository, and the bookmarks moved to the changes.
    assert graphql_cost(github) == (1 + 3, 1 + 3)
    for stream in BOTH:
        assert bookmarks(second.state, stream) == newest_update(world)


def test_update_in_the_second_the_walk_reads_is_not_skipped(
    config, github, world, clock, monkeypatch
):
    # GitHub's timestamps have whole seconds. The newest pull request was updated in the same
    # second as the walk of its repository, and another one right after the walk read it.
    first = run_sync(config, streams=BOTH)
    clock.advance(3600)
    api = world.repo("acme", "api")
    assert api is not None
    pulls = sorted(pulls_of(world).by_repo[api.id], key=lambda p: p.updated_at)
    seen, late = pulls[0], pulls[1]
    seen.updated_at = world.now()
    seen.title += " (edited)"

    def update_late() -> None:
        late.updated_at = world.now()
        late.title += " (edited later in the same second)"

    # Call 1 is the change probe (only acme/api changed), call 2 acme/api's walk: right after
    # it read, the late one is updated.
    original = GitHubClient.graphql
    calls = {"n": 0}

    def graphql_then(self: GitHubClient, *args: Any, **kwargs: Any) -> dict[str, Any]:
        data = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            update_late()
        return data

    monkeypatch.setattr(GitHubClient, "graphql", graphql_then)
    second = run_sync(config, state=first.state, streams={"pull_requests"})
    assert calls["n"] == 2
    assert [r["id"] for r in second.records["pull_requests"]] == [seen.id]

    clock.advance(60)
    third = run_sync(config, state=second.state, streams={"pull_requests"})
    # Both come: the late one, and again the one of that second (the bookmark stays a second
    # before the walk, so one seen in that second is read again rather than one missed).
    assert sorted(r["id"] for r in third.records["pull_requests"]) == sorted([seen.id, late.id])
    assert {r["title"] for r in third.records["pull_requests"]} == {seen.title, late.title}


def test_an_interrupted_run_skips_no_pull_request(clock, monkeypatch):
    with simulated(clock, repos=1, pulls_per_repo=150) as (world, github, config):
        first = run_sync(config, streams=BOTH)
        clock.advance(3600)
        # 60 pull requests change: more than one page.
        pulls = sorted(pulls_of(world).by_repo[next(iter(world.repos))], key=lambda p: p.number)[
            :60
        ]
        for offset, pull in enumerate(pulls):
            pull.title += " (edited)"
            pull.updated_at = world.now() - timedelta(seconds=offset)
        clock.advance(60)

        # Page two fails for good (a 502 through every retry).
        outage = Fault(GRAPHQL, status=502, times=10**6)
        hook_graphql(monkeypatch, {2: lambda: github.inject(outage)})
        messages, error = run_until_failure(config, state=first.state, streams=BOTH)
        outage.times = 0
        assert error is not None
        assert not [m for m in messages if m["type"] == "RECORD"]
        last_state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
        for stream in BOTH:
            assert bookmarks(last_state, stream) == bookmarks(first.state, stream)

        monkeypatch.undo()
        clock.advance(60)
        resumed = run_sync(config, state=last_state, streams=BOTH)
        assert sorted(r["id"] for r in resumed.records["pull_requests"]) == sorted(
            p.id for p in pulls
        )
        expected = expected_pull_requests(world)
        assert emitted(resumed, "pull_requests", expected) == {
            (p.id,): expected[(p.id,)] for p in pulls
        }


def test_a_pull_request_moving_up_during_the_walk_is_read_once_now_and_again_next_run(
    clock, monkeypatch
):
    with simulated(clock, repos=1, pulls_per_repo=150) as (world, github, config):
        pulls = sorted(pulls_of(world).by_repo[next(iter(world.repos))], key=lambda p: p.updated_at)
        mover = pulls[0]  # the least recently updated: on the last page

        def update_mover() -> None:
            mover.updated_at = world.now()
            mover.title += " (edited during the walk)"

        hook_graphql(monkeypatch, {3: update_mover})  # 1: the change probe; 2: page one
        first = run_sync(config, streams=BOTH)

        rows = first.records["pull_requests"]
        # Page two repeats page one's last pull request (skipped); the mover, now first, is
        # not reached by this walk.
        assert len({r["id"] for r in rows}) == len(rows) == 149
        assert mover.id not in {r["id"] for r in rows}
        assert graphql_cost(github) == (1 + 6, 1 + 6)

        monkeypatch.undo()
        clock.advance(60)
        second = run_sync(config, state=first.state, streams=BOTH)
        assert [r["id"] for r in second.records["pull_requests"]] == [mover.id]
        reviews = {r["id"] for r in second.records.get("pull_request_reviews", [])}
        assert reviews == {r.id for r in mover.reviews if r.state != "PENDING"}


def test_reviews_selected_later_are_read_from_their_own_start(config, github, world, clock):
    first = run_sync(config, streams={"pull_requests"})
    clock.advance(3600)
    github.reset_log()

    second = run_sync(config, state=first.state, streams=BOTH)

    # pull_requests has nothing new; the reviews have no bookmark and come in full, read by the
    # same single walk per repository (after the change probe).
    assert "pull_requests" not in second.records
    expected = expected_pull_request_reviews(world)
    assert emitted(second, "pull_request_reviews", expected) == expected
    assert graphql_cost(github) == (1 + 3, 1 + 3)


def test_start_date_limits_the_first_sync(config, github, world):
    updates = sorted(iso(p.updated_at) for pulls in pulls_of(world).by_repo.values() for p in pulls)
    start = updates[len(updates) // 2]

    result = run_sync({**config, "start_date": start}, streams=BOTH)

    expected = {k: v for k, v in expected_pull_requests(world).items() if v["updated_at"] > start}
    assert emitted(result, "pull_requests", expected) == expected
    assert graphql_cost(github) == (1 + 3, 1 + 3)


# -- reviews beyond the nested page --------------------------------------------------------------


def test_reviews_beyond_the_nested_page_come_by_follow_up_queries(clock):
    with simulated(clock, repos=1, pulls_per_repo=12, pulls_with_many_reviews=3) as (
        world,
        github,
        config,
    ):
        result = run_sync(config, streams=BOTH)

        expected_reviews = expected_pull_request_reviews(world)
        assert emitted(result, "pull_request_reviews", expected_reviews) == expected_reviews
        expected_pulls = expected_pull_requests(world)
        assert emitted(result, "pull_requests", expected_pulls) == expected_pulls
        counts = sorted(v["review_count"] for v in expected_pulls.values())
        assert counts[-3:] == [51, 150, 175]
        # The change probe, the page, then one follow-up for the three overflowing pull
        # requests together (from review 51, 100 at a time), then one for the 25 reviews the
        # last one still has.
        rounds = max(math.ceil(max(n - REVIEWS_PAGE_SIZE, 0) / 100) for n in counts)
        assert rounds == 2
        assert graphql_cost(github) == (2 + rounds, 2 + rounds)


# -- repositories the token cannot read ----------------------------------------------------------


def test_repository_gone_from_view_is_skipped_and_counted(
    config, github, world, monkeypatch, caplog
):
    # alice leaves the organization after the selection listed its repositories: the private
    # acme/web answers NOT_FOUND (to the change probe too: it is left to the streams); the
    # public ones are read.
    hook_graphql(monkeypatch, {1: lambda: world.tokens["ghp_alice"].orgs.discard("acme")})
    with caplog.at_level(logging.WARNING):
        result = run_sync(config, streams=BOTH)

    web = world.repo("acme", "web")
    assert web is not None
    assert {r["repo"] for r in result.records["pull_requests"]} == {"api", "infra"}
    assert {r["repo"] for r in result.records["pull_request_reviews"]} == {"api", "infra"}
    assert result.tap.run_summary.skipped == {
        "pull_requests": ["acme/web (404)"],
        "pull_request_reviews": ["acme/web (404)"],
    }
    assert "skipping acme/web" in caplog.text
    # The probe, and one request for the hidden repository: the sibling stream does not ask
    # again.
    assert graphql_cost(github) == (1 + 3, 1 + 3)
    for stream in BOTH:
        assert bookmarks(result.state, stream).get(web.id) is None
