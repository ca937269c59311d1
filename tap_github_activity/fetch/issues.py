"""Issues and issue comments of one repository (streams `issues` and `issue_comments`).

Both listings are read by `updated_at` since the last sync (fetch/updated_since.py): REST is the
cheapest exact way, as its conditional requests make a sync with no change free, and
/issues/comments is the only repository-wide comment listing (GraphQL has none). GraphQL gives
no issue its type: issues come from REST alone.

A first sync of the comments that follows a full issue listing knows every thread and its
comment count; when the threads hold many comments, it reads them nested in GraphQL pages of
threads (fetch/comment_threads.py), then asks the REST listing from an updatedAt GitHub gave
before that walk: what changed meanwhile, and the bookmark whose request later syncs repeat.

GitHub's /issues lists pull requests too (with a `pull_request` key): they are not emitted here
(the `pull_requests` stream has them) but tell which numbers are pull requests. A comment does
not say whether its parent is a pull request; a number this sync's issue listing did not show
(an edited comment on an older thread), or every number when `issues` is not selected, is asked
of GraphQL (`issueOrPullRequest`, 1 point for up to 100 numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from tap_github_activity.cost_check import QueryFamily, register
from tap_github_activity.errors import RequestFailedError
from tap_github_activity.fetch import Item, Keep, Request, Row, repository_query
from tap_github_activity.fetch.comment_threads import (
    THREAD_BUDGET,
    ThreadsShifted,
    ThreadWalk,
    cheaper_by_threads,
)
from tap_github_activity.fetch.text import without_nul
from tap_github_activity.fetch.updated_since import UpdatedSince
from tap_github_activity.records import flatten
from tap_github_activity.timestamps import format_time

__all__ = ["COMMENT_FIELDS", "ISSUE_FIELDS", "fetch_issues"]

ISSUES = "issues"
COMMENTS = "issue_comments"
# Numbers asked in one query: `issueOrPullRequest` is no connection, so each is no request of
# GitHub's rule and any batch is 1 point; GitHub caps a query's nodes, 100 keeps it small.
KIND_LOOKUP_BATCH = 100
register(QueryFamily("IssueKinds", "issue or pull request lookup", lambda _query, _v: 0))

logger = logging.getLogger(__name__)

# Record field -> dotted path in GitHub's issue payload (the schema is derived from these).
ISSUE_FIELDS = {
    "id": "id",
    "node_id": "node_id",
    "number": "number",
    "title": "title",
    "state": "state",
    "state_reason": "state_reason",
    "issue_type": "type.name",
    "milestone_title": "milestone.title",
    "milestone_number": "milestone.number",
    "milestone_due_on": "milestone.due_on",
    "author_login": "user.login",
    "author_id": "user.id",
    "author_association": "author_association",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "closed_at": "closed_at",
    "comment_count": "comments",
    "reactions_total": "reactions.total_count",
    "locked": "locked",
    "html_url": "html_url",
    "body": "body",
}

# Record field -> dotted path in GitHub's issue comment payload.
COMMENT_FIELDS = {
    "id": "id",
    "node_id": "node_id",
    "author_login": "user.login",
    "author_id": "user.id",
    "author_association": "author_association",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "html_url": "html_url",
    "body": "body",
}


def fetch_issues(request: Request) -> Iterator[Item]:
    """The wanted streams' rows changed since their state, each followed by its new state (kept
    once its listing is read to the end: a failure leaves the old one)."""
    # number -> whether it is a pull request, as this sync's issue listing shows them
    kinds: dict[int, bool] = {}
    # number -> (is a pull request, comments): every thread, when the listing is read in full
    threads: dict[int, tuple[bool, int]] | None = None
    issues = _listing(request, ISSUES, "issues", {"state": "all"})
    if request.wants(ISSUES) and not _issues_unchanged(request, issues):
        threads = {} if _first_sync(request, ISSUES) else None
        for payload in issues.items():
            is_pull = "pull_request" in payload
            kinds[int(payload["number"])] = is_pull
            if threads is not None:
                threads[int(payload["number"])] = (is_pull, int(payload.get("comments") or 0))
            if not is_pull:
                yield Row(ISSUES, _issue(request, payload))
        yield Keep(ISSUES, {"listing": issues.bookmark()})
    if request.wants(COMMENTS):
        budget = request.client.ledger.cost_check.size("CommentThreads", THREAD_BUDGET)
        if (
            threads is not None
            and _first_sync(request, COMMENTS)
            and cheaper_by_threads(threads, budget)
        ):
            yield from _comments_by_threads(request, kinds, threads)
        else:
            yield from _comments(request, kinds)


def _first_sync(request: Request, stream: str) -> bool:
    """Whether `stream` reads this repository from the beginning (no listing kept, no start)."""
    saved = (request.state.get(stream) or {}).get("listing")
    return not saved and request.start.get(stream) is None


def _issues_unchanged(request: Request, issues: UpdatedSince) -> bool:
    """Whether the change probe's most recently updated issue (GraphQL's issues exclude pull
    requests, as this stream does) is one the listing's bookmark has read: then the listing
    would emit nothing, and is not asked."""
    changes = request.changes()
    if changes is None or not changes.issues_asked or not issues.resumed:
        return False
    if not (request.state.get(ISSUES) or {}).get("listing"):
        return False  # a first sync (from start_date, if set)
    newest = changes.newest_issue
    return newest is None or issues.has_read(newest.at, newest.database_id)


def _listing(
    request: Request,
    stream: str,
    endpoint: str,
    params: Mapping[str, Any],
    since: str | None = None,
) -> UpdatedSince:
    repository = request.repository
    path = f"/repos/{repository.owner}/{repository.name}/{endpoint}"
    saved = (request.state.get(stream) or {}).get("listing") or {}
    start = request.start.get(stream)
    if since is not None:
        saved = {"path": path, "since": since}
    elif not saved and start is not None:
        # A first sync reads from start_date on.
        saved = {"path": path, "since": format_time(start)}
    return UpdatedSince(request.client, path, stream, repository.owner, params, saved)


def _comments(
    request: Request,
    kinds: dict[int, bool],
    since: str | None = None,
    read: Collection[tuple[int, str]] = (),
) -> Iterator[Item]:
    """The REST listing's comments (from `since`, if given), but for those `read` already
    (id, updated_at), then the listing's bookmark."""
    comments = _listing(request, COMMENTS, "issues/comments", {}, since)
    pending: list[dict[str, Any]] = []
    for payload in comments.items():
        if (int(payload["id"]), str(payload["updated_at"])) in read:
            continue
        record = _comment(request, payload)
        number = record["issue_number"]
        if number in kinds:
            record["is_pull_request"] = kinds[number]
            yield Row(COMMENTS, record)
        else:
            pending.append(record)
    if pending:
        kinds.update(_kinds(request, {r["issue_number"] for r in pending}))
        for record in pending:
            record["is_pull_request"] = kinds.get(record["issue_number"])
            yield Row(COMMENTS, record)
    yield Keep(COMMENTS, {"listing": comments.bookmark()})


