"""Contributor statistics: weekly commits, additions and deletions per repository and contributor.

GET .../stats/contributors answers 202 while GitHub computes: every repository is asked once,
those that answered 202 again after growing intervals, within `stats_max_wait_seconds` in
total; one still computing then is reported and left to the next run. Repositories of 10,000
commits or more get zero line counts from GitHub: emitted as null. Each answer's ETag is kept,
with the default branch's head the change probe saw before asking: GitHub caches statistics by
that head's SHA, so a repository whose head has not moved since is not asked at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from tap_github_activity.accounting import RunSummary
from tap_github_activity.client import GitHubClient, Page
from tap_github_activity.conditional import (
    STATE_KEY,
    Conditional,
    Entry,
    entries_kept,
    request_key,
)
from tap_github_activity.errors import GitHubActivityError, NotAccessibleError
from tap_github_activity.fetch import Item, Keep, Repository, Row
from tap_github_activity.fetch.heads import read_oid, stored_oid

__all__ = ["HEAD", "STATS", "fetch_statistics", "retry_delays"]

STATS = "contributor_stats"
FIRST_RETRY_SECONDS = 2.0
STILL_COMPUTING = "statistics still being computed"
# Kept with a repository's ETag: the default branch's head its statistics are of (compact).
HEAD = "head"

logger = logging.getLogger(__name__)

# None: not asked (the default branch's head has not moved since the last answer).
Answer = Page | GitHubActivityError | None
# What to do with a repository whose statistics failed (the tap's failure policy: may raise).
Failed = Callable[[Repository, GitHubActivityError], None]
# A repository id -> the head of its default branch as the change probe saw it (None: unknown).
DefaultHead = Callable[[int], str | None]
# Runs a function over items, concurrently where the caller allows, results in order.
Concurrently = Callable[[Callable[[Any], Answer], Iterable[Any]], Iterator[Answer]]


def retry_delays(max_wait: float, first: float = FIRST_RETRY_SECONDS) -> Iterator[float]:
    """Doubling intervals, the last one shortened so that together they are `max_wait`."""
    total, delay = 0.0, first
    while total < max_wait:
        step = min(delay, max_wait - total)
        yield step
        total += step
        delay *= 2


def fetch_statistics(
    client: GitHubClient,
    repositories: list[dict[str, Any]],
    state: Mapping[str, Any],
    *,
    max_wait: float,
    summary: RunSummary,
    concurrently: Concurrently,
    failed: Failed,
    default_head: DefaultHead = lambda _repo_id: None,
) -> Iterator[Item]:
    """Rows of every repository (asked `concurrently`), and the ETags after each one's rows
    (those of repositories no longer selected are dropped). A repository whose request failed
    goes to `failed`; its ETag stays as it was, so the next run asks again."""
    clock = client.clock
    round_started = clock.now()
    reader = _Reader(Conditional(client, state), summary, failed, default_head)
    pending = yield from reader.round(repositories, concurrently)
    for delay in retry_delays(max(max_wait, 0.0)):
        if not pending:
            break
        # Intervals count from the previous round's start: GitHub computed meanwhile, so a
        # long round (many repositories) needs little or no sleep after it.
        wait = delay - (clock.now() - round_started)
        if wait > 0:
            logger.info(
                "GitHub is computing the statistics of %d repositories: asking again in %.0f s",
                len(pending),
                wait,
            )
            client.ledger.record_wait(STATS, wait)
            clock.sleep(wait)
        round_started = clock.now()
        pending = yield from reader.round(pending, concurrently)
    if pending:
        names = [repository["full_name"] for repository in pending]
        logger.warning(
            "GitHub was still computing the contributor statistics of %d "
            "repositories after %.0f s of waiting (stats_max_wait_seconds); "
            "the next run asks again: %s",
            len(names),
            max_wait,
            ", ".join(names),
        )
        for name in names:
            summary.skip(STATS, name, STILL_COMPUTING)
    for repository in pending:  # as they were: asked again next run
        reader.settle(repository, reader.conditional.kept_for(_path(repository)))
    yield reader.keep(final=True)


class _Reader:
    def __init__(
        self,
        conditional: Conditional,
        summary: RunSummary,
        failed: Failed,
        default_head: DefaultHead,
    ) -> None:
        self.conditional = conditional
        self.summary = summary
        self.failed = failed
        self.default_head = default_head
        # The entries of the repositories read to the end (rows emitted), by request key.
        self.settled: dict[str, Entry] = {}

    def saved(self, repository: dict[str, Any]) -> Entry:
        return self.conditional.saved.get(request_key(_path(repository))) or {}

    def settle(self, repository: dict[str, Any], entry: Entry) -> None:
        """What the state keeps for a repository read to the end (empty: nothing)."""
        if entry:
            self.settled[request_key(_path(repository))] = entry

    def keep(self, *, final: bool = False) -> Keep:
        """The state: the entries settled so far, and until the run's end the earlier run's
        entries of the repositories not settled yet (an interrupted run keeps them)."""
        entries = dict(self.settled) if final else {**self.conditional.saved, **self.settled}
        return Keep(STATS, {STATE_KEY: entries_kept(entries)})

    def round(
        self, repositories: list[dict[str, Any]], concurrently: Concurrently
    ) -> Generator[Item, None, list[dict[str, Any]]]:
        """Ask every repository and give their rows in order; returns those GitHub is still
        computing (202)."""
        pending = []
        answers = concurrently(self.ask, repositories)
        for repository, answer in zip(repositories, answers, strict=True):
            if (yield from self.read(repository, answer)):
                pending.append(repository)
        return pending

    def ask(self, repository: dict[str, Any]) -> Answer:
        """One repository's answer (a request only: may run on any thread); None when its
        default branch's head is the one its kept answer is of."""
        head = self.default_head(int(repository["id"]))
        saved = self.saved(repository)
        kept = saved.get(HEAD)
        if head is not None and kept and read_oid(kept) == head and saved.get("etags"):
            return None
        try:
            return self.conditional.get(
                _path(repository), stream=STATS, owner=repository["owner"]["login"]
            )
        except GitHubActivityError as exc:  # read on the main thread: see read()
            return exc

    def read(self, repository: dict[str, Any], answer: Answer) -> Generator[Item, None, bool]:
        """One repository's rows; True when GitHub is still computing them (202)."""
        if answer is None:
            self.settle(repository, self.saved(repository))
            return False
        if isinstance(answer, NotAccessibleError):
            logger.warning(
                "%s: skipping %s: %s answered %s (%s)",
                STATS,
                repository["full_name"],
                answer.url,
                answer.status,
                answer.message,
            )
            self.summary.skip(STATS, repository["full_name"], str(answer.status))
            return False
        if isinstance(answer, GitHubActivityError):
            self.failed(_repository(repository), answer)
            self.settle(repository, self.saved(repository))
            return False
        page = answer
        if page.status == 202:
            return True
        # The answer is of the head the probe saw before asking, or of a later one (a push
        # since: read again next run); none seen, none kept.
        entry = dict(self.conditional.kept_for(_path(repository)))
        head = self.default_head(int(repository["id"]))
        if head is None:
            entry.pop(HEAD, None)
        elif entry:
            entry[HEAD] = stored_oid(head)
        if page.not_modified:  # unchanged since the rows loaded by an earlier run
            self.settle(repository, entry)
            return False
        # 204 (empty repository): no body, no rows.
        yield from _rows(repository, page.data if isinstance(page.data, list) else [])
        self.settle(repository, entry)
        yield self.keep()
        return False


