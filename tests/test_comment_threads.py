"""A first sync's issue comments through GraphQL's threads (fetch/comment_threads.py): the same
records as the REST listing, field by field; exact when the world changes during the walk, when
a thread overflows its nested page, when the walk is cut off or something before its position
goes away."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import graphql
import pytest

from github_simulator import FakeClock, Fault, GitHubSimulator, World, seeded_world
from github_simulator.graphql_api import query_cost, schema
from github_simulator.graphql_cost import EXPENSIVE, KIND
from github_simulator.issues import NUL, add_issue, comment_on, issue_store
from github_simulator.pulls import pulls_of
from github_simulator.truth import EXPECTED
from tap_github_activity import sdk_seams
from tap_github_activity.cost_check import FAMILIES, documented_points
from tap_github_activity.fetch.comment_threads import (
    FOLLOW_UP_BATCH,
    THREAD_BUDGET,
    cheaper_by_threads,
    follow_up_query,
    page_sizes,
    thread_queries,
    threads_query,
)
from tap_github_activity.fetch.issues import COMMENTS, ISSUES
from tap_github_activity.tap import TapGitHubActivity
from tests.conftest import run_sync, select
from tests.fetching import (
    fetch_all,
    issues_fetcher,
    projected,
    query_families,
    repositories,
    rng,
)
from tests.test_pull_requests import hook_graphql

BOTH = {ISSUES, COMMENTS}
# Enough comments per thread that the threads cost less than the REST listing.
THREADED = {"repos": 2, "pulls_per_repo": 60}
LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)


@contextlib.contextmanager
def served(clock: FakeClock, **scale: int) -> Iterator[tuple[World, GitHubSimulator]]:
    world = seeded_world(clock, scale=scale)
    with GitHubSimulator(world) as github:
        yield world, github


def config_of(github: GitHubSimulator, **extra: Any) -> dict[str, Any]:
    return {
        "auth_token": "ghp_alice",
        "api_url": github.api_url,
        "repositories": ["acme/*"],
        **extra,
    }


def threads_queries(github: GitHubSimulator) -> list[Any]:
    return [r for r in github.requests("^/graphql$") if r.points]


# -- the queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "newest", "sizes"),
    [
        (("issues", "pullRequests"), True, {"issues": 45, "pulls": 100}),
        (("issues", "pullRequests"), False, {"issues": 47, "pulls": 100}),
        (("pullRequests",), False, {"pulls": 100}),
        (("issues",), True, {"issues": 100}),
    ],
)
def test_a_threads_page_is_valid_and_costs_one_point_under_either_reading(fields, newest, sizes):
    query = threads_query(fields, newest=newest)
    document = graphql.parse(query)
    assert graphql.validate(schema(), document) == []
    variables = {**sizes, **{f"{prefix}After": None for prefix in sizes}}
    assert query_cost(document, variables, EXPENSIVE) == query_cost(document, variables, KIND) == 1
    # The design's own count (cost_check.py) is GitHub's: 149 requests at most.
    requests = FAMILIES["CommentThreads"].requests(query, variables)
    assert requests <= 149
    assert documented_points(requests) == 1
    # One thread more than the budget: 2 points.
    if len(fields) == 2:
        more = {**variables, "issues": variables["issues"] + 1}
        assert query_cost(document, more, EXPENSIVE) == 2


def test_a_follow_up_query_pages_100_threads_for_one_point():
    kinds = [True, False] * (FOLLOW_UP_BATCH // 2)
    document = graphql.parse(follow_up_query(kinds))
    assert graphql.validate(schema(), document) == []
    assert query_cost(document, {}, EXPENSIVE) == query_cost(document, {}, KIND) == 1


def test_page_sizes_fill_the_budget_larger_need_first():
    assert page_sizes({"issues": 15, "pullRequests": 183}, 145) == {
        "pullRequests": 100,
        "issues": 45,
    }
    assert page_sizes({"issues": 15, "pullRequests": 84}, 147) == {
        "pullRequests": 84,
        "issues": 63,
    }
    assert page_sizes({"issues": 500}, 147) == {"issues": 100}
    # Two queries for the medium world's 15 issues and 183 pull requests a repository.
    assert thread_queries(15, 183, THREAD_BUDGET) == 2
    assert thread_queries(0, 0, THREAD_BUDGET) == 1
    assert thread_queries(300, 300, THREAD_BUDGET) == 5  # 145 + 4 x 146 (one repeated a page)


def test_the_threads_are_chosen_only_when_they_cost_less_than_the_listing():
    few = {n: (n % 2 == 0, 2) for n in range(1, 28)}  # 54 comments: one REST page
    assert not cheaper_by_threads(few, THREAD_BUDGET)
    many = {n: (n % 2 == 0, 5) for n in range(1, 199)}  # 990 comments: 10 REST pages
    assert cheaper_by_threads(many, THREAD_BUDGET)
    # One thread of 5,000 comments: 51 follow-up pages in one query; REST 50 pages.
    assert cheaper_by_threads({1: (False, 5000)}, THREAD_BUDGET)


# -- records equal the REST listing's ------------------------------------------------------------


@pytest.mark.parametrize("include_bodies", [True, False])
def test_first_sync_records_equal_the_rest_listings_field_by_field(clock, include_bodies):
    with served(clock, **THREADED) as (world, github):
        by_threads = issues_fetcher(github, include_bodies=include_bodies)
        threads = fetch_all(github, by_threads)
        assert set(query_families(by_threads)) == {"CommentThreads"}
        # From the same world, the REST listing from a start long ago: every comment.
        by_listing = issues_fetcher(
            github, include_bodies=include_bodies, start={COMMENTS: LONG_AGO}
        )
        listing = fetch_all(github, by_listing)
        assert query_families(by_listing) == {}
        rows = threads.keyed(COMMENTS)
        assert rows == listing.keyed(COMMENTS)
        assert len(threads.rows[COMMENTS]) == len(rows)  # none twice
        assert {tuple(sorted(r)) for r in rows.values()} == {
            tuple(sorted(r)) for r in listing.rows[COMMENTS]
        }
        truth = EXPECTED[COMMENTS](world)
        if not include_bodies:
            truth = {key: {**row, "body": None} for key, row in truth.items()}
        assert projected(rows, truth) == truth
        bodies = [c.body for cs in issue_store(world).comments.values() for c in cs]
        assert any(NUL in body for body in bodies), "no NUL in the world: the test cannot fail"
        if include_bodies:
            assert all(NUL not in r["body"] for r in rows.values())
        else:
            assert {r["body"] for r in rows.values()} == {None}
        # Per repository: one page of issues, one query of threads, one REST page after it.
        assert (threads.requests, threads.points) == (6, 6)
        assert listing.points > threads.points


def test_the_taps_records_equal_those_of_a_sync_from_a_start_date(clock):
    with served(clock, **THREADED) as (_world, github):
        config = config_of(github, tags=["team-a"])
        by_threads = run_sync(config, streams=BOTH)
        by_listing = run_sync({**config, "start_date": "2000-01-01T00:00:00Z"}, streams=BOTH)
        for stream in BOTH:
            ours = sorted(by_threads.records[stream], key=lambda r: r["id"])
            theirs = sorted(by_listing.records[stream], key=lambda r: r["id"])
            assert ours == theirs, stream
        assert {r["tags"][0] for r in by_threads.records[COMMENTS]} == {"team-a"}
        families = by_threads.tap.client.ledger.cost_check.rows()
        assert "CommentThreads" in [name for name, *_ in families]
        assert all(queries == expected == charged for _, queries, expected, charged in families)


# -- exact under change ----------------------------------------------------------------------------


def test_long_threads_are_completed_by_follow_up_queries(clock):
    with served(clock, repos=1, pulls_per_repo=20) as (world, github):
        repo = repositories(world)[0]
        issue = issue_store(world).issues[repo.id][0]
        pull = pulls_of(world).by_repo[repo.id][0]
        with world.lock:
            for count, number in ((250, issue.number), (150, pull.number)):
                for _ in range(count):
                    comment_on(world, rng(3), repo, number, world.now() - timedelta(days=1))
        fetcher = issues_fetcher(github)
        first = fetch_all(github, fetcher)
        truth = EXPECTED[COMMENTS](world)
        assert projected(first.keyed(COMMENTS), truth) == truth
        assert len(first.rows[COMMENTS]) == len(truth)
        # Each is read again from its first comment by follow-up queries of 1 point, a page
        # after the first repeating one comment: 100, 99, 51 of one, 100 and 50 of the other.
        assert query_families(fetcher) == {
            "CommentThreads": (1, 1, 1),
            "CommentThreadPages": (3, 3, 3),
        }
        again = fetch_all(github, fetcher, first.bookmarks)
        assert again.rows == {}
        assert again.points == 0


def test_comments_deleted_in_a_long_thread_during_its_pages_send_it_to_the_rest_listing(
    clock, monkeypatch, caplog
):
    with served(clock, repos=1, pulls_per_repo=20) as (world, github):
        repo = repositories(world)[0]
        issue = issue_store(world).issues[repo.id][0]
        with world.lock:
            for _ in range(250):
                comment_on(world, rng(3), repo, issue.number, world.now() - timedelta(days=1))
        store = issue_store(world)

        def delete() -> None:  # two of the thread's first page
            with world.lock:
                thread = [c for c in store.comments[repo.id] if c.number == issue.number]
                for comment in thread[:2]:
                    store.comments[repo.id].remove(comment)

        # 1: the threads; 2: the long thread's first page; 3: its second page.
        hook_graphql(monkeypatch, {3: delete})
        fetcher = issues_fetcher(github)
        with caplog.at_level("INFO", logger="tap_github_activity.fetch.issues"):
            first = fetch_all(github, fetcher)
        truth = EXPECTED[COMMENTS](world)
        emitted = {k: v for k, v in first.keyed(COMMENTS).items() if k in truth}
        assert projected(emitted, truth) == truth
        assert "read from the REST listing" in caplog.text


def test_changes_during_the_walk_are_read_by_the_listing_after_it(clock, monkeypatch):
    with served(clock, repos=1, issues_per_repo=120, pulls_per_repo=60) as (world, github):
        repo = repositories(world)[0]
        issues = issue_store(world).issues[repo.id]
        by_creation = sorted(issues, key=lambda i: (i.created_at, i.id))
        read, unread = by_creation[0], by_creation[-1]  # on the first page, and on the second
        edited = next(c for c in issue_store(world).comments[repo.id] if c.number == read.number)

        def change() -> None:
            clock.advance(30)
            with world.lock:
                now = world.now()
                comment_on(world, rng(1), repo, read.number, now)
                comment_on(world, rng(2), repo, unread.number, now)
                edited.body += " (edited during the walk)"
                edited.updated_at = now
                new = add_issue(world, rng(3), repo, now)
                comment_on(world, rng(4), repo, new.number, now)
                moved.extend([read.number, unread.number, new.number])

        moved: list[int] = []

        hook_graphql(monkeypatch, {2: change})  # before the second page of threads
        fetcher = issues_fetcher(github)
        first = fetch_all(github, fetcher)
        # Two pages of issues, and a third for the new one.
        assert query_families(fetcher)["CommentThreads"][0] == 3
        truth = EXPECTED[COMMENTS](world)
        emitted = first.keyed(COMMENTS)
        assert projected(emitted, truth) == truth
        assert emitted[(edited.id,)]["body"].endswith("(edited during the walk)")
        # The unread thread's new comment came with its page; the listing after the walk
        # skipped it, as every comment the walk read in the second of its bound or later.
        assert len(first.rows[COMMENTS]) == len(truth) + 1  # the edited one, twice
        monkeypatch.undo()
        # The issues the changes moved come next sync (their listing was read before); no
        # comment does.
        again = fetch_all(github, fetcher, first.bookmarks)
        assert set(again.rows) == {ISSUES}
        assert sorted(row["number"] for row in again.rows[ISSUES]) == sorted(moved)
        assert fetch_all(github, fetcher, again.bookmarks).points == 0


def test_a_thread_deleted_during_the_walk_sends_it_to_the_rest_listing(clock, monkeypatch, caplog):
    with served(clock, repos=1, issues_per_repo=120, pulls_per_repo=60) as (world, github):
        repo = repositories(world)[0]
        store = issue_store(world)
        # Two on the first page of issues (in creation order): with positions for cursors, the
        # second page would begin one thread late and skip one.
        gone = sorted(store.issues[repo.id], key=lambda i: (i.created_at, i.id))[3:5]

        def delete() -> None:
            with world.lock:
                for issue in gone:
                    store.issues[repo.id].remove(issue)
                numbers = {issue.number for issue in gone}
                store.comments[repo.id] = [
                    c for c in store.comments[repo.id] if c.number not in numbers
                ]

        hook_graphql(monkeypatch, {2: delete})
        fetcher = issues_fetcher(github)
        with caplog.at_level("INFO", logger="tap_github_activity.fetch.issues"):
            first = fetch_all(github, fetcher)
        truth = EXPECTED[COMMENTS](world)
        assert (
            projected({k: v for k, v in first.keyed(COMMENTS).items() if k in truth}, truth)
            == truth
        )
        assert "read from the REST listing" in caplog.text
        # The listing was read from its beginning, and is the bookmark.
        listing = [r for r in github.requests(r"/issues/comments$")]
        assert "since" not in listing[0].query
        monkeypatch.undo()
        assert fetch_all(github, fetcher, first.bookmarks).points == 0


def test_a_walk_github_keeps_failing_gives_way_to_the_rest_listing(clock, monkeypatch, caplog):
    with served(clock, **THREADED) as (world, github):
        config = config_of(github, retry_max_attempts=2, max_concurrent_requests=1)
        # The second repository's walk fails for good (a 502 through every retry): its
        # comments come from the REST listing, and the run succeeds.
        outage = Fault("^/graphql$", status=502, times=10**6)
        hook_graphql(monkeypatch, {2: lambda: github.inject(outage)})
        with caplog.at_level("WARNING", logger="tap_github_activity.fetch.issues"):
            result = run_sync(config, streams=BOTH)
        assert "read from the REST listing" in caplog.text
        truth = EXPECTED[COMMENTS](world)
        rows = {(r["id"],): r for r in result.records[COMMENTS]}
        assert projected(rows, truth) == truth


def test_a_run_killed_during_a_walk_keeps_no_bookmark_and_the_next_reads_every_comment(
    clock, monkeypatch
):
    with served(clock, repos=2, issues_per_repo=120, pulls_per_repo=60) as (world, github):
        config = config_of(github, max_concurrent_requests=1)
        repos = repositories(world)

        def kill() -> None:
            raise KeyboardInterrupt

        # Each repository's walk is two queries: killed after the first of the second's. Every
        # checkpoint writes the state (not every 30 s).
        hook_graphql(monkeypatch, {4: kill})
        monkeypatch.setattr(sdk_seams, "STATE_MESSAGE_INTERVAL", 0.0)
        discovered = TapGitHubActivity(config=config, validate_config=True)
        tap = TapGitHubActivity(
            config=config, catalog=select(discovered.catalog_dict, BOTH), validate_config=True
        )
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), pytest.raises(KeyboardInterrupt):
            tap.sync_all()
        monkeypatch.undo()
        messages = [json.loads(line) for line in buffer.getvalue().splitlines() if line]
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        state = states[-1]
        partitions = state["bookmarks"][COMMENTS]["partitions"]
        kept = {p["context"]["repo_id"] for p in partitions if p.get("listing")}
        assert kept == {repos[0].id}  # the first repository's, read whole before the kill
        emitted = {
            m["record"]["id"]
            for m in messages
            if m["type"] == "RECORD" and m["stream"] == COMMENTS and m["record"]["repo_id"] in kept
        }
        clock.advance(60)
        resumed = run_sync(config, state=state, streams=BOTH)
        truth = EXPECTED[COMMENTS](world)
        assert emitted | {r["id"] for r in resumed.records[COMMENTS]} == {key[0] for key in truth}
