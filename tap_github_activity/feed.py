"""The feed: the one module that knows about concurrency.

It runs each (repository, family) fetch once, on a pool of at most `threads` threads, a few
repositories ahead of the streams that consume them, and hands each stream its items on the
calling (main) thread, in the order the fetcher produced them. Sibling streams of a family
take their items from the feed, in any order and any subset; the items of a stream not yet
consumed wait in memory. A fetch that raises hands its error to each consumer after the items
produced before it. With `threads` 1 nothing runs ahead: a fetch runs when it is first asked
for, on the calling thread. See docs/architecture.md.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tap_github_activity.fetch import Item, Repository

__all__ = ["Feed", "Job"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Job:
    """A (repository, family) fetch, prepared on the main thread: the streams that will consume
    its items, and the fetch itself."""

    consumers: frozenset[str]
    run: Callable[[], Iterator[Item]]


# Prepares the job of a (repository, family); None when no stream of the family is consumed.
Prepare = Callable[[Repository, str], Job | None]


class _Pool:
    """A fixed number of daemon threads, started at once: a fetch still running when the run
    ends (a request, a rate-limit wait) does not hold the process."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._tasks: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        for _ in range(threads):
            threading.Thread(target=self._serve, daemon=True, name="tap-github-activity").start()

    def submit(self, function: Callable[..., R], *args: Any) -> Future[R]:
        future: Future[R] = Future()
        self._tasks.put((lambda: function(*args), future))
        return future

    def _serve(self) -> None:
        while (task := self._tasks.get()) is not None:
            function, future = task
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function())
                except BaseException as exc:  # the caller reads it from the future
                    future.set_exception(exc)
            del task, function, future

    def shutdown(self) -> None:
        """Cancel what has not started; each thread ends after its current task."""
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                task[1].cancel()
        for _ in range(self.threads):
            self._tasks.put(None)


class _End:
    """The end of a fetch's items (`error` when it raised)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _Delivery:
    """One (repository, family) fetch: its items, per consuming stream."""

    def __init__(self, job: Job, pool: _Pool | None) -> None:
        self.consumers = set(job.consumers)
        self.buffers: dict[str, deque[Item]] = {stream: deque() for stream in job.consumers}
        self.end: _End | None = None
        self._cancelled = threading.Event()
        self._queue: queue.SimpleQueue[Item | _End] = queue.SimpleQueue()
        self._inline: Iterator[Item] | None = None
        if pool is None:
            self._inline = job.run()
        else:
            self._future = pool.submit(self._produce, job)

    def _produce(self, job: Job) -> None:
        if self._cancelled.is_set():
            return
        try:
            for item in job.run():
                if self._cancelled.is_set():
                    return
                self._queue.put(item)
        except BaseException as exc:  # handed to the consumers, raised there
            self._queue.put(_End(exc))
            return
        self._queue.put(_End())

    def _next(self, before_wait: Callable[[], None]) -> Item | _End:
        if self._inline is not None:
            try:
                return next(self._inline)
            except StopIteration:
                return _End()
            except Exception as exc:
                return _End(exc)
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            before_wait()
            return self._queue.get()

    def take(self, stream: str, before_wait: Callable[[], None]) -> Iterator[Item]:
        """`stream`'s items (and those of streams nobody consumes), then its error if any."""
        buffer = self.buffers.setdefault(stream, deque())
        while True:
            while buffer:
                yield buffer.popleft()
            if self.end is not None:
                self.consumers.discard(stream)
                if self.end.error is not None:
                    raise self.end.error
                return
            item = self._next(before_wait)
            if isinstance(item, _End):
                self.end = item
            elif item.stream == stream or item.stream not in self.buffers:
                yield item
            else:
                self.buffers[item.stream].append(item)

    def cancel(self) -> None:
        """Stop the fetch at its next item (a request under way completes)."""
        self._cancelled.set()
        if self._inline is not None and hasattr(self._inline, "close"):
            self._inline.close()


