"""GraphQL `repository.issues`, `repository.issue(number:)`, and the comments of issues and pull
requests (`comments(first/after, orderBy)` on both, IssueComment nodes in creation order).

`issues(filterBy: {since, states}, states:, labels:, orderBy: {field, direction})`, in creation
order without orderBy; `since` keeps what was updated at or after it. Pull requests are not
issues in GraphQL. The tap reads issues by REST and, on a first sync, the comments nested in
pages of issues and pull requests (see docs/issues-and-deployments.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from github_simulator.graphql_api import REPOSITORY_FIELDS, NotFoundError, connection
from github_simulator.issues import Comment, Issue, comment_count, issue_store
from github_simulator.pulls import PULL_FIELDS, PullRequest, _actor, _paged
from github_simulator.server import Request
from github_simulator.world import Repo, iso


def _count(total: int) -> Callable[..., dict[str, Any]]:
    """A connection asked for its totalCount (its nodes are not modelled)."""
    return lambda info, **args: {"totalCount": total}


def _comment_node(comment: Comment) -> dict[str, Any]:
    return {
        "__typename": "IssueComment",
        "id": comment.node_id,
        "databaseId": comment.id,
        "fullDatabaseId": str(comment.id),
        "author": _actor(comment.author),
        "authorAssociation": comment.author_association,
        "body": comment.body,
        "createdAt": iso(comment.created_at),
        "updatedAt": iso(comment.updated_at),
        "url": comment.html_url,
        "isMinimized": False,
    }


def _by_thread(request: Request, repo: Repo) -> dict[int, list[Comment]]:
    """The repository's comments by thread number, gathered once per request (a page of
    threads asks for each; the world does not change while a query runs)."""
    cache: dict[int, dict[int, list[Comment]]] = vars(request).setdefault("comment_threads", {})
    if repo.id not in cache:
        threads: dict[int, list[Comment]] = {}
        for comment in issue_store(request.world).comments.get(repo.id, []):
            threads.setdefault(comment.number, []).append(comment)
        cache[repo.id] = threads
    return cache[repo.id]


def _thread(request: Request, repo: Repo, number: int) -> Callable[..., dict[str, Any]]:
    """The `comments` connection of issue or pull request `number`: creation order, or by
    `orderBy: {field: UPDATED_AT}`; `totalCount` alone without first/last."""

    def resolve(info: Any, orderBy: dict[str, str] | None = None, **args: Any) -> dict[str, Any]:
        comments = list(_by_thread(request, repo).get(number, []))
        if orderBy is not None:
            comments.sort(
                key=lambda c: (c.updated_at, c.id), reverse=orderBy["direction"] == "DESC"
            )
        return _paged(info, comments, node=_comment_node, **args)

    return resolve


def _issue_node(request: Request, issue: Issue) -> dict[str, Any]:
    milestone = issue.milestone
    return {
        "__typename": "Issue",
        "id": issue.node_id,
        "databaseId": issue.id,
        "number": issue.number,
        "title": issue.title,
        "body": issue.body or "",
        "state": issue.state.upper(),
        "stateReason": issue.state_reason.upper() if issue.state_reason else None,
        "createdAt": iso(issue.created_at),
        "updatedAt": iso(issue.updated_at),
        "closedAt": iso(issue.closed_at) if issue.closed_at else None,
        "locked": issue.locked,
        "url": f"https://github.test/{issue.repo.full_name}/issues/{issue.number}",
        "author": _actor(issue.author),
        "milestone": None
        if milestone is None
        else {
            "__typename": "Milestone",
            "id": f"MI_{issue.repo.id}_{milestone.number}",
            "number": milestone.number,
            "title": milestone.title,
            "dueOn": iso(milestone.due_on) if milestone.due_on else None,
        },
        # In the order they were added (the default CREATED_AT ASC).
        "labels": lambda info, orderBy=None, **args: connection(
            [{"__typename": "Label", "id": f"LA_{n}", "name": n} for n in issue.labels], **args
        ),
        "assignees": lambda info, **args: connection([_actor(a) for a in issue.assignees], **args),
        "comments": _thread(request, issue.repo, issue.number),
        "reactions": _count(issue.reactions),
    }


def _issues(request: Request, repo: Repo) -> Any:
    def resolve(
        info: Any,
        *,
        filterBy: dict[str, Any] | None = None,
        states: list[str] | None = None,
        labels: list[str] | None = None,
        orderBy: dict[str, str] | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        filters = filterBy or {}
        since = filters.get("since")
        since_at = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        wanted = states or filters.get("states")
        chosen = [
            issue
            for issue in issue_store(request.world).issues.get(repo.id, [])
            if (wanted is None or issue.state.upper() in wanted)
            and (labels is None or set(labels) & set(issue.labels))
            and (since_at is None or issue.updated_at >= since_at)
        ]
        order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
        keys: dict[str, Callable[[Issue], Any]] = {
            "CREATED_AT": lambda issue: (issue.created_at, issue.id),
            "UPDATED_AT": lambda issue: (issue.updated_at, issue.id),
            "COMMENTS": lambda issue: (comment_count(request.world, repo, issue.number), issue.id),
        }
        chosen.sort(key=keys[order["field"]], reverse=order["direction"] == "DESC")
        return connection(chosen, node=lambda issue: _issue_node(request, issue), **args)

    return resolve


def _issue(request: Request, repo: Repo) -> Any:
    def resolve(info: Any, number: int) -> dict[str, Any]:
        for issue in issue_store(request.world).issues.get(repo.id, []):
            if issue.number == number:
                return _issue_node(request, issue)
        raise NotFoundError(f"Could not resolve to an Issue with the number of {number}.")

    return resolve


def _pull_comments(request: Request, pull: PullRequest) -> Any:
    return _thread(request, pull.repo, pull.number)


REPOSITORY_FIELDS["issues"] = _issues
REPOSITORY_FIELDS["issue"] = _issue
PULL_FIELDS["comments"] = _pull_comments
