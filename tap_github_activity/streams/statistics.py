"""Contributor statistics: commits, additions and deletions per repository, contributor and week.

Read from GET /repos/{owner}/{repo}/stats/contributors, which needs only read access (classic
token: `repo` scope for private repositories; fine-grained token or GitHub App: "Metadata" read).
Rows: one per repository, contributor and week with any activity (weeks start on Sunday, UTC).

GitHub's limits, as documented:

- statistics exclude merge commits, and contributor statistics exclude empty commits;
- for repositories with 10,000 or more commits GitHub reports 0 additions and deletions. Such
  an answer (commits, but no line anywhere) is emitted with null additions and deletions, not
  zeros; the commits stream's per-commit line counts cover those repositories;
- GitHub computes statistics in the background and answers 202 until they are ready.

202 handling: every selected repository is asked once; the ones that answered 202 are asked
again after growing intervals (2, 4, 8, ... seconds), all within `stats_max_wait_seconds` of
waiting in total. A repository still being computed then is reported by name, counted in the run
summary, and asked again by the next run; nothing is emitted in its place, and because this
stream sends no ACTIVATE_VERSION its rows from earlier runs stay in the target. An empty
repository (204) has no rows.

Cost: one request per repository, plus one per retry of a 202. The ETag of each repository's
last answer is kept in state, so an unchanged answer (304) costs no point and emits nothing.

Concurrency: the repositories of a round are asked concurrently (at most
`max_concurrent_requests` at once, a few answers ahead of the one being emitted); rows are
emitted, and state kept, in the repositories' order on singer-sdk's thread.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.client import Page
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.prefetch import ordered_map
from tap_github_activity.settings import DEFAULT_STATS_MAX_WAIT_SECONDS
from tap_github_activity.streams.base import GitHubStream

__all__ = ["ContributorStatsStream", "retry_delays"]

FIRST_RETRY_SECONDS = 2.0
STILL_COMPUTING = "statistics still being computed"


def retry_delays(max_wait: float, first: float = FIRST_RETRY_SECONDS) -> Iterator[float]:
    """Doubling intervals, the last one shortened so that together they are `max_wait`."""
    total, delay = 0.0, first
    while total < max_wait:
        step = min(delay, max_wait - total)
        yield step
        total += step
        delay *= 2


def _week_start(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).date().isoformat()


class ContributorStatsStream(GitHubStream):
    """Weekly commits, additions and deletions of each contributor of each repository.

    Incremental: every change GitHub's statistics show (asked with their ETag).

    A top-level stream, not a child of repositories: it asks every repository before waiting
    for any that GitHub is still computing, which a per-repository child cannot do.
    """

    name = "contributor_stats"
    primary_keys = ("repo_id", "contributor_id", "week_start")
    replication_key = None
    schema = th.PropertiesList(
        th.Property(
            "repo_id",
            th.IntegerType,
            required=True,
            description="The repository's id (repositories.id).",
        ),
        th.Property("owner", th.StringType, description="The repository owner's login."),
        th.Property("repo", th.StringType, description="The repository's name."),
        th.Property(
            "contributor_id",
            th.IntegerType,
            required=True,
            description="The contributor's GitHub user id.",
        ),
        th.Property(
            "contributor_login",
            th.StringType,
            description="The contributor's login when the statistics were read.",
        ),
        th.Property(
            "week_start",
            th.DateType,
            required=True,
            description="The week's first day (Sunday, UTC).",
        ),
        th.Property(
            "commits",
            th.IntegerType,
            description="Commits of the week (merge and empty commits excluded).",
        ),
        th.Property(
            "additions",
            th.IntegerType,
            description="Lines added; null where GitHub gives no line counts "
            "(repositories with 10,000 or more commits).",
        ),
        th.Property(
            "deletions",
            th.IntegerType,
            description="Lines deleted; null where GitHub gives no line counts.",
        ),
    ).to_dict()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        repositories = self.github_tap.selected_repositories()
        self._keep_etags_of(repositories)
        clock = self.client.clock
        round_started = clock.now()
        pending = yield from self._round(repositories)
        configured = self.config.get("stats_max_wait_seconds")
        max_wait = max(
            float(DEFAULT_STATS_MAX_WAIT_SECONDS if configured is None else configured), 0.0
        )
        for delay in retry_delays(max_wait):
            if not pending:
                break
            # Intervals count from the previous round's start: GitHub computed meanwhile, so
            # a long round (many repositories) needs little or no sleep after it.
            wait = delay - (clock.now() - round_started)
            if wait > 0:
                self.logger.info(
                    "GitHub is computing the statistics of %d repositories: asking again in %.0f s",
                    len(pending),
                    wait,
                )
                self.client.ledger.record_wait(self.name, wait)
                clock.sleep(wait)
            round_started = clock.now()
            pending = yield from self._round(pending)
        if pending:
            names = [repository["full_name"] for repository in pending]
            self.logger.warning(
                "GitHub was still computing the contributor statistics of %d "
                "repositories after %.0f s of waiting (stats_max_wait_seconds); "
                "the next run asks again: %s",
                len(names),
                max_wait,
                ", ".join(names),
            )
            for name in names:
                self.github_tap.run_summary.skip(self.name, name, STILL_COMPUTING)

    def _round(
        self,
        repositories: list[dict[str, Any]],
    ) -> Generator[dict[str, Any], None, list[dict[str, Any]]]:
        """Ask every repository (concurrently) and emit their rows in order; returns those
        GitHub is still computing (202)."""
        etags = self._etags()
        asks = [(repository, etags.get(str(repository["id"]))) for repository in repositories]
        answers = ordered_map(self._ask, asks, self.github_tap.settings.max_concurrent_requests)
        pending = []
        for repository, answer in zip(repositories, answers, strict=True):
            if (yield from self._read(repository, answer)):
                pending.append(repository)
        return pending

    def _ask(self, ask: tuple[dict[str, Any], str | None]) -> Page | NotAccessibleError:
        """One repository's answer (a request only: may run on any thread)."""
        repository, etag = ask
        try:
            return self.client.get(
                f"/repos/{repository['full_name']}/stats/contributors",
                stream=self.name,
                owner=repository["owner"]["login"],
                etag=etag,
            )
        except NotAccessibleError as exc:
            return exc

    def _read(
        self,
        repository: dict[str, Any],
        answer: Page | NotAccessibleError,
    ) -> Generator[dict[str, Any], None, bool]:
        """Emit one repository's rows; True when GitHub is still computing them (202)."""
        repo_id = str(repository["id"])
        etags = self._etags()
        if isinstance(answer, NotAccessibleError):
            exc = answer
            self.logger.warning(
                "%s: skipping %s: %s answered %s (%s)",
                self.name,
                repository["full_name"],
                exc.url,
                exc.status,
                exc.message,
            )
            self.github_tap.run_summary.skip(self.name, repository["full_name"], str(exc.status))
            return False
        page = answer
        if page.status == 202:
            return True
        if page.not_modified:
            return False  # unchanged since the rows loaded by an earlier run
        # 204 (empty repository): no body, no rows.
        yield from self._records(repository, page.data if isinstance(page.data, list) else [])
        if page.status == 200 and page.etag:
            etags[repo_id] = page.etag
        else:
            etags.pop(repo_id, None)
        self.state_manager.is_flushed = False
        return False

    def _records(
        self,
        repository: dict[str, Any],
        contributors: list[dict[str, Any]],
    ) -> Iterator[dict[str, Any]]:
        weeks = [week for contributor in contributors for week in contributor.get("weeks") or []]
        lines_known = any(week.get("a") or week.get("d") for week in weeks)
        if not lines_known and any(week.get("c") for week in weeks):
            self.logger.info(
                "%s: GitHub gives no line counts for %s (10,000 commits or more): "
                "additions and deletions are null; the commits stream has them",
                self.name,
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
                yield {
                    "repo_id": repository["id"],
                    "owner": repository["owner"]["login"],
                    "repo": repository["name"],
                    "contributor_id": author["id"],
                    "contributor_login": author.get("login"),
                    "week_start": _week_start(week["w"]),
                    "commits": commits,
                    "additions": additions if lines_known else None,
                    "deletions": deletions if lines_known else None,
                }
        if anonymous:
            self.logger.info(
                "%s: %s: %d contributors without a GitHub account left out",
                self.name,
                repository["full_name"],
                anonymous,
            )

    def _etags(self) -> dict[str, str]:
        """Repository id -> ETag of its last 200 answer (kept in this stream's state)."""
        etags: dict[str, str] = self.stream_state.setdefault("etags", {})
        return etags

    def _keep_etags_of(self, repositories: list[dict[str, Any]]) -> None:
        """Forget the ETags of repositories no longer selected (state stays small)."""
        selected = {str(repository["id"]) for repository in repositories}
        etags = self._etags()
        for repo_id in set(etags) - selected:
            del etags[repo_id]