def _comments_by_threads(
    request: Request, kinds: dict[int, bool], threads: Mapping[int, tuple[bool, int]]
) -> Iterator[Item]:
    """Every comment through GraphQL's threads, then what the REST listing shows from the
    walk's bound on: changes made during the walk (a comment already read is skipped)."""
    pulls = sum(is_pull for is_pull, _ in threads.values())
    walk = ThreadWalk(request, issues=len(threads) - pulls, pulls=pulls)
    try:
        for record in walk.comments():
            yield Row(COMMENTS, record)
    except (ThreadsShifted, RequestFailedError) as reason:
        # A page that skipped a thread, or that GitHub kept failing to answer (heavy pages time
        # out): the REST listing reads every comment; rows emitted come again (upserted by id).
        log = logger.info if isinstance(reason, ThreadsShifted) else logger.warning
        log(
            "%s: %s: %s; its comments are read from the REST listing",
            COMMENTS,
            request.repository.full_name,
            reason,
        )
        yield from _comments(request, kinds)
        return
    kinds.update(walk.kinds)
    # Without a thread there is no bound: the listing is read from its beginning.
    yield from _comments(request, kinds, walk.bound, walk.recent)


def _issue(request: Request, payload: Mapping[str, Any]) -> dict[str, Any]:
    record = flatten(payload, ISSUE_FIELDS)
    record["labels"] = [label["name"] for label in payload.get("labels") or []]
    record["assignees"] = [user["login"] for user in payload.get("assignees") or []]
    if not request.settings.include_bodies:
        record["body"] = None
    return without_nul(record)  # type: ignore[no-any-return]


def _comment(request: Request, payload: Mapping[str, Any]) -> dict[str, Any]:
    record = flatten(payload, COMMENT_FIELDS)
    # issue_url ends with the issue's (or pull request's) number.
    record["issue_number"] = int(str(payload["issue_url"]).rsplit("/", 1)[1])
    record["is_pull_request"] = None
    if not request.settings.include_bodies:
        record["body"] = None
    return without_nul(record)  # type: ignore[no-any-return]


def _kinds(request: Request, numbers: Iterable[int]) -> dict[int, bool]:
    """number -> is a pull request, asked of GraphQL; a number GitHub no longer knows (a
    deleted issue) is left out."""
    kinds: dict[int, bool] = {}
    ordered = sorted(numbers)
    for start in range(0, len(ordered), KIND_LOOKUP_BATCH):
        batch = ordered[start : start + KIND_LOOKUP_BATCH]
        fields = " ".join(f"n{n}: issueOrPullRequest(number: {n}) {{ __typename }}" for n in batch)
        query = (
            "query IssueKinds($owner: String!, $name: String!) { "
            f"repository(owner: $owner, name: $name) {{ {fields} }} rateLimit {{ cost }} }}"
        )
        found = repository_query(request, query, {}, stream=COMMENTS)
        for number in batch:
            node = found.get(f"n{number}")
            if node is not None:
                kinds[number] = node["__typename"] == "PullRequest"
    return kinds
