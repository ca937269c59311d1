"""The feed (tap_github_activity/feed.py): each (repository, family) fetched once, ahead of the
streams, on a bounded pool; items handed to any subset of sibling streams in any order; a
failure travels after the items produced before it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tap_github_activity.feed import Feed, Job
from tap_github_activity.fetch import Item, Keep, Repository, Row

WAIT = 5.0  # seconds: only reached when the behaviour is broken
REPOSITORIES = [Repository(n, "acme", f"r{n}") for n in range(1, 11)]


class Family:
    """A fetcher of two streams (a, b) and a state-only stream (c), counting its fetches."""

    def __init__(self, rows: int = 3, fail_after: int | None = None) -> None:
        self.rows = rows
        self.fail_after = fail_after
        self.fetched: list[int] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def fetch(self, repository: Repository, wanted: frozenset[str]) -> Iterator[Item]:
        with self.lock:
            self.fetched.append(repository.repo_id)
            self.threads.add(threading.get_ident())
        for n in range(self.rows):
            if self.fail_after is not None and n == self.fail_after:
                raise RuntimeError(f"r{repository.repo_id} failed")
            for stream in sorted(wanted):  # a fetcher gives the rows of wanted streams only
                yield Row(stream, {"n": n, "repo": repository.repo_id})
        yield Keep("c", {"done": repository.repo_id})
        yield Keep("a", {"done": repository.repo_id})

    def prepare(self, consumers: frozenset[str]):  # type: ignore[no-untyped-def]
        def prepare(repository: Repository, family: str) -> Job | None:
            return Job(consumers, lambda: self.fetch(repository, consumers)) if consumers else None

        return prepare


def feed_of(family: Family, consumers: set[str], threads: int, lookahead: int = 3) -> Feed:
    feed = Feed(family.prepare(frozenset(consumers)), threads=threads, lookahead=lookahead)
    feed.plan(REPOSITORIES, ["f"])
    return feed


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("order", [("a", "b"), ("b", "a"), ("a",), ("b",)])
def test_any_subset_in_any_order_gets_its_items_once(threads: int, order: tuple[str, ...]):
    family = Family()
    feed = feed_of(family, set(order), threads)
    for repository in REPOSITORIES:
        for stream in order:
            items = list(feed.items(stream, "f", repository))
            rows = [i.record["n"] for i in items if isinstance(i, Row)]
            assert rows == [0, 1, 2]
            assert all(i.stream == stream for i in items if isinstance(i, Row))
            # Its own state item, after its rows; the state of a stream nobody consumes goes
            # to the first consumer.
            kept = [i.stream for i in items if isinstance(i, Keep)]
            assert kept == [
                k for k in ("c", "a") if k == stream or (k not in order and stream == order[0])
            ]
    feed.close()
    assert sorted(family.fetched) == [r.repo_id for r in REPOSITORIES]  # each fetched once


def test_fetches_run_ahead_on_at_most_the_pools_threads():
    family = Family()
    earlier = set(threading.enumerate())
    feed = feed_of(family, {"a"}, threads=2, lookahead=4)
    first = feed.items("a", "f", REPOSITORIES[0])
    next(first)
    deadline = threading.Event()
    while len(family.fetched) < 4 and not deadline.wait(0.01):
        pass
    assert sorted(family.fetched) == [1, 2, 3, 4]  # ahead: the lookahead, no further
    list(first)
    for repository in REPOSITORIES[1:]:
        list(feed.items("a", "f", repository))
    # A fixed pool of daemon threads: no growth, and a fetch still waiting when the run ends
    # does not hold the process.
    pool = [t for t in set(threading.enumerate()) - earlier if t.name == "tap-github-activity"]
    assert len(pool) == 2
    assert all(t.daemon for t in pool)
    feed.close()
    assert len(family.threads) <= 2
    assert threading.get_ident() not in family.threads


@pytest.mark.parametrize("threads", [1, 4])
def test_a_failure_reaches_every_consumer_after_the_items_before_it(threads: int):
    family = Family(fail_after=2)
    feed = feed_of(family, {"a", "b"}, threads)
    for stream in ("b", "a"):
        got: list[int] = []

        def take(stream: str = stream, got: list[int] = got) -> None:
            for item in feed.items(stream, "f", REPOSITORIES[0]):
                got.append(item.record["n"])  # type: ignore[union-attr]

        with pytest.raises(RuntimeError, match="r1 failed"):
            take()
        assert got == [0, 1]
    feed.close()


def test_sequential_feed_fetches_when_asked_on_the_calling_thread():
    family = Family()
    feed = feed_of(family, {"a"}, threads=1)
    assert family.fetched == []
    list(feed.items("a", "f", REPOSITORIES[2]))
    assert family.fetched == [3]
    assert family.threads == {threading.get_ident()}


def test_a_fact_is_computed_once_and_its_error_raised_where_asked():
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 42

    for threads in (1, 3):
        feed = Feed(lambda repository, family: None, threads=threads, lookahead=1)
        fact = feed.fact(compute)
        assert fact() == fact() == 42
        feed.close()
    assert len(calls) == 2

    def broken() -> int:
        raise ValueError("probe refused")

    feed = Feed(lambda repository, family: None, threads=3, lookahead=1)
    with pytest.raises(ValueError, match="probe refused"):
        feed.fact(broken)()
    feed.close()


def test_ordered_keeps_the_order_and_the_threads_bound():
    feed = Feed(lambda repository, family: None, threads=3, lookahead=1)
    seen: set[int] = set()
    lock = threading.Lock()

    def square(n: int) -> int:
        with lock:
            seen.add(threading.get_ident())
        return n * n

    assert list(feed.ordered(square, range(50))) == [n * n for n in range(50)]
    assert len(seen) <= 3
    feed.close()
