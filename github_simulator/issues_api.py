"""What GitHub answers about issues and issue comments.

- GET /repos/{owner}/{repo}/issues lists issues AND pull requests (with a `pull_request` key and
  an issue id): `state` open (the default), closed or all; `sort` created (default), updated or
  comments; `direction` desc by default; `since` keeps what was updated at or after it (the
  inclusive reading); page/per_page.
- GET /repos/{owner}/{repo}/issues/comments lists the comments of issues and of pull requests'
  conversations, by ascending id unless `sort` (created, updated) is given, `direction` being
  ignored without it; `since` as above. GitHub refuses deep `page=` on this listing with 422:
  pages beyond DEEP_PAGE_LIMIT are refused.
- GraphQL `repository.issueOrPullRequest(number:)` tells which of the two a number is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, overload

from github_simulator.graphql_api import REPOSITORY_FIELDS, NotFoundError
from github_simulator.issues import Comment, Issue, comment_count, issue_store, pull_issue_id
from github_simulator.pulls import PullRequest, pulls_of
from github_simulator.rest_core import NAME, OWNER, visible_repo
from github_simulator.rest_extra import _choice, _label
from github_simulator.server import ROUTER, HTTPError, Listing, Request
from github_simulator.world import Account, Repo, iso

# Deepest page of /issues/comments GitHub serves (its limit is undocumented: a low one).
DEEP_PAGE_LIMIT = 20
DEEP_PAGE_MESSAGE = (
    "Pagination with the page parameter is not supported for large datasets, please use "
    "cursor based pagination (after/before)"
)


class Lazy(Sequence[Any]):
    """A listing's items turned into payloads only for the page asked."""

    def __init__(self, items: Sequence[Any], payload: Callable[[Any], Any]) -> None:
        self.items, self.payload = items, payload

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self.payload(item) for item in self.items[index]]
        return self.payload(self.items[index])


def _since(request: Request) -> datetime | None:
    value = request.query.get("since")
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPError(422, f"Invalid value for parameter 'since': {value!r}") from None


def _reactions(url: str, total: int) -> dict[str, Any]:
    counts = {"+1": total, "-1": 0, "laugh": 0, "confused": 0, "heart": 0, "hooray": 0}
    return {"url": f"{url}/reactions", "total_count": total, **counts, "eyes": 0, "rocket": 0}


def _user(request: Request, account: Account) -> dict[str, Any]:
    return account.payload(request.api)


def _issue_urls(request: Request, repo: Repo, number: int, kind: str) -> dict[str, Any]:
    url = f"{request.api}/repos/{repo.full_name}/issues/{number}"
    return {
        "url": url,
        "repository_url": f"{request.api}/repos/{repo.full_name}",
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "timeline_url": f"{url}/timeline",
        "html_url": f"https://github.test/{repo.full_name}/{kind}/{number}",
    }


def _milestone(request: Request, issue: Issue) -> dict[str, Any] | None:
    milestone, repo = issue.milestone, issue.repo
    if milestone is None:
        return None
    url = f"{request.api}/repos/{repo.full_name}/milestones/{milestone.number}"
    return {
        "url": url,
        "html_url": f"https://github.test/{repo.full_name}/milestone/{milestone.number}",
        "labels_url": f"{url}/labels",
        "id": repo.id * 100 + milestone.number,
        "node_id": f"MI_{repo.id}_{milestone.number}",
        "number": milestone.number,
        "state": "open",
        "title": milestone.title,
        "description": None,
        "creator": _user(request, repo.owner),
        "open_issues": 1,
        "closed_issues": 0,
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.created_at),
        "closed_at": None,
        "due_on": iso(milestone.due_on) if milestone.due_on else None,
    }


def _issue_type(name: str | None) -> dict[str, Any] | None:
    if name is None:
        return None
    type_id = sum(ord(c) for c in name)
    return {"id": type_id, "node_id": f"IT_{type_id}", "name": name, "description": None}


def issue_payload(request: Request, issue: Issue) -> dict[str, Any]:
    repo = issue.repo
    urls = _issue_urls(request, repo, issue.number, "issues")
    return {
        "id": issue.id,
        "node_id": issue.node_id,
        **urls,
        "number": issue.number,
        "state": issue.state,
        "state_reason": issue.state_reason,
        "title": issue.title,
        "body": issue.body,
        "user": _user(request, issue.author),
        "labels": [_label(request, repo, name) for name in issue.labels],
        "assignee": _user(request, issue.assignees[0]) if issue.assignees else None,
        "assignees": [_user(request, a) for a in issue.assignees],
        "milestone": _milestone(request, issue),
        "type": _issue_type(issue.issue_type),
        "locked": issue.locked,
        "active_lock_reason": "resolved" if issue.locked else None,
        "comments": comment_count(request.world, repo, issue.number),
        "closed_at": iso(issue.closed_at) if issue.closed_at else None,
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "author_association": issue.author_association,
        "reactions": _reactions(urls["url"], issue.reactions),
    }


