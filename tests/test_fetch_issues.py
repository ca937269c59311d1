"""The issues fetcher against the simulator: exact first, repeated and changed syncs."""

from __future__ import annotations

import json

import pytest

from github_simulator import Fault, GitHubSimulator, seeded_world
from github_simulator import issues_api as simulated_issues
from github_simulator.issues import NUL, add_issue, comment_on, issue_store
from github_simulator.pulls import pulls_of
from github_simulator.truth import EXPECTED, MUTATIONS
from tap_github_activity.errors import RequestFailedError
from tests.fetching import (
    FamilyFetcher,
    Fetched,
    changed,
    collect,
    fetch_all,
    issues_fetcher,
    projected,
    query_families,
    repositories,
    rng,
)

STREAMS = ("issues", "issue_comments")


@pytest.fixture
def fetcher(github: GitHubSimulator) -> FamilyFetcher:
    return issues_fetcher(github)


def test_first_sync_emits_exactly_the_issues_and_comments(github, world, fetcher):
    first = fetch_all(github, fetcher)
    for stream in STREAMS:
        truth = EXPECTED[stream](world)
        assert projected(first.keyed(stream), truth) == truth, stream
        assert len(first.rows[stream]) == len(truth), f"{stream}: a row emitted twice"
    # Pull request comments come with their parent's kind; pull requests are not issues.
    comments = first.rows["issue_comments"]
    assert {row["is_pull_request"] for row in comments} == {True, False}
    assert {row["repo_id"] for row in first.rows["issues"]} == {r.id for r in repositories(world)}
    # Per repository: one page of issues (with its pull requests), one of comments.
    assert (first.requests, first.points) == (6, 6)


def test_a_repeated_sync_emits_nothing_and_costs_no_point(github, fetcher):
    first = fetch_all(github, fetcher)
    again = fetch_all(github, fetcher, first.bookmarks)
    assert again.rows == {}
    assert {r.status for r in github.requests()} == {304}
    assert (again.requests, again.points) == (6, 0)
    assert again.bookmarks == first.bookmarks


def test_after_changes_the_next_sync_emits_exactly_them(github, world, clock, fetcher):
    first = fetch_all(github, fetcher)
    before = {stream: EXPECTED[stream](world) for stream in STREAMS}
    clock.advance(3600)
    MUTATIONS["issues"](world, rng(1))
    after = {stream: EXPECTED[stream](world) for stream in STREAMS}
    second = fetch_all(github, fetcher, first.bookmarks)
    for stream in STREAMS:
        expected_keys = changed(before[stream], after[stream])
        assert expected_keys, f"the mutation changed no {stream}"
        emitted = second.keyed(stream)
        assert set(emitted) == expected_keys, stream
        assert projected(emitted, after[stream]) == {k: after[stream][k] for k in expected_keys}
    # Per repository: the two listings, and one GraphQL point to learn whether the old thread
    # of the edited comment is a pull request (its parent did not move).
    assert (second.requests, second.points) == (9, 9)
    assert len(github.requests("/graphql")) == 3
    assert query_families(fetcher) == {"IssueKinds": (3, 3, 3)}
    third = fetch_all(github, fetcher, second.bookmarks)
    assert third.rows == {}
    assert third.points == 0


def test_an_incremental_chain_equals_a_fresh_full_sync(github, world, clock, fetcher):
    merged: dict[str, dict] = {stream: {} for stream in STREAMS}
    bookmarks = None
    for day in range(3):
        result = fetch_all(github, fetcher, bookmarks)
        bookmarks = result.bookmarks
        for stream in STREAMS:
            merged[stream].update(result.keyed(stream))
        clock.advance(86400)
        MUTATIONS["issues"](world, rng(day))
    for stream in STREAMS:
        merged[stream].update(fetch_all(github, fetcher, bookmarks).keyed(stream))
        assert merged[stream] == fetch_all(github, fetcher).keyed(stream), stream


def test_nul_characters_are_stripped(github, world, fetcher):
    store = issue_store(world)
    texts = [i.title for issues in store.issues.values() for i in issues]
    texts += [c.body for comments in store.comments.values() for c in comments]
    assert any(NUL in text for text in texts), "the world holds no NUL: the test cannot fail"
    first = fetch_all(github, fetcher)
    assert "\\u0000" not in json.dumps(first.rows)


def test_bodies_are_left_out_when_asked(github):
    first = fetch_all(github, issues_fetcher(github, include_bodies=False))
    for stream in STREAMS:
        assert first.rows[stream]
        assert {row["body"] for row in first.rows[stream]} == {None}


def test_a_comment_page_that_keeps_failing_fails_the_family_and_loses_nothing(
    github, world, fetcher
):
    repo = repositories(world)[0]
    github.inject(Fault(path=f"/repos/{repo.full_name}/issues/comments$", status=502, times=6))
    partial = Fetched()
    # Two attempts: the retry budget is spent after one real wait of about a second.
    with pytest.raises(RequestFailedError, match=r"issues/comments.*502"):
        collect(issues_fetcher(github, retry_max_attempts=2), repo, {}, partial)
    # The issues' state is kept; the comments' is not: the next sync reads them all.
    assert set(partial.bookmarks[repo.id]) == {"issues"}
    again = collect(fetcher, repo, partial.bookmarks[repo.id])
    truth = EXPECTED["issue_comments"](world)
    assert set(again.keyed("issue_comments")) == {
        key for key, value in truth.items() if value["repo_id"] == repo.id
    }
    assert "issues" not in again.rows