class Feed:
    """Schedules fetches ahead of consumption on a bounded pool; hands items over."""

    def __init__(
        self,
        prepare: Prepare,
        *,
        threads: int,
        lookahead: int,
        before_wait: Callable[[], None] = lambda: None,
        on_finish: Callable[[Repository, str], None] = lambda _repository, _family: None,
    ) -> None:
        self._prepare = prepare
        self._on_finish = on_finish  # every consumer of a (repository, family) took its items
        self._lookahead = max(lookahead, 1)
        self._before_wait = before_wait
        self._pool = _Pool(threads) if threads > 1 else None
        self._order: list[Repository] = []
        self._position: dict[Repository, int] = {}
        self._families: list[str] = []
        self._scheduled = 0  # repositories of the order whose fetches are scheduled
        self._deliveries: dict[tuple[Repository, str], _Delivery | None] = {}

    @property
    def threads(self) -> int:
        """Threads fetching side by side (1: the calling thread only)."""
        return self._pool.threads if self._pool is not None else 1

    def plan(self, repositories: Iterable[Repository], families: Iterable[str]) -> None:
        """The order in which streams will ask for the repositories, and the families."""
        self._order = list(repositories)
        self._position = {repository: index for index, repository in enumerate(self._order)}
        self._families = list(families)
        self._scheduled = 0

    def fact(self, compute: Callable[[], T]) -> Callable[[], T]:
        """A run-wide fact computed once (ahead, when threaded); the getter waits for it and
        raises its error (fetches call it on the pool's threads)."""
        if self._pool is None:
            return _Once(compute)
        future = self._pool.submit(compute)
        return future.result

    def items(self, stream: str, family: str, repository: Repository) -> Iterator[Item]:
        """`stream`'s items of `repository` (and those no stream consumes), then its error."""
        index = self._position.get(repository)
        if index is not None and self._pool is not None:
            self._schedule(index)
        key = (repository, family)
        if key not in self._deliveries:
            self._deliveries[key] = self._start(repository, family)
        delivery = self._deliveries[key]
        if delivery is None:
            return
        try:
            yield from delivery.take(stream, self._before_wait)
        finally:
            delivery.consumers.discard(stream)
            if not delivery.consumers:
                delivery.cancel()
                del self._deliveries[key]
                self._on_finish(repository, family)

    def ordered(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """`function` of each item, results in order, up to the pool's threads at once."""
        if self._pool is None:
            yield from map(function, items)
            return
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(self._pool.submit(function, item))
                if len(pending) >= self.threads:
                    yield _result(pending.popleft(), self._before_wait)
            while pending:
                yield _result(pending.popleft(), self._before_wait)
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Cancel what nobody will consume; the pool's threads end once their fetch does."""
        for delivery in self._deliveries.values():
            if delivery is not None:
                delivery.cancel()
        self._deliveries.clear()
        if self._pool is not None:
            self._pool.shutdown()

    def _schedule(self, index: int) -> None:
        end = min(index + self._lookahead, len(self._order))
        for repository in self._order[max(self._scheduled, index) : end]:
            for family in self._families:
                key = (repository, family)
                if key not in self._deliveries:
                    self._deliveries[key] = self._start(repository, family)
        self._scheduled = max(self._scheduled, end)

    def _start(self, repository: Repository, family: str) -> _Delivery | None:
        job = self._prepare(repository, family)
        return _Delivery(job, self._pool) if job is not None else None


class _Once(Generic[T]):
    """A fact computed on first use, on the calling thread."""

    def __init__(self, compute: Callable[[], T]) -> None:
        self._compute: Callable[[], T] | None = compute
        self._value: T | None = None

    def __call__(self) -> T:
        if self._compute is not None:
            self._value, self._compute = self._compute(), None
        return self._value  # type: ignore[return-value]


def _result(future: Future[R], before_wait: Callable[[], None]) -> R:
    if not future.done():
        before_wait()
    return future.result()
