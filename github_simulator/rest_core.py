"""Accounts, repositories, rate limit and GitHub App endpoints."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

from github_simulator.server import ROUTER, HTTPError, Listing, Reply, Request
from github_simulator.world import Repo, iso

OWNER = r"(?P<owner>[^/]+)"
NAME = r"(?P<repo>[^/]+)"


def repo_payload(repo: Repo, api: str, *, full: bool = True) -> dict[str, Any]:
    """GitHub's repository object (full-repository for /repos/{o}/{r}, else minimal)."""
    base = f"{api}/repos/{repo.full_name}"
    urls = {
        "archive_url": f"{base}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{base}/assignees{{/user}}",
        "blobs_url": f"{base}/git/blobs{{/sha}}",
        "branches_url": f"{base}/branches{{/branch}}",
        "collaborators_url": f"{base}/collaborators{{/collaborator}}",
        "comments_url": f"{base}/comments{{/number}}",
        "commits_url": f"{base}/commits{{/sha}}",
        "compare_url": f"{base}/compare/{{base}}...{{head}}",
        "contents_url": f"{base}/contents/{{+path}}",
        "contributors_url": f"{base}/contributors",
        "deployments_url": f"{base}/deployments",
        "downloads_url": f"{base}/downloads",
        "events_url": f"{base}/events",
        "forks_url": f"{base}/forks",
        "git_commits_url": f"{base}/git/commits{{/sha}}",
        "git_refs_url": f"{base}/git/refs{{/sha}}",
        "git_tags_url": f"{base}/git/tags{{/sha}}",
        "git_url": f"git://github.test/{repo.full_name}.git",
        "issue_comment_url": f"{base}/issues/comments{{/number}}",
        "issue_events_url": f"{base}/issues/events{{/number}}",
        "issues_url": f"{base}/issues{{/number}}",
        "keys_url": f"{base}/keys{{/key_id}}",
        "labels_url": f"{base}/labels{{/name}}",
        "languages_url": f"{base}/languages",
        "merges_url": f"{base}/merges",
        "milestones_url": f"{base}/milestones{{/number}}",
        "notifications_url": f"{base}/notifications{{?since,all,participating}}",
        "pulls_url": f"{base}/pulls{{/number}}",
        "releases_url": f"{base}/releases{{/id}}",
        "ssh_url": f"git@github.test:{repo.full_name}.git",
        "stargazers_url": f"{base}/stargazers",
        "statuses_url": f"{base}/statuses/{{sha}}",
        "subscribers_url": f"{base}/subscribers",
        "subscription_url": f"{base}/subscription",
        "tags_url": f"{base}/tags",
        "teams_url": f"{base}/teams",
        "trees_url": f"{base}/git/trees{{/sha}}",
        "clone_url": f"https://github.test/{repo.full_name}.git",
        "mirror_url": None,
        "hooks_url": f"{base}/hooks",
        "svn_url": f"https://github.test/{repo.full_name}",
    }
    payload: dict[str, Any] = {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": repo.owner.payload(api),
        "private": repo.private,
        "html_url": f"https://github.test/{repo.full_name}",
        "description": repo.description,
        "fork": repo.fork,
        "url": base,
        **urls,
        "homepage": None,
        "language": repo.language,
        "forks_count": repo.forks,
        "stargazers_count": repo.stargazers,
        "watchers_count": repo.stargazers,
        "size": repo.size,
        "default_branch": repo.default_branch,
        "open_issues_count": repo.open_issues,
        "is_template": False,
        "topics": list(repo.topics),
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": repo.archived,
        "disabled": repo.disabled,
        "visibility": "private" if repo.private else "public",
        "pushed_at": iso(repo.pushed_at),
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": True,
            "triage": True,
            "pull": True,
        },
        "license": None
        if repo.license_key is None
        else {
            "key": repo.license_key,
            "name": repo.license_key.upper() + " License",
            "spdx_id": repo.license_key.upper(),
            "url": f"{api}/licenses/{repo.license_key}",
            "node_id": f"L_{repo.license_key}",
        },
        "forks": repo.forks,
        "open_issues": repo.open_issues,
        "watchers": repo.stargazers,
        "allow_forking": True,
        "web_commit_signoff_required": False,
    }
    if full:
        payload.update(
            {
                "network_count": repo.forks,
                "subscribers_count": repo.stargazers // 10,
                "temp_clone_token": None,
                "allow_squash_merge": True,
                "allow_merge_commit": True,
                "allow_rebase_merge": True,
                "allow_auto_merge": False,
                "delete_branch_on_merge": False,
                "organization": repo.owner.payload(api)
                if repo.owner.type == "Organization"
                else None,
            }
        )
    return payload