def test_many_comments_are_read_without_deep_pages(clock, monkeypatch):
    # GitHub refuses deep page= on /issues/comments: the keyset walk never asks past page 1.
    monkeypatch.setattr(simulated_issues, "DEEP_PAGE_LIMIT", 1)
    world = seeded_world(clock, scale={"issues_per_repo": 120, "repos": 1})
    with GitHubSimulator(world) as github:
        first = fetch_all(github, issues_fetcher(github))
        truth = EXPECTED["issue_comments"](world)
        assert len(truth) > 200
        assert projected(first.keyed("issue_comments"), truth) == truth
        comment_pages = github.requests(r"/issues/comments$")
        assert {r.query.get("page", "1") for r in comment_pages} == {"1"}
        assert len(truth) / 100 < len(comment_pages) <= len(truth) // 99 + 1


def test_a_sync_under_transient_faults_equals_one_without(github, fetcher):
    clean = fetch_all(github, fetcher)
    for path in (r"/issues$", r"/issues/comments$", r"/graphql$"):
        github.inject(Fault(path=path, status=502, times=2))
    github.inject(Fault(path=r"/issues/comments$", body=b'[{"id": 1', status=200, times=1))
    faulty = fetch_all(github, fetcher)
    assert {r.status for r in github.requests()} >= {502, 200}
    assert faulty.rows == clean.rows
    assert faulty.bookmarks == clean.bookmarks


def test_an_item_updated_between_two_pages_is_not_lost(clock, monkeypatch):
    # Page numbers would lose one: the item moves to the end and the rest shift onto the page
    # already read. The keyset walk asks from the last updated_at read instead.
    world = seeded_world(clock, scale={"issues_per_repo": 60, "repos": 1})
    with GitHubSimulator(world) as github:
        fetcher = issues_fetcher(github)
        comments = issue_store(world).comments[repositories(world)[0].id]
        assert len(comments) > 150
        first_page = sorted(comments, key=lambda c: (c.updated_at, c.id))[:100]
        original_get = fetcher.client.get
        calls = []

        def get(path, **kwargs):
            page = original_get(path, **kwargs)
            calls.append(path)
            if path.endswith("/issues/comments") and calls.count(path) == 1:
                clock.advance(60)
                with world.lock:  # an early comment edited while the walk is on page 1
                    first_page[5].body += " (edited during the sync)"
                    first_page[5].updated_at = world.now()
            return page

        monkeypatch.setattr(fetcher.client, "get", get)
        result = fetch_all(github, fetcher)
        truth = EXPECTED["issue_comments"](world)
        assert projected(result.keyed("issue_comments"), truth) == truth


def test_one_stream_alone(github, world):
    only_issues = fetch_all(github, issues_fetcher(github, selected={"issues"}))
    assert set(only_issues.rows) == {"issues"}
    assert only_issues.requests == 3
    only_comments = fetch_all(github, issues_fetcher(github, selected={"issue_comments"}))
    truth = EXPECTED["issue_comments"](world)
    assert projected(only_comments.keyed("issue_comments"), truth) == truth
    # The parents' kinds come from GraphQL: one point per repository (up to 100 numbers).
    assert (only_comments.requests, only_comments.points) == (6, 6)
    assert set(only_comments.bookmarks[repositories(world)[0].id]) == {"issue_comments"}


def test_more_comments_in_one_second_than_a_page_holds(github, world, clock, fetcher):
    first = fetch_all(github, fetcher)
    repo = repositories(world)[0]
    clock.advance(60)
    with world.lock:
        for _ in range(230):
            comment_on(
                world, rng(5), repo, issue_store(world).issues[repo.id][0].number, world.now()
            )
    second = fetch_all(github, fetcher, first.bookmarks)
    assert len(second.rows["issue_comments"]) == 230
    assert len(second.keyed("issue_comments")) == 230
    pages = [r.query.get("page", "1") for r in github.requests(r"/issues/comments$")]
    assert pages.count("3") == 1  # the second's group walked by page numbers
    assert fetch_all(github, fetcher, second.bookmarks).rows == {}


def test_a_full_last_page_answering_304_still_shows_what_follows(clock):
    # 88 issues and 12 pull requests: the first sync's one answer is a full page of 100.
    world = seeded_world(clock, scale={"issues_per_repo": 88, "repos": 1})
    with GitHubSimulator(world) as github:
        fetcher = issues_fetcher(github, selected={"issues"})
        first = fetch_all(github, fetcher)
        assert first.requests == 1
        repo = repositories(world)[0]
        pulls = pulls_of(world).by_repo[repo.id]
        clock.advance(60)
        with world.lock:
            new = add_issue(world, rng(1), repo, world.now())
        # Page one still holds the same 100 items (answering 304); the new issue follows it.
        issues_page = [i for i in issue_store(world).issues[repo.id] if i is not new]
        assert len(issues_page) + len(pulls) == 100
        second = fetch_all(github, fetcher, first.bookmarks)
        assert set(second.keyed("issues")) == {(new.id,)}
        assert [r.status for r in github.requests()] == [304, 200]
