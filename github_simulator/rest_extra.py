"""REST endpoints the tap does not use but other GitHub extractors do (the benchmark runs one):
the pull request listing and a pull request's reviews, served from the pulls family's store.

Registered by the benchmark only (bench/ calls `register()`), never by
github_simulator/__init__.py, so the tap's tests keep a simulator without them.

- GET /repos/{owner}/{repo}/pulls: `state` (open, closed, all; default open), `head`
  (owner:branch), `base`, `sort` (created, updated, popularity = comments, long-running) and
  `direction` (default desc for created, else asc), paginated with page/per_page.
- GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews: in submission order; a PENDING review is
  listed to its author only.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from github_simulator.pulls import PullRequest, Review, Team, merge_sha, pulls_of
from github_simulator.rest_core import NAME, OWNER, repo_payload, visible_repo
from github_simulator.server import ROUTER, HTTPError, Listing, Request
from github_simulator.world import Account, Repo, iso

NUMBER = r"(?P<number>\d+)"
LABEL_COLORS = {
    "bug": "d73a4a",
    "feature": "a2eeef",
    "docs": "0075ca",
    "chore": "ededed",
    "security": "b60205",
    "performance": "fbca04",
}


def _choice(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise HTTPError(422, f"Invalid value for parameter '{name}': {value!r}")
    return value


def _user(request: Request, account: Account | None) -> dict[str, Any] | None:
    return account.payload(request.api) if account else None


def _team(request: Request, team: Team) -> dict[str, Any]:
    base = f"{request.api}/organizations/1/team/{team.id}"
    return {
        "id": team.id,
        "node_id": f"T_{team.id}",
        "name": team.slug,
        "slug": team.slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "url": base,
        "html_url": f"https://github.test/orgs/{team.organization}/teams/{team.slug}",
        "members_url": f"{base}/members{{/member}}",
        "repositories_url": f"{base}/repos",
        "parent": None,
        "type": "organization",
    }


def _label(request: Request, repo: Repo, name: str) -> dict[str, Any]:
    return {
        "id": sum(ord(c) for c in name) * 1000 + repo.id,
        "node_id": f"LA_{name}",
        "url": f"{request.api}/repos/{repo.full_name}/labels/{name}",
        "name": name,
        "description": f"{name.capitalize()} work",
        "color": LABEL_COLORS.get(name, "ededed"),
        "default": False,
    }


def _ref(request: Request, pull: PullRequest, ref: str) -> dict[str, Any]:
    repo = pull.repo
    sha = hashlib.sha1(f"{pull.id}:{ref}".encode()).hexdigest()  # noqa: S324 -- a git object id
    return {
        "label": f"{repo.owner.login}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": repo.owner.payload(request.api),
        "repo": repo_payload(repo, request.api, full=False),
    }


def pull_payload(request: Request, pull: PullRequest) -> dict[str, Any]:
    """An item of GET /repos/{owner}/{repo}/pulls."""
    repo = pull.repo
    api = f"{request.api}/repos/{repo.full_name}"
    url = f"{api}/pulls/{pull.number}"
    html = pull.url
    state = "open" if pull.state == "OPEN" else "closed"
    head = _ref(request, pull, pull.head_ref)
    return {
        "url": url,
        "id": pull.id,
        "node_id": pull.node_id,
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{pull.number}",
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{pull.number}/comments",
        "statuses_url": f"{api}/statuses/{head['sha']}",
        "number": pull.number,
        "state": state,
        "locked": False,
        "title": pull.title,
        "user": _user(request, pull.author),
        "body": f"Closes #{pull.number * 7 % 400}.",
        "labels": [_label(request, repo, name) for name in pull.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(pull.created_at),
        "updated_at": iso(pull.updated_at),
        "closed_at": iso(pull.closed_at) if pull.closed_at else None,
        "merged_at": iso(pull.merged_at) if pull.merged_at else None,
        "merge_commit_sha": merge_sha(pull) if pull.merged_at else None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [
            r.payload(request.api) for r in pull.requested if isinstance(r, Account)
        ],
        "requested_teams": [_team(request, r) for r in pull.requested if isinstance(r, Team)],
        "head": head,
        "base": _ref(request, pull, pull.base_ref),
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "issue": {"href": f"{api}/issues/{pull.number}"},
            "comments": {"href": f"{api}/issues/{pull.number}/comments"},
            "review_comments": {"href": f"{url}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{url}/commits"},
            "statuses": {"href": f"{api}/statuses/{head['sha']}"},
        },
        "author_association": "MEMBER",
        "auto_merge": None,
        "draft": pull.draft,
    }


def review_payload(request: Request, pull: PullRequest, review: Review) -> dict[str, Any]:
    """An item of GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews."""
    pull_url = f"{request.api}/repos/{pull.repo.full_name}/pulls/{pull.number}"
    html = f"{pull.url}#pullrequestreview-{review.id}"
    payload: dict[str, Any] = {
        "id": review.id,
        "node_id": review.node_id,
        "user": _user(request, review.author),
        "body": review.body,
        "state": review.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "commit_id": review.commit_oid,
        "author_association": "MEMBER",
    }
    if review.state != "PENDING":
        payload["submitted_at"] = iso(review.submitted_at)
    return payload


def _long_running(request: Request, pull: PullRequest) -> bool:
    now = request.world.now()
    return (
        pull.state == "OPEN"
        and pull.created_at < now - timedelta(days=30)
        and pull.updated_at >= now - timedelta(days=30)
    )


_SORT_KEYS = {
    "created": lambda p: (p.created_at, p.id),
    "updated": lambda p: (p.updated_at, p.id),
    "popularity": lambda p: (p.comments, p.id),
    "long-running": lambda p: (p.created_at, p.id),
}


def list_pulls(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    state = _choice(request, "state", ("open", "closed", "all"), "open")
    sort = _choice(request, "sort", ("created", "updated", "popularity", "long-running"), "created")
    direction = _choice(
        request, "direction", ("asc", "desc"), "desc" if sort == "created" else "asc"
    )
    pulls = list(pulls_of(request.world).by_repo.get(repo.id, []))
    if state != "all":
        pulls = [p for p in pulls if (p.state == "OPEN") == (state == "open")]
    if "base" in request.query:
        pulls = [p for p in pulls if p.base_ref == request.query["base"]]
    if "head" in request.query:
        owner, _, branch = request.query["head"].partition(":")
        pulls = [
            p
            for p in pulls
            if p.repo.owner.login.lower() == owner.lower() and (not branch or p.head_ref == branch)
        ]
    if sort == "long-running":
        pulls = [p for p in pulls if _long_running(request, p)]
    pulls.sort(key=_SORT_KEYS[sort], reverse=direction == "desc")
    return Listing([pull_payload(request, p) for p in pulls])


def list_reviews(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    number = int(request.params["number"])
    for pull in pulls_of(request.world).by_repo.get(repo.id, []):
        if pull.number == number:
            viewer = request.caller.token.login if request.caller.token else None
            seen = [r for r in pull.reviews if r.state != "PENDING" or r.author.login == viewer]
            return Listing([review_payload(request, pull, r) for r in seen])
    raise HTTPError(404, "Not Found")


ROUTES = [
    (f"/repos/{OWNER}/{NAME}/pulls", list_pulls),
    (f"/repos/{OWNER}/{NAME}/pulls/{NUMBER}/reviews", list_reviews),
]


def register() -> None:
    """Add the routes to the simulator's router (once)."""
    known = {(method, pattern.pattern) for method, pattern, _, _ in ROUTER.routes}
    for path, handler in ROUTES:
        if ("GET", f"^{path}$") not in known:
            ROUTER.get(path)(handler)
