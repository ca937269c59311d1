"""Bounded concurrency: repositories are fetched side by side, at most `max_concurrent_requests`
requests in flight, records emitted in the order a sequential run emits them.

Why. singer-sdk syncs a child stream one partition (repository) after another, and each
request waits for the one before it: at 50 ms a request, a run is as long as its request count
times the latency. GitHub allows 100 concurrent requests; the tap uses a modest
`max_concurrent_requests` (default 4) and one shared rate-limit budget.

Where the limit is held. The client (client.py) takes one of `max_concurrent_requests` slots for
the HTTP exchange only, never while waiting: a rate-limit reset, a secondary limit's
retry-after or a backoff is waited for outside the slot, one thread at a time (the threads
behind find the wait over), and a secondary limit met by one request pauses every request until
its end. Credential choice and budget spending are one step under a lock
(`RateLimits.acquire`), so concurrent requests never spend a budget past the reserve. The client
keeps an HTTP session per thread; workers run on pooled threads that are reused (`POOL`), so
their sessions and connections are too.

Prefetching (`Prefetcher`, used by `RepositoryChildStream`). When singer-sdk asks a stream for
repository i (`get_records(context)`), the stream makes sure workers are running its
`repository_records` for repositories i .. i+K-1 of the run's selection (K = `LOOKAHEAD_PER_SLOT`
times the setting, at most `MAX_LOOKAHEAD`: more work waiting than slots, so that a slot freed
near the end of a repository's chain of pages finds another repository's request to send),
each on a pooled daemon thread, then yields repository i's records
from that worker. A worker hands records over in chunks of `CHUNK_RECORDS` through a queue of
`QUEUE_CHUNKS`: one ahead of the consumer stops after a page, so memory is bounded by
streams x K x a few pages whatever the number of repositories. A repository singer-sdk skips
(a stream map filtering its record out) has its worker stopped once a later one is asked, so
that bound holds too. The pool's threads share two malloc arenas (`share_malloc_arenas`): one
arena per thread kept what each had freed. As every stream of a repository is synced before
the next repository, the workers of all streams overlap: while the consumer emits repository
i's pull requests, the traffic, commits, releases and runs of the repositories after it are in
flight. Requests within one repository that do not depend on each
other (earlier attempts of re-runs, REST jobs of a batch, the other traffic endpoints,
statistics of a round) go through `ordered_map`: concurrent, results in order.

Sharing between streams. Where one stream's fetch feeds another, only the first of them in
singer-sdk's order fetches ahead and the other reads on singer-sdk's thread from a hand-over
kept per repository under a lock: pull_requests -> pull_request_reviews (one walk), commits ->
commit_branches (the walks), the first selected traffic stream -> the others (their answers),
workflow_runs -> workflow_jobs (batches of attempts, whose jobs are fetched as soon as a batch is
closed). contributor_stats (top-level) asks its repositories concurrently.

State. A worker never touches singer-sdk's state: `Job` holds a private copy of its partition
state (`partition_state` reads it, `remember` writes it), the starting timestamp singer-sdk will
compute when the partition starts (`get_starting_timestamp`), the inputs the stream prepared on
the main thread (`partition_inputs`: sibling bookmarks, the change probe), and state changes
that belong to singer-sdk (`after_records`). The consumer applies the remembered values and
runs the deferred changes once the worker's last record is emitted, where a sequential run
would have made them; a consumer that stops early applies nothing.

Errors. What a worker raises (NotAccessibleError, RequestFailedError, AuthenticationError, ...)
is queued after the records it produced first and raised in the consumer at the same point of
the same repository, so a skipped repository or a failed run looks exactly as sequentially.

Sequential mode: `max_concurrent_requests` 1 starts no worker; the streams run as before.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING, Any, TypeVar

from tap_github_activity.output import flush_before_waiting

if TYPE_CHECKING:
    from tap_github_activity.streams.children import RepositoryChildStream

__all__ = [
    "CHUNK_RECORDS",
    "LOOKAHEAD_PER_SLOT",
    "MAX_LOOKAHEAD",
    "POOL",
    "QUEUE_CHUNKS",
    "ElasticPool",
    "Job",
    "Prefetcher",
    "current_job",
    "ordered_map",
    "share_malloc_arenas",
]

T = TypeVar("T")
R = TypeVar("R")

# Records per hand-over and hand-overs a worker may have waiting: a page ahead, at most.
CHUNK_RECORDS = 100
QUEUE_CHUNKS = 2
# Repositories fetched ahead per stream: per request slot, and whatever max_concurrent_requests
# says (memory: each holds up to QUEUE_CHUNKS chunks).
LOOKAHEAD_PER_SLOT = 2
MAX_LOOKAHEAD = 8
# How often a worker waiting for room checks whether it was cancelled (seconds).
_POLL = 0.05
# How long a run that ends early waits for its cancelled workers (seconds, per stream).
CLOSE_SECONDS = 1.0

_local = threading.local()


def current_job() -> Job | None:
    """The job the calling thread is running (None on the consumer's thread)."""
    return getattr(_local, "job", None)


class _CancelledError(Exception):
    """The consumer will not read this job's records any more."""


class _Done:
    """The end of a job's records."""


_DONE = _Done()


class ElasticPool:
    """Daemon threads for workers and requests. A task never waits for a thread: an idle one
    takes it, else a new one starts, so a worker blocked on its consumer starves no other task
    (no deadlock). Idle threads are reused, with the HTTP session the client keeps per thread,
    and end after `idle_seconds` without work; being daemons, they never hold the process."""

    def __init__(self, idle_seconds: float = 30.0) -> None:
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Any]] = []

    def submit(self, function: Callable[[], R]) -> Future[R]:
        """Run `function` on a pooled thread."""
        future: Future[R] = Future()
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(
                target=self._serve, args=(inbox,), daemon=True, name="tap-github-activity-worker"
            ).start()
        inbox.put((function, future))
        return future

    def _serve(self, inbox: queue.SimpleQueue[Any]) -> None:
        while True:
            try:
                function, future = inbox.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:  # not handed a task meanwhile: retire
                        self._idle.remove(inbox)
                        return
                continue
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function())
                except BaseException as exc:  # the caller reads it from the future
                    future.set_exception(exc)
            del function, future
            with self._lock:
                self._idle.append(inbox)


