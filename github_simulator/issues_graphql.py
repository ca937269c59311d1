"""GraphQL `repository.issues`: issues only (pull requests are not issues in GraphQL).

`issues(filterBy: {since, states}, states:, labels:, orderBy: {field, direction})`, in creation
order without orderBy; `since` keeps what was updated at or after it. The tap reads issues by
REST (see docs/issues-and-deployments.md); this is here so the two ways can be measured against
each other (bench/fetchers.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from github_simulator.graphql_api import REPOSITORY_FIELDS, connection
from github_simulator.issues import Issue, comment_count, issue_store
from github_simulator.pulls import _actor
from github_simulator.server import Request
from github_simulator.world import Repo, iso


def _count(total: int) -> Callable[..., dict[str, Any]]:
    """A connection asked for its totalCount (its nodes are not modelled)."""
    return lambda info, **args: {"totalCount": total}


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
        "comments": _count(comment_count(request.world, issue.repo, issue.number)),
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


REPOSITORY_FIELDS["issues"] = _issues
