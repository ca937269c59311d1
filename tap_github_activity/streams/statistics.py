"""Contributor statistics: weekly commits, additions and deletions per repository and contributor
(fetch/statistics.py). A top-level stream, not a child of repositories: it asks every
repository before waiting for any that GitHub is still computing (202)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.fetch.statistics import STATS, fetch_statistics
from tap_github_activity.streams.base import REPOSITORY_KEYS, TAGS, GitHubStream

__all__ = ["ContributorStatsStream"]


class ContributorStatsStream(GitHubStream):
    """Weekly commits, additions and deletions of each contributor of each repository.

    Incremental: every change GitHub's statistics show (asked with their ETag; not asked while
    the default branch's head, which GitHub computes them from, has not moved).

    A top-level stream, not a child of repositories: it asks every repository before waiting
    for any that GitHub is still computing, which a per-repository child cannot do.
    """

    name = "contributor_stats"
    primary_keys = ("repo_id", "contributor_id", "week_start")
    replication_key = None
    schema = th.PropertiesList(
        *REPOSITORY_KEYS,
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
        TAGS,
    ).to_dict()

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        tap = self.github_tap
        items = fetch_statistics(
            tap.client,
            tap.selected_repositories(),
            self.stream_state,
            max_wait=float(tap.settings.stats_max_wait_seconds),
            summary=tap.run_summary,
            concurrently=tap.feed.ordered,
            failed=lambda repository, error: tap.failed(self.name, STATS, repository, error),
            default_head=tap.default_head,
        )
        yield from self.take(items, context)