# glibc's mallopt parameters (malloc.h).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Allocations from this size on (response bodies: a page of workflow runs is about 1 MB) are
# mapped and unmapped, not kept in an arena once freed.
MMAP_THRESHOLD_BYTES = 256 * 1024
MALLOC_ARENAS = 2


def share_malloc_arenas() -> bool:
    """Keep the pool's threads from each growing a malloc arena of their own (glibc).

    glibc gives each thread that allocates an arena of its own (up to 8 per core) and keeps
    what the thread freed there: with a worker thread per repository fetched ahead, that was
    about 10 MB of the tap's peak at medium scale, half the growth from a sequential run. The
    threads gain nothing from separate arenas: they allocate under the GIL. glibc also raises
    its threshold for mapping a large block whenever one is freed, so response bodies ended
    up in the arenas too: the threshold is fixed. A setting the user made (MALLOC_ARENA_MAX,
    MALLOC_MMAP_THRESHOLD_) is kept; another C library is left alone. True when applied."""
    if os.environ.keys() & {"MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_"}:
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # no C library by that name, or no mallopt (not glibc)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, MALLOC_ARENAS)) and bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    )


POOL = ElasticPool()


class Job:
    """One stream's records of one repository, produced by a worker thread."""

    def __init__(
        self,
        stream: RepositoryChildStream,
        context: dict[str, Any],
        *,
        state: dict[str, Any],
        start: Any,
        inputs: dict[str, Any],
    ) -> None:
        self.stream = stream
        self.context = context
        self.state = state  # private copy of the partition state
        self.start = start  # what get_starting_timestamp(context) answers for this partition
        self.inputs = inputs  # prepared on the main thread (partition_inputs)
        self.updates: dict[str, Any] = {}  # remembered values, for the real state
        self.deferred: list[Callable[[], None]] = []  # singer-sdk state changes, in order
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._cancelled = threading.Event()
        self._future: Future[None] | None = None

    def start_worker(self) -> None:
        """Start fetching (on a pooled thread, never queued behind other jobs)."""
        self._future = POOL.submit(self._run)

    def _run(self) -> None:
        _local.job = self
        records = self.stream.repository_records(self.context)
        try:
            chunk: list[dict[str, Any]] = []
            for record in records:
                chunk.append(record)
                if len(chunk) >= CHUNK_RECORDS:
                    self._put(chunk)
                    chunk = []
            if chunk:
                self._put(chunk)
            self._put(_DONE)
        except _CancelledError:
            pass
        except BaseException as exc:  # handed to the consumer, raised there
            with contextlib.suppress(_CancelledError):
                self._put(exc)
        finally:
            # A cancelled worker leaves its records half read: their generators' own cleanup
            # (a spool's file) runs now, not when the collector finds them.
            if isinstance(records, Generator):
                records.close()
            _local.job = None

    def _put(self, item: Any) -> None:
        while True:
            if self._cancelled.is_set():
                raise _CancelledError
            try:
                self._queue.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return

    def records(self) -> Iterator[dict[str, Any]]:
        """The worker's records, then its state changes applied (or its error raised)."""
        finished = False
        try:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    flush_before_waiting()
                    item = self._queue.get()
                if item is _DONE:
                    finished = True
                    self.apply()
                    return
                if isinstance(item, BaseException):
                    finished = True
                    self.apply()
                    raise item
                yield from item
        finally:
            if not finished:
                self.cancel()

    def apply(self) -> None:
        """What the worker remembered, and the deferred changes, into singer-sdk's state (on
        the consumer's thread, where a sequential run makes them)."""
        if self.updates:
            self.stream.get_context_state(self.context).update(self.updates)
            self.stream.state_manager.is_flushed = False
        for action in self.deferred:
            action()

    def cancel(self) -> None:
        """Stop the worker at its next hand-over (its current request completes)."""
        self._cancelled.set()

    @property
    def future(self) -> Future[None] | None:
        """The worker's (None before it starts)."""
        return self._future