def pull_as_issue_payload(request: Request, pull: PullRequest) -> dict[str, Any]:
    repo = pull.repo
    urls = _issue_urls(request, repo, pull.number, "pull")
    closed = pull.state != "OPEN"
    return {
        "id": pull_issue_id(request.world, pull),
        "node_id": pull.node_id,
        **urls,
        "number": pull.number,
        "state": "closed" if closed else "open",
        "state_reason": None,
        "title": pull.title,
        "body": None,
        "user": _user(request, pull.author),
        "labels": [_label(request, repo, name) for name in pull.labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "type": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": pull.comments,
        "pull_request": {
            "url": f"{request.api}/repos/{repo.full_name}/pulls/{pull.number}",
            "html_url": pull.url,
            "diff_url": f"{pull.url}.diff",
            "patch_url": f"{pull.url}.patch",
            "merged_at": iso(pull.merged_at) if pull.merged_at else None,
        },
        "draft": pull.draft,
        "closed_at": iso(pull.closed_at) if pull.closed_at else None,
        "created_at": iso(pull.created_at),
        "updated_at": iso(pull.updated_at),
        "author_association": "MEMBER",
        "reactions": _reactions(urls["url"], 0),
    }


def comment_payload(request: Request, comment: Comment) -> dict[str, Any]:
    repo = comment.repo
    api = f"{request.api}/repos/{repo.full_name}/issues"
    return {
        "id": comment.id,
        "node_id": comment.node_id,
        "url": f"{api}/comments/{comment.id}",
        "html_url": comment.html_url,
        "body": comment.body,
        "user": _user(request, comment.author),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "issue_url": f"{api}/{comment.number}",
        "author_association": comment.author_association,
        "reactions": _reactions(f"{api}/comments/{comment.id}", 0),
    }


_ISSUE_ORDER: dict[str, Callable[[Any], Any]] = {
    "created": lambda item: (item.created_at, item.number),
    "updated": lambda item: (item.updated_at, item.number),
    "comments": lambda item: (item.comments, item.number),
}


@ROUTER.get(f"/repos/{OWNER}/{NAME}/issues")
def list_issues(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    state = _choice(request, "state", ("open", "closed", "all"), "open")
    sort = _choice(request, "sort", ("created", "updated", "comments"), "created")
    direction = _choice(request, "direction", ("asc", "desc"), "desc")
    since = _since(request)
    world = request.world
    issues: list[Issue | PullRequest] = [
        *issue_store(world).issues.get(repo.id, []),
        *pulls_of(world).by_repo.get(repo.id, []),
    ]

    def is_open(item: Issue | PullRequest) -> bool:
        return item.state in ("open", "OPEN")

    chosen = [
        item
        for item in issues
        if (state == "all" or is_open(item) == (state == "open"))
        and (since is None or item.updated_at >= since)
    ]
    if sort == "comments":
        counts = {id(i): _comments(request, i) for i in chosen}
        chosen.sort(key=lambda i: (counts[id(i)], i.number), reverse=direction == "desc")
    else:
        chosen.sort(key=_ISSUE_ORDER[sort], reverse=direction == "desc")

    def payload(item: Issue | PullRequest) -> dict[str, Any]:
        if isinstance(item, Issue):
            return issue_payload(request, item)
        return pull_as_issue_payload(request, item)

    return Listing(Lazy(chosen, payload))  # type: ignore[arg-type]


def _comments(request: Request, item: Issue | PullRequest) -> int:
    if isinstance(item, PullRequest):
        return item.comments
    return comment_count(request.world, item.repo, item.number)


@ROUTER.get(f"/repos/{OWNER}/{NAME}/issues/comments")
def list_issue_comments(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    sort = request.query.get("sort")
    if sort is not None and sort not in ("created", "updated"):
        raise HTTPError(422, f"Invalid value for parameter 'sort': {sort!r}")
    direction = _choice(request, "direction", ("asc", "desc"), "desc") if sort else "asc"
    if int(request.query.get("page", 1)) > DEEP_PAGE_LIMIT:
        raise HTTPError(422, DEEP_PAGE_MESSAGE)
    since = _since(request)
    comments = [
        c
        for c in issue_store(request.world).comments.get(repo.id, [])
        if since is None or c.updated_at >= since
    ]
    if sort is None:
        comments.sort(key=lambda c: c.id)
    else:
        field = "created_at" if sort == "created" else "updated_at"
        comments.sort(key=lambda c: (getattr(c, field), c.id), reverse=direction == "desc")
    return Listing(Lazy(comments, lambda c: comment_payload(request, c)))  # type: ignore[arg-type]


# -- GraphQL -----------------------------------------------------------------------------------


def _issue_or_pull_request(request: Request, repo: Repo) -> Any:
    def resolve(info: Any, number: int) -> dict[str, Any]:
        world = request.world
        for issue in issue_store(world).issues.get(repo.id, []):
            if issue.number == number:
                return {"__typename": "Issue", "id": issue.node_id, "number": number}
        for pull in pulls_of(world).by_repo.get(repo.id, []):
            if pull.number == number:
                return {"__typename": "PullRequest", "id": pull.node_id, "number": number}
        raise NotFoundError(
            f"Could not resolve to an issue or pull request with the number of {number}."
        )

    return resolve


REPOSITORY_FIELDS["issueOrPullRequest"] = _issue_or_pull_request
