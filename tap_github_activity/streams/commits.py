"""Commits, and which selected branches contain them (fetch/commits.py walks the history).

No replication key (records are not ordered by any field): singer-sdk calls the streams
FULL_TABLE, but they are incremental through per-branch bookmarks, and never emit
ACTIVATE_VERSION.
"""

from __future__ import annotations

from singer_sdk import typing as th

from tap_github_activity.streams.base import EVENT_UUID, REPOSITORY_CONTEXT
from tap_github_activity.streams.repositories import RepositoryStream

__all__ = ["CommitBranchesStream", "CommitsStream"]


class CommitsStream(RepositoryStream):
    """Commits of the selected branches, once each, with their line counts.

    Incremental: every commit that arrived on a branch, however old its date (GitHub's compare
    says whether the previous head is an ancestor; a force-push is read to the merge base). A
    commit that left a branch stays (Singer has no delete)."""

    name = "commits"
    family = "commits"
    primary_keys = ("repo_id", "sha")
    replication_key = None
    emits_event_uuid = True

    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property("sha", th.StringType, required=True, description="The commit's id."),
        th.Property("message_headline", th.StringType, description="The message's first line."),
        th.Property("message_body", th.StringType, description="The message after its first line."),
        th.Property("author_name", th.StringType, description="The git author's name."),
        th.Property(
            "author_login",
            th.StringType,
            description="The GitHub user the author's e-mail belongs to, if any.",
        ),
        th.Property("author_id", th.IntegerType, description="That user's id."),
        th.Property(
            "author_email",
            th.StringType,
            description="The git author's e-mail (only with include_emails).",
        ),
        th.Property("committer_name", th.StringType, description="The git committer's name."),
        th.Property(
            "committer_login",
            th.StringType,
            description="The GitHub user the committer's e-mail belongs to, if any.",
        ),
        th.Property("committer_id", th.IntegerType, description="That user's id."),
        th.Property(
            "committer_email",
            th.StringType,
            description="The git committer's e-mail (only with include_emails).",
        ),
        th.Property("authored_at", th.DateTimeType, description="The author date."),
        th.Property("committed_at", th.DateTimeType, description="The committer date."),
        th.Property(
            "parent_count",
            th.IntegerType,
            description="Number of parents: 2 or more for a merge commit.",
        ),
        th.Property(
            "parent_shas",
            th.ArrayType(th.StringType),
            description="The parents' shas, first parent first (which commits a deployment "
            "shipped: those reachable from its sha and not from the one before).",
        ),
        th.Property("additions", th.IntegerType, description="Lines added."),
        th.Property("deletions", th.IntegerType, description="Lines deleted."),
        th.Property(
            "changed_files",
            th.IntegerType,
            description="Files changed (null when GitHub does not compute it).",
        ),
        th.Property("html_url", th.StringType, description="The commit's page on GitHub."),
        EVENT_UUID,
    ).to_dict()


class CommitBranchesStream(RepositoryStream):
    """Which selected branches contain which commits: a row when a commit is first seen on a
    branch (rows are never retracted).

    Incremental: every commit newly on a branch (fast-forward, force-push, new or renamed
    branch). Leaving a branch is not retracted: the rows mean "was seen on"."""

    name = "commit_branches"
    family = "commits"
    primary_keys = ("repo_id", "branch", "sha")
    replication_key = None

    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property(
            "branch",
            th.StringType,
            required=True,
            description="The branch name (without refs/heads/).",
        ),
        th.Property(
            "sha",
            th.StringType,
            required=True,
            description="A commit the branch contains (commits.sha).",
        ),
    ).to_dict()