class Prefetcher:
    """Keeps one stream's workers running ahead of singer-sdk's partition order."""

    def __init__(self, stream: RepositoryChildStream, lookahead: int) -> None:
        self.stream = stream
        self.lookahead = min(max(lookahead, 1), MAX_LOOKAHEAD)
        self._jobs: dict[int, Job] = {}
        self._started: set[int] = set()
        self._order: list[dict[str, Any]] | None = None
        self._position: dict[int, int] = {}  # repo_id -> index in _order

    def records(self, context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Repository `context`'s records, fetched ahead where possible."""
        self._start_from(context)
        job = self._jobs.pop(context["repo_id"], None)
        if job is None or job.context != context:
            if job is not None:
                job.cancel()
            # Not in the run's order (or asked again): read it here, as a sequential run does.
            return self.stream.repository_records(context)
        return job.records()

    def _start_from(self, context: dict[str, Any]) -> None:
        if self._order is None:
            self._order = self.stream.partition_order()
            for position, entry in enumerate(self._order):
                self._position.setdefault(entry["repo_id"], position)
        index = self._position.get(context["repo_id"])
        if index is None:
            return
        self._cancel_skipped(index)
        for ahead in self._order[index : index + self.lookahead]:
            if ahead["repo_id"] in self._started:
                continue
            self._started.add(ahead["repo_id"])
            job = Job(
                self.stream,
                ahead,
                state=copy.deepcopy(self.stream.get_context_state(ahead)),
                start=self.stream.bookmark_start(ahead),
                inputs=self.stream.partition_inputs(ahead),
            )
            self._jobs[ahead["repo_id"]] = job
            job.start_worker()

    def _cancel_skipped(self, index: int) -> None:
        """singer-sdk never goes back in its partition order: a job before `index` nobody took
        is for a repository it skipped (a stream map filtered the repository record out).
        Its worker is stopped, or it would hold its records, its page and its thread until
        the run ends, one more for every repository skipped."""
        for repo_id in [r for r in self._jobs if self._position[r] < index]:
            self._jobs.pop(repo_id).cancel()

    def close(self) -> None:
        """Cancel the workers nobody will read (the run failed or was interrupted): each stops
        at its next hand-over. A second is given to those in a request; one asleep on a rate
        limit is left to end with the process (a daemon thread)."""
        jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            job.cancel()
        wait([job.future for job in jobs if job.future is not None], timeout=CLOSE_SECONDS)


def ordered_map(
    function: Callable[[T], R],
    items: Iterable[T],
    workers: int,
) -> Iterator[R]:
    """`function` of each item, in order, with up to `workers` calls running at once (each
    call one or a few requests, never waiting for anything but the client). An exception is
    raised where its item's result would be."""
    if workers <= 1:
        for item in items:
            yield function(item)
        return
    pending: list[Future[R]] = []
    try:
        for item in items:
            pending.append(POOL.submit(lambda item=item: function(item)))  # type: ignore[misc]
            if len(pending) >= workers:
                yield _result(pending.pop(0))
        while pending:
            yield _result(pending.pop(0))
    finally:
        for future in pending:
            future.cancel()
        wait(pending)


def _result(future: Future[R]) -> R:
    if not future.done():
        flush_before_waiting()
    return future.result()
