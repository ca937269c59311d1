"""The repositories stream (the selected repositories) and the base of per-repository streams."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from singer_sdk.exceptions import AbortedSyncFailedException, AbortedSyncPausedException
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.fetch import Repository
from tap_github_activity.records import flatten
from tap_github_activity.sdk_seams import finalize_partition
from tap_github_activity.selection import UNCHANGED
from tap_github_activity.state_layout import PARTITION_KEYS
from tap_github_activity.streams.base import GitHubStream

__all__ = ["REPOSITORY_FIELDS", "RepositoriesStream", "RepositoryStream"]

# Record field -> dotted path in GitHub's repository payload.
REPOSITORY_FIELDS = {
    "id": "id",
    "node_id": "node_id",
    "full_name": "full_name",
    "owner_login": "owner.login",
    "owner_id": "owner.id",
    "owner_type": "owner.type",
    "name": "name",
    "description": "description",
    "visibility": "visibility",
    "private": "private",
    "fork": "fork",
    "archived": "archived",
    "disabled": "disabled",
    "is_template": "is_template",
    "default_branch": "default_branch",
    "language": "language",
    "topics": "topics",
    "license_key": "license.key",
    "homepage": "homepage",
    "stargazers_count": "stargazers_count",
    "watchers_count": "watchers_count",
    "forks_count": "forks_count",
    "open_issues_count": "open_issues_count",
    "size": "size",
    "has_issues": "has_issues",
    "has_projects": "has_projects",
    "has_wiki": "has_wiki",
    "has_pages": "has_pages",
    "has_downloads": "has_downloads",
    "has_discussions": "has_discussions",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "pushed_at": "pushed_at",
    "html_url": "html_url",
}


class RepositoriesStream(GitHubStream):
    """The repositories the configuration selects (listing them is how they are selected).

    Incremental: every change (a changed listing page is read again); a deleted repository's
    row stays."""

    name = "repositories"
    primary_keys = ("id",)
    replication_key = None

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        for repository in self.github_tap.selected_repositories():
            record = flatten(repository, REPOSITORY_FIELDS)
            if repository.get(UNCHANGED):
                # Its listing page answered 304: no record (unchanged), its children still run.
                self._sync_children_of(self.get_child_context(record, context))
                continue
            yield record
        # Every record is out: the listings' ETags may now be kept for the next run.
        self.github_tap.store_selection_state()

    def _sync_children_of(self, child_context: dict[str, Any]) -> None:
        """What singer-sdk does for a record's children, for a repository with no record."""
        for child in self.child_streams:
            if child.selected or child.has_selected_descendents:
                try:
                    child.sync(context=dict(child_context))
                except (AbortedSyncFailedException, AbortedSyncPausedException):
                    continue

    @override
    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        return {
            "repo_id": record["id"],
            "owner": record["owner_login"],
            "repo": record["name"],
            "default_branch": record["default_branch"],
        }


class RepositoryStream(GitHubStream):
    """A stream read per selected repository, its rows handed over by the feed."""

    family: ClassVar[str]
    parent_stream_type = RepositoriesStream
    ignore_parent_replication_key = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state_partitioning_keys = PARTITION_KEYS  # one partition per repository id

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None  # children always have their repository's context
        repository = Repository.of(context)
        tap = self.github_tap
        try:
            yield from self.take(tap.feed.items(self.name, self.family, repository), context)
        except Exception as exc:  # failures.py re-raises what fails the run
            tap.failed(self.name, self.family, repository, exc)
        finalize_partition(self, context)
