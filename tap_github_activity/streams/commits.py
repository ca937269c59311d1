"""Commits, and which selected branches contain them, read from GitHub's GraphQL commit history.

Streams
-------
``commits``: one row per commit and repository, key ``(repo_id, sha)``, with the line counts
GraphQL gives on each commit (``additions``, ``deletions``, ``changedFilesIfAvailable``), so line
counts cost no REST request per commit. A commit on several branches is one row: summing line
counts never counts a commit twice.

``commit_branches``: one row per commit and selected branch that contains it, key
``(repo_id, branch, sha)``, emitted when the commit is first seen on that branch. "Which
branches contain commit X" is ``select branch from commit_branches where sha = X``.

Why a membership stream and not a ``branches`` array on the commit row: targets upsert a row by
its key, whole. A later run sees a commit only on the branch it just arrived on (a feature
branch merged into main), so it would write ``branches = ["main"]`` over ``["feature"]``;
keeping the array right would mean reading every branch's full history on every run, or a
target-side merge that Singer cannot ask for. Membership rows only ever add facts, so upserts
keep them right. What they cannot say is that a commit left a branch (force-push, branch
deleted): their rows stay, read them as "was seen on".

Which branches are read, the bookmarks, and the walk from each moved head are in
streams/commit_history.py (``CommitHistoryStream``, the base of both streams).

The ``commits`` stream, when ``commit_branches`` is not selected, also treats every other
branch's previous head as known (those commits were emitted), so a new feature branch costs a
walk down to its fork point, not its whole history. Membership needs each branch's own history,
so when it is selected both streams walk each branch from its own bookmark (``commits`` then
emits no row for a commit reachable from any branch's previous head: a renamed branch, or one
rebased onto the default branch, brings no row again), and
``commit_branches`` reuses the walk ``commits`` just made for the same repository (no second
request) when their bookmarks agree. Either stream works alone.

Replication: the streams have no replication key (their records are not ordered by any field),
so singer-sdk calls them FULL_TABLE; they are incremental through the bookmarks of
commit_history.py, and never emit ACTIVATE_VERSION, which would make a target delete the rows a
run did not resend.

Cost: the heads are in the change probe (1 point per 50 repositories, shared with the pull
requests), plus 1 point per 100 commits walked per branch (the per-commit ``parents``
connection makes a 100-commit page cost 1.01 points, so batching branches into one query,
``BRANCHES_PER_QUERY`` aliases, saves requests, not points). A run in which no head moved costs
no request of its own.

Concurrency: ``commits`` may fetch repositories ahead on worker threads (prefetch.py); the walks
it keeps for ``commit_branches`` are per repository, under a lock. ``commit_branches`` reads on
singer-sdk's thread when ``commits`` is selected (it reuses the walks), ahead otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.streams.base import EVENT_UUID
from tap_github_activity.streams.children import REPOSITORY_CONTEXT
from tap_github_activity.streams.commit_history import BranchWalk, CommitHistoryStream, Head

__all__ = ["CommitBranchesStream", "CommitsStream"]


@dataclass
class SharedWalk:
    """What `commits` read for one repository, for `commit_branches` to reuse."""

    heads: list[Head]
    walks: dict[str, BranchWalk]


def _actor_fields(
    prefix: str, actor: Mapping[str, Any] | None, include_emails: bool
) -> dict[str, Any]:
    actor = actor or {}
    user = actor.get("user") or {}
    return {
        f"{prefix}_name": actor.get("name"),
        f"{prefix}_login": user.get("login"),
        f"{prefix}_id": user.get("databaseId"),
        f"{prefix}_email": actor.get("email") if include_emails else None,
    }


class CommitsStream(CommitHistoryStream):
    """Commits of the selected branches, once each, with their line counts.

    Incremental: every commit that arrived on a branch, however old its date (GitHub's compare
    says whether the previous head is an ancestor; a force-push is read to the merge base). A
    commit that left a branch stays (Singer has no delete)."""

    name = "commits"
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shared: dict[int, SharedWalk] = {}  # repo_id -> walk, until commit_branches takes it
        self._shared_lock = threading.Lock()

    @property
    def include_emails(self) -> bool:
        """The include_emails setting."""
        return bool(self.config.get("include_emails", False))

    @override
    def node_fields(self) -> str:
        """The record's fields; e-mail addresses are not even asked for unless wanted."""
        email = " email" if self.include_emails else ""
        actor = f"{{ name{email} user {{ login databaseId }} }}"
        return (
            f"messageHeadline messageBody authoredDate additions deletions "
            f"changedFilesIfAvailable url author {actor} committer {actor}"
        )

    @property
    def membership_selected(self) -> bool:
        """Whether commit_branches runs after this stream (it then reuses our walks)."""
        other = self.github_tap.streams.get(CommitBranchesStream.name)
        return bool(other and other.selected)

    def take_shared(self, repo_id: int) -> SharedWalk | None:
        """The walk made for `repo_id` in this run, once."""
        with self._shared_lock:
            return self._shared.pop(repo_id, None)

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        bookmarks = dict(self.partition_state(context).get("branches") or {})
        heads = self.read_heads(context)
        exact = self.membership_selected
        # Without membership, commits reachable from any branch's previous head were emitted.
        known = None if exact else {b["head"] for b in bookmarks.values() if b.get("head")}
        walks = self.plan(heads, bookmarks, known_heads=known)
        emitted: set[str] = set()
        # With membership each branch is walked from its own bookmark; commits reachable from
        # any branch's previous head (a renamed branch, a rebase onto the default branch) were
        # emitted by an earlier run: marked down the walk (children come before parents).
        earlier = {b["head"] for b in bookmarks.values() if b.get("head")}
        for _, node in self.walk(context, walks):
            if node["oid"] in earlier:
                earlier.update(parent["oid"] for parent in node["parents"]["nodes"])
            elif node["oid"] not in emitted:
                emitted.add(node["oid"])
                yield self.to_record(node)
        self.remember(context, branches=self.new_bookmarks(heads, bookmarks, walks))
        if exact:
            # commit_branches reuses it when it reaches this repository (workers may have
            # walked a few repositories ahead: one entry each, taken once).
            with self._shared_lock:
                self._shared[context["repo_id"]] = SharedWalk(
                    heads, {w.head.name: w for w in walks if not w.lost}
                )
        self.log_walks(context, heads, walks, len(emitted))

    def to_record(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """A commits record from a history node."""
        return {
            "sha": node["oid"],
            "message_headline": node.get("messageHeadline"),
            "message_body": node.get("messageBody"),
            **_actor_fields("author", node.get("author"), self.include_emails),
            **_actor_fields("committer", node.get("committer"), self.include_emails),
            "authored_at": node.get("authoredDate"),
            "committed_at": node["committedDate"],
            "parent_count": node["parents"]["totalCount"],
            "additions": node.get("additions"),
            "deletions": node.get("deletions"),
            "changed_files": node.get("changedFilesIfAvailable"),
            "html_url": node.get("url"),
        }


class CommitBranchesStream(CommitHistoryStream):
    """Which selected branches contain which commits: a row when a commit is first seen on a
    branch (rows are never retracted).

    Incremental: every commit newly on a branch (fast-forward, force-push, new or renamed
    branch). Leaving a branch is not retracted: the rows mean "was seen on"."""

    name = "commit_branches"
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

    @property
    @override
    def prefetches(self) -> bool:
        # With commits selected, its walks are reused here: no request to fetch ahead.
        commits = self.github_tap.streams.get(CommitsStream.name)
        return not (commits is not None and commits.selected)

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        bookmarks = dict(self.partition_state(context).get("branches") or {})
        commits = self.github_tap.streams.get(CommitsStream.name)
        shared = (
            commits.take_shared(context["repo_id"]) if isinstance(commits, CommitsStream) else None
        )
        heads = shared.heads if shared else self.read_heads(context)
        walks = self.plan(heads, bookmarks)
        own: list[BranchWalk] = []
        emitted = 0
        for walk in walks:
            done = shared.walks.get(walk.head.name) if shared else None
            if done and done.head == walk.head and done.previous == walk.previous:
                walk.new, walk.lost = done.new, done.lost
                for sha in done.new:
                    emitted += 1
                    yield {"branch": walk.head.name, "sha": sha}
            else:
                own.append(walk)
        for walk, node in self.walk(context, own):
            emitted += 1
            yield {"branch": walk.head.name, "sha": node["oid"]}
        self.remember(context, branches=self.new_bookmarks(heads, bookmarks, walks))
        self.log_walks(context, heads, own, emitted)
