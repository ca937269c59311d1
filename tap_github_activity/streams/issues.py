"""Issues and issue comments: one fetch (fetch/issues.py) feeds both streams.

Pull requests are not in `issues` (the `pull_requests` stream has them); their conversation
comments are in `issue_comments`, marked `is_pull_request`.
"""

from __future__ import annotations

from tap_github_activity.streams.repositories import RepositoryStream

__all__ = ["IssueCommentsStream", "IssuesStream"]


class IssuesStream(RepositoryStream):
    """Issues updated since the last run (new, edited, closed, commented).

    Incremental: every change that moves the issue's `updated_at`. Not a new reaction
    (`reactions_total` is as of the issue's last update: reactions do not move it)."""

    name = "issues"
    family = "issues"
    primary_keys = ("id",)
    replication_key = "updated_at"
    emits_event_uuid = True


class IssueCommentsStream(RepositoryStream):
    """Comments on issues and on pull requests' conversations, created or edited since the
    last run.

    Incremental: every new or edited comment. A deleted comment's row stays (Singer has no
    delete)."""

    name = "issue_comments"
    family = "issues"
    primary_keys = ("id",)
    replication_key = "updated_at"
    emits_event_uuid = True
