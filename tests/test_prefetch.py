"""What a stream's workers may hold ahead of singer-sdk (prefetch.py): a few chunks of records per
worker, and no worker for a repository singer-sdk skipped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import islice
from typing import Any

from tap_github_activity.prefetch import CHUNK_RECORDS, QUEUE_CHUNKS, Job, Prefetcher

WAIT = 5.0  # seconds: only reached when the behaviour is broken


class CountingStream:
    """Just what a worker calls: records per repository, counted; each repository's read
    signals when it ends (its records ran out, or its worker was stopped)."""

    def __init__(self, repositories: int = 1, records_per_repository: int | None = None) -> None:
        self.order = [
            {"repo_id": n, "owner": "acme", "repo": f"r{n}"} for n in range(1, repositories + 1)
        ]
        self.records_per_repository = records_per_repository  # None: endless
        self.produced = 0
        self.ended = {entry["repo_id"]: threading.Event() for entry in self.order}

    def repository_records(self, context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            n = 0
            while self.records_per_repository is None or n < self.records_per_repository:
                n += 1
                self.produced += 1
                yield {"repo_id": context["repo_id"], "n": n}
        finally:
            self.ended[context["repo_id"]].set()

    def partition_order(self) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self.order]

    def get_context_state(self, context: dict[str, Any]) -> dict[str, Any]:
        return {}

    def bookmark_start(self, context: dict[str, Any]) -> None:
        return None

    def partition_inputs(self, context: dict[str, Any]) -> dict[str, Any]:
        return {}


class ObservedJob(Job):
    """A job that tells when its worker first waits for the consumer to make room."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waited = threading.Event()

    def _put(self, item: Any) -> None:
        if self._queue.full():
            self.waited.set()
        super()._put(item)


def test_a_worker_reads_at_most_a_few_chunks_ahead_of_its_consumer():
    stream = CountingStream(records_per_repository=20 * CHUNK_RECORDS)
    job = ObservedJob(stream, stream.order[0], state={}, start=None, inputs={})
    job.start_worker()
    records = job.records()
    assert next(records)["n"] == 1

    # The worker waits for room, or (were it unbounded) has read every record.
    repository = stream.ended[1]
    assert any(event.wait(WAIT) for event in (job.waited, repository))
    # The chunk being emitted, those queued, and the one the worker is handing over.
    assert stream.produced <= (QUEUE_CHUNKS + 2) * CHUNK_RECORDS
    assert not repository.is_set()

    records.close()  # the consumer stops: the worker is cancelled at its next hand-over
    assert repository.wait(WAIT)
    assert job.future is not None
    job.future.result(timeout=WAIT)


def test_the_worker_of_a_repository_singer_sdk_skips_is_stopped():
    # A stream map filtering repository 2's record out: singer-sdk syncs no child stream of it
    # and goes on with repository 3.
    stream = CountingStream(repositories=4)
    prefetcher = Prefetcher(stream, lookahead=2)
    first = prefetcher.records(stream.order[0])
    assert [r["n"] for r in islice(first, 3)] == [1, 2, 3]
    first.close()
    assert stream.ended[1].wait(WAIT)
    assert not stream.ended[2].is_set()  # fetched ahead, its worker waits for room

    third = prefetcher.records(stream.order[2])
    assert stream.ended[2].wait(WAIT)
    assert next(third)["repo_id"] == 3

    third.close()
    prefetcher.close()
    assert all(stream.ended[n].wait(WAIT) for n in (3, 4))