def visible_repo(request: Request, owner: str, name: str) -> Repo:
    """The repository, if this caller may see it; GitHub answers 404 otherwise."""
    repo = request.world.repo(owner, name)
    if repo is None or not can_see(request, repo):
        raise HTTPError(404, "Not Found")
    return repo


def can_see(request: Request, repo: Repo) -> bool:
    caller = request.caller
    if caller.installation is not None:
        return repo in request.world.installation_repos(caller.installation)
    assert caller.token is not None
    return request.world.visible_to_token(caller.token, repo)


def can_push(request: Request, repo: Repo) -> bool:
    """Traffic and some statistics need push access."""
    if not can_see(request, repo):
        return False
    if repo.pushers is None:
        return True
    login = request.caller.token.login if request.caller.token else None
    return login in repo.pushers


def _owned(request: Request, owner: str) -> list[Repo]:
    return sorted(
        (
            r
            for r in request.world.repos.values()
            if r.owner.login.lower() == owner.lower() and can_see(request, r)
        ),
        key=lambda r: r.full_name.lower(),
    )


SORT_KEYS = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at"}


def _choice(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise HTTPError(422, f"Invalid value for parameter '{name}': {value!r}")
    return value


def _sorted(request: Request, repos: list[Repo], default: str) -> list[Repo]:
    """GitHub's sort/direction parameters: full_name ascending, dates descending by default."""
    sort = _choice(request, "sort", ("created", "updated", "pushed", "full_name"), default)
    direction = _choice(
        request, "direction", ("asc", "desc"), "asc" if sort == "full_name" else "desc"
    )
    if sort == "full_name":
        ordered = sorted(repos, key=lambda r: r.full_name.lower())
    else:
        ordered = sorted(repos, key=lambda r: (getattr(r, SORT_KEYS[sort]), r.id))
    return ordered if direction == "asc" else ordered[::-1]


@ROUTER.get("/user")
def user(request: Request) -> Any:
    if request.caller.token is None:
        raise HTTPError(403, "Resource not accessible by integration")
    return request.world.account(request.caller.token.login).payload(request.api)


@ROUTER.get("/rate_limit")
def rate_limit(request: Request) -> Any:
    # GitHub does not count this endpoint; the real figures ride on every response's headers.
    resources = {
        name: {"limit": 5000, "used": 0, "remaining": 5000, "reset": 0}
        for name in ("core", "graphql", "search")
    }
    return Reply({"resources": resources, "rate": resources["core"]}, headers={"x-sim-points": "0"})


@ROUTER.get("/user/repos")
def user_repos(request: Request) -> Any:
    caller = request.caller
    if caller.token is None:
        raise HTTPError(403, "Resource not accessible by integration")
    query = request.query
    if "type" in query and ("visibility" in query or "affiliation" in query):
        raise HTTPError(422, "If you specify visibility or affiliation, you cannot specify type.")
    login = caller.token.login.lower()
    kind = _choice(request, "type", ("all", "owner", "public", "private", "member"), "all")
    visibility = _choice(request, "visibility", ("all", "public", "private"), "all")
    affiliation = set(query.get("affiliation", "owner,collaborator,organization_member").split(","))
    if kind == "owner":
        affiliation = {"owner"}
    elif kind == "member":
        affiliation = {"organization_member", "collaborator"}
    elif kind in ("public", "private"):
        visibility = kind
    # Collaborators are not modelled: a token sees its own and its organizations' repositories.
    repos = [
        r
        for r in request.world.repos.values()
        if ("owner" in affiliation and r.owner.login.lower() == login)
        or ("organization_member" in affiliation and r.owner.login in caller.token.orgs)
    ]
    if visibility != "all":
        repos = [r for r in repos if r.private == (visibility == "private")]
    return Listing(
        [repo_payload(r, request.api, full=False) for r in _sorted(request, repos, "full_name")]
    )


@ROUTER.get(f"/orgs/{OWNER}/repos")
def org_repos(request: Request) -> Any:
    account = request.world.accounts.get(request.params["owner"].lower())
    if account is None or account.type != "Organization":
        raise HTTPError(404, "Not Found")
    kind = _choice(
        request, "type", ("all", "public", "private", "forks", "sources", "member"), "all"
    )
    repos = _owned(request, account.login)
    if kind in ("public", "private"):
        repos = [r for r in repos if r.private == (kind == "private")]
    elif kind in ("forks", "sources"):
        repos = [r for r in repos if r.fork == (kind == "forks")]
    return Listing(
        [repo_payload(r, request.api, full=False) for r in _sorted(request, repos, "created")]
    )


@ROUTER.get(f"/users/{OWNER}/repos")
def user_owned_repos(request: Request) -> Any:
    account = request.world.accounts.get(request.params["owner"].lower())
    if account is None:
        raise HTTPError(404, "Not Found")
    kind = _choice(request, "type", ("all", "owner", "member"), "owner")
    # Membership in other users' repositories is not modelled: "member" lists nothing.
    repos = [] if kind == "member" else _owned(request, account.login)
    return Listing(
        [repo_payload(r, request.api, full=False) for r in _sorted(request, repos, "full_name")]
    )


@ROUTER.get(f"/repos/{OWNER}/{NAME}")
def repository(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    return repo_payload(repo, request.api)


# -- GitHub Apps ----------------------------------------------------------------------------


def _installation_payload(request: Request, installation_id: int) -> dict[str, Any]:
    app = request.caller.app
    assert app is not None
    installation = app.installations[installation_id]
    return {
        "id": installation.id,
        "account": installation.account.payload(request.api),
        "app_id": int(app.app_id),
        "target_type": installation.account.type,
        "repository_selection": "all" if installation.repo_ids is None else "selected",
        "access_tokens_url": f"{request.api}/app/installations/{installation.id}/access_tokens",
        "permissions": {"metadata": "read", "contents": "read"},
        "events": [],
    }


@ROUTER.get("/app/installations", auth="jwt")
def app_installations(request: Request) -> Any:
    app = request.caller.app
    assert app is not None
    return Listing([_installation_payload(request, i) for i in sorted(app.installations)])


def _installation_for(request: Request, owner: str) -> Any:
    app = request.caller.app
    assert app is not None
    for installation in app.installations.values():
        if installation.account.login.lower() == owner.lower():
            return _installation_payload(request, installation.id)
    raise HTTPError(404, "Not Found")


@ROUTER.get(f"/orgs/{OWNER}/installation", auth="jwt")
def org_installation(request: Request) -> Any:
    account = request.world.accounts.get(request.params["owner"].lower())
    if account is None or account.type != "Organization":
        raise HTTPError(404, "Not Found")
    return _installation_for(request, account.login)


@ROUTER.get(f"/users/{OWNER}/installation", auth="jwt")
def user_installation(request: Request) -> Any:
    account = request.world.accounts.get(request.params["owner"].lower())
    if account is None or account.type != "User":
        raise HTTPError(404, "Not Found")
    return _installation_for(request, account.login)


@ROUTER.post(r"/app/installations/(?P<installation>\d+)/access_tokens", auth="jwt")
def access_token(request: Request) -> Any:
    app = request.caller.app
    assert app is not None
    installation = app.installations.get(int(request.params["installation"]))
    if installation is None:
        raise HTTPError(404, "Not Found")
    token = "ghs_" + secrets.token_hex(16)
    expires = request.world.clock.now() + installation.token_lifetime
    request.world.installation_tokens[token] = (installation.id, expires)
    return Reply(
        {
            "token": token,
            "expires_at": iso(datetime.fromtimestamp(expires, tz=timezone.utc)),
            "permissions": {"metadata": "read"},
            "repository_selection": "all",
        },
        status=201,
    )


@ROUTER.get("/installation/repositories")
def installation_repositories(request: Request) -> Any:
    installation = request.caller.installation
    if installation is None:
        raise HTTPError(403, "This endpoint requires an installation access token")
    return Listing(
        [
            repo_payload(r, request.api, full=False)
            for r in request.world.installation_repos(installation)
        ],
        wrap="repositories",
    )