def _path(repository: dict[str, Any]) -> str:
    return f"/repos/{repository['full_name']}/stats/contributors"


def _repository(payload: dict[str, Any]) -> Repository:
    owner, name = payload["full_name"].split("/", 1)
    return Repository(payload["id"], owner, name, payload.get("default_branch"))


def _week_start(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).date().isoformat()


def _rows(repository: dict[str, Any], contributors: list[dict[str, Any]]) -> Iterator[Item]:
    weeks = [week for contributor in contributors for week in contributor.get("weeks") or []]
    lines_known = any(week.get("a") or week.get("d") for week in weeks)
    if not lines_known and any(week.get("c") for week in weeks):
        logger.info(
            "%s: GitHub gives no line counts for %s (10,000 commits or more): "
            "additions and deletions are null; the commits stream has them",
            STATS,
            repository["full_name"],
        )
    anonymous = 0
    for contributor in contributors:
        author = contributor.get("author")
        if not author or author.get("id") is None:
            anonymous += 1
            continue
        for week in contributor.get("weeks") or []:
            additions, deletions, commits = week.get("a"), week.get("d"), week.get("c")
            if not (additions or deletions or commits):
                continue
            yield Row(
                STATS,
                {
                    "repo_id": repository["id"],
                    "owner": repository["owner"]["login"],
                    "repo": repository["name"],
                    "contributor_id": author["id"],
                    "contributor_login": author.get("login"),
                    "week_start": _week_start(week["w"]),
                    "commits": commits,
                    "additions": additions if lines_known else None,
                    "deletions": deletions if lines_known else None,
                },
            )
    if anonymous:
        logger.info(
            "%s: %s: %d contributors without a GitHub account left out",
            STATS,
            repository["full_name"],
            anonymous,
        )
