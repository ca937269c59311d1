"""Commits and commit_branches: one history walk per moved branch feeds both streams.

`commits` has one row per commit and repository; `commit_branches` one per commit and selected
branch that contains it, when first seen there (why a membership stream: docs/architecture.md).
Without `commit_branches`, every other branch's previous head counts as known, so a new feature
branch costs a walk down to its fork point only. With it, each branch is walked from its own
bookmark (`commits` then emits no row for a commit reachable from any branch's previous head:
a renamed or rebased branch brings no row again), and `commit_branches` reuses the walk
`commits` made when their bookmarks agree.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from typing import Any

from tap_github_activity.fetch import Item, Keep, Request, Row
from tap_github_activity.fetch.commit_history import (
    BranchWalk,
    log_walks,
    new_bookmarks,
    plan,
    read_heads,
    walk,
)
from tap_github_activity.fetch.heads import Head, read_oid, stored_oid

__all__ = ["BRANCHES", "COMMITS", "fetch_commits"]

COMMITS = "commits"
BRANCHES = "commit_branches"


def fetch_commits(request: Request) -> Iterator[Item]:
    """Rows of the wanted streams, each stream's branch bookmarks after its rows."""
    heads: list[Head] | None = None
    shared: dict[str, BranchWalk] | None = None
    if request.wants(COMMITS):
        heads = read_heads(request, COMMITS)
        walks = yield from _commits(request, heads)
        if request.wants(BRANCHES):
            shared = {w.head.name: w for w in walks if not w.lost}
    if request.wants(BRANCHES):
        yield from _branches(request, heads, shared)


def _bookmarks(request: Request, stream: str) -> dict[str, Any]:
    """The stream's branch bookmarks, heads in hex (the state keeps them compact)."""
    kept = (request.state.get(stream) or {}).get("branches") or {}
    return {
        name: {**bookmark, "head": read_oid(bookmark["head"])} if bookmark.get("head") else bookmark
        for name, bookmark in kept.items()
    }


def _kept(bookmarks: dict[str, Any]) -> dict[str, Any]:
    """Branch bookmarks as the state keeps them: heads in base64."""
    return {
        name: {**bookmark, "head": stored_oid(bookmark["head"])}
        if bookmark.get("head")
        else bookmark
        for name, bookmark in bookmarks.items()
    }


def _commits(request: Request, heads: list[Head]) -> Generator[Item, None, list[BranchWalk]]:
    bookmarks = _bookmarks(request, COMMITS)
    exact = request.wants(BRANCHES)
    # Without membership, commits reachable from any branch's previous head were emitted.
    known = None if exact else {b["head"] for b in bookmarks.values() if b.get("head")}
    walks = plan(heads, bookmarks, request.settings.start_date, known_heads=known)
    emails = request.settings.include_emails
    emitted: set[str] = set()
    # With membership each branch is walked from its own bookmark; commits reachable from any
    # branch's previous head (a renamed branch, a rebase onto the default branch) were emitted
    # by an earlier run: marked down the walk (children come before parents).
    earlier = {b["head"] for b in bookmarks.values() if b.get("head")}
    for _, node in walk(request, COMMITS, walks, _node_fields(emails)):
        if node["oid"] in earlier:
            earlier.update(parent["oid"] for parent in node["parents"]["nodes"])
        elif node["oid"] not in emitted:
            emitted.add(node["oid"])
            yield Row(COMMITS, commit_record(node, emails))
    yield Keep(COMMITS, {"branches": _kept(new_bookmarks(heads, bookmarks, walks))})
    log_walks(request, COMMITS, heads, walks, len(emitted))
    return walks


def _branches(
    request: Request, heads: list[Head] | None, shared: dict[str, BranchWalk] | None
) -> Iterator[Item]:
    bookmarks = _bookmarks(request, BRANCHES)
    if heads is None:
        heads = read_heads(request, BRANCHES)
    walks = plan(heads, bookmarks, request.settings.start_date)
    own: list[BranchWalk] = []
    emitted = 0
    for branch in walks:
        done = (shared or {}).get(branch.head.name)
        if done and done.head == branch.head and done.previous == branch.previous:
            branch.new, branch.lost = done.new, done.lost
            for sha in done.new:
                emitted += 1
                yield Row(BRANCHES, {"branch": branch.head.name, "sha": sha})
        else:
            own.append(branch)
    for branch, node in walk(request, BRANCHES, own):
        emitted += 1
        yield Row(BRANCHES, {"branch": branch.head.name, "sha": node["oid"]})
    yield Keep(BRANCHES, {"branches": _kept(new_bookmarks(heads, bookmarks, walks))})
    log_walks(request, BRANCHES, heads, own, emitted)


def _node_fields(include_emails: bool) -> str:
    """The record's fields; e-mail addresses are not even asked for unless wanted."""
    email = " email" if include_emails else ""
    actor = f"{{ name{email} user {{ login databaseId }} }}"
    return (
        f"messageHeadline messageBody authoredDate additions deletions "
        f"changedFilesIfAvailable url author {actor} committer {actor}"
    )


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


def commit_record(node: Mapping[str, Any], include_emails: bool) -> dict[str, Any]:
    """A commits record from a history node."""
    return {
        "sha": node["oid"],
        "message_headline": node.get("messageHeadline"),
        "message_body": node.get("messageBody"),
        **_actor_fields("author", node.get("author"), include_emails),
        **_actor_fields("committer", node.get("committer"), include_emails),
        "authored_at": node.get("authoredDate"),
        "committed_at": node["committedDate"],
        "parent_count": node["parents"]["totalCount"],
        # The walk asks up to 100 parents (git allows more: an octopus merge of 100+ heads).
        "parent_shas": [parent["oid"] for parent in node["parents"]["nodes"]],
        "additions": node.get("additions"),
        "deletions": node.get("deletions"),
        "changed_files": node.get("changedFilesIfAvailable"),
        "html_url": node.get("url"),
    }
