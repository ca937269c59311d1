"""Deployments and their statuses: seeded data, REST and GraphQL, ground truth and mutations.

What GitHub does and the simulator copies:
- GET /repos/{owner}/{repo}/deployments: newest first, filters sha/ref/task/environment only (no
  `since`, no sort); GET .../deployments/{id}/statuses: newest first, one request per deployment.
- GraphQL `repository.deployments(environments:, orderBy: {field: CREATED_AT})`, ascending by
  default, with `statuses` (newest first) and `latestStatus` nested; deployments are nodes (DE_).
- Statuses progress (queued -> in_progress -> success or failure). When a deployment succeeds,
  GitHub adds an `inactive` status to the earlier successful non-transient deployments of the
  same environment (auto_inactive); adding any status moves the deployment's `updated_at`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from github_simulator.commits import git
from github_simulator.graphql_api import NODE_RESOLVERS, REPOSITORY_FIELDS, connection
from github_simulator.issues_api import Lazy
from github_simulator.pulls import USERS, _actor
from github_simulator.rest_core import NAME, OWNER, can_see, visible_repo
from github_simulator.server import ROUTER, HTTPError, Listing, Request
from github_simulator.world import FAMILIES, Account, Repo, World, iso

__all__ = [
    "Deployment",
    "DeploymentStatus",
    "add_status",
    "deployments_of",
    "expected_deployment_statuses",
    "expected_deployments",
    "mutate_deployments",
]

ENVIRONMENTS = [("production", True, False), ("staging", False, False), ("preview", False, True)]
# States after which GitHub itself adds no status (a client still may).
FINISHED = frozenset({"failure", "error", "inactive"})


@dataclass
class DeploymentStatus:
    id: int
    state: str  # pending, queued, in_progress, success, failure, error, inactive
    creator: Account
    description: str
    environment: str
    created_at: datetime
    log_url: str
    environment_url: str

    @property
    def node_id(self) -> str:
        return f"DES_{self.id}"


@dataclass
class Deployment:
    id: int
    repo: Repo
    sha: str
    ref: str
    task: str
    environment: str
    production: bool
    transient: bool
    description: str | None
    creator: Account
    created_at: datetime
    updated_at: datetime
    statuses: list[DeploymentStatus] = field(default_factory=list)  # oldest first

    @property
    def node_id(self) -> str:
        return f"DE_{self.id}"

    @property
    def latest(self) -> DeploymentStatus | None:
        return self.statuses[-1] if self.statuses else None


@dataclass
class DeploymentStore:
    by_repo: dict[int, list[Deployment]] = field(default_factory=dict)  # creation order
    by_node_id: dict[str, Deployment] = field(default_factory=dict)


def deployments_of(world: World, repo: Repo) -> list[Deployment]:
    return world.family("deployments", DeploymentStore).by_repo.setdefault(repo.id, [])


# -- building and changing the world -----------------------------------------------------------


def add_status(world: World, deployment: Deployment, state: str, when: datetime) -> None:
    """A new status; success inactivates the environment's earlier successful deployments."""
    base = f"https://deploy.example.test/{deployment.repo.name}/{deployment.id}"
    deployment.statuses.append(
        DeploymentStatus(
            id=world.new_id(),
            state=state,
            creator=deployment.creator,
            description=f"Deployment {state.replace('_', ' ')}",
            environment=deployment.environment,
            created_at=when,
            log_url=f"{base}/log",
            environment_url=f"https://{deployment.environment}.example.test",
        )
    )
    deployment.updated_at = when
    if state != "success" or deployment.transient:
        return
    for earlier in deployments_of(world, deployment.repo):
        latest = earlier.latest
        if (
            earlier is not deployment
            and earlier.environment == deployment.environment
            and earlier.created_at <= deployment.created_at
            and latest is not None
            and latest.state == "success"
        ):
            add_status(world, earlier, "inactive", when)


def deployed_commit(world: World, repo: Repo, when: datetime) -> str | None:
    """The default branch's commit a deployment made at `when` ships: the newest commit of the
    branch's own line committed by then (None without history)."""
    data = git(world, repo)
    head = data.branches.get(repo.default_branch)
    for commit in data.first_parents(head) if head else []:
        if commit.committed <= when:
            return commit.oid
    return None


def add_deployment(
    world: World, rng: random.Random, repo: Repo, created: datetime, environment: int
) -> Deployment:
    name, production, transient = ENVIRONMENTS[environment]
    unknown_sha = f"{rng.getrandbits(160):040x}"
    deployment = Deployment(
        id=world.new_id(),
        repo=repo,
        sha=deployed_commit(world, repo, created) or unknown_sha,
        ref=rng.choice([repo.default_branch, "v1.2.0", f"topic-{rng.randint(1, 40)}"]),
        task="deploy",
        environment=name,
        production=production,
        transient=transient,
        description=rng.choice([None, "Deploy request from CI", "Deploy\x00 hotfix"]),
        creator=world.account(rng.choice(USERS)),
        created_at=created,
        updated_at=created,
    )
    deployments_of(world, repo).append(deployment)
    world.family("deployments", DeploymentStore).by_node_id[deployment.node_id] = deployment
    return deployment


def seed(world: World, rng: random.Random) -> None:
    """`deployments_per_repo` deployments per repository (default 12), two days apart, over
    production, staging and preview, each of the default branch's commit of its time; each went
    queued -> in_progress -> success/failure (a few still run)."""
    count = world.scale.get("deployments_per_repo", 12)
    now = world.now()
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        for index in range(count):
            created = now - timedelta(days=2 * (count - index), minutes=rng.randint(0, 300))
            deployment = add_deployment(world, rng, repo, created, rng.randrange(3))
            add_status(world, deployment, "queued", created)
            started = created + timedelta(seconds=rng.randint(5, 120))
            add_status(world, deployment, "in_progress", started)
            if index >= count - 2 and rng.random() < 0.5:
                continue  # still running
            outcome = "failure" if rng.random() < 0.2 else "success"
            add_status(world, deployment, outcome, started + timedelta(minutes=rng.randint(1, 30)))


FAMILIES["deployments"] = seed


def mutate_deployments(world: World, rng: random.Random) -> None:
    """In every repository: running deployments finish (success inactivates older ones), a new
    production deployment succeeds, a new staging one is left queued."""
    with world.lock:
        now = world.now()
        for repo in sorted(world.repos.values(), key=lambda r: r.id):
            for deployment in list(deployments_of(world, repo)):
                latest = deployment.latest
                if latest is not None and latest.state in ("queued", "in_progress"):
                    if latest.state == "queued":
                        add_status(world, deployment, "in_progress", now)
                    add_status(world, deployment, rng.choice(["success", "failure"]), now)
            new = add_deployment(world, rng, repo, now, 0)
            add_status(world, new, "queued", now)
            add_status(world, new, "in_progress", now)
            add_status(world, new, "success", now)
            queued = add_deployment(world, rng, repo, now, 1)
            add_status(world, queued, "queued", now)


# -- REST --------------------------------------------------------------------------------------


def deployment_payload(request: Request, deployment: Deployment) -> dict[str, Any]:
    base = f"{request.api}/repos/{deployment.repo.full_name}"
    return {
        "url": f"{base}/deployments/{deployment.id}",
        "id": deployment.id,
        "node_id": deployment.node_id,
        "sha": deployment.sha,
        "ref": deployment.ref,
        "task": deployment.task,
        "payload": {},
        "original_environment": deployment.environment,
        "environment": deployment.environment,
        "description": deployment.description,
        "creator": deployment.creator.payload(request.api),
        "created_at": iso(deployment.created_at),
        "updated_at": iso(deployment.updated_at),
        "statuses_url": f"{base}/deployments/{deployment.id}/statuses",
        "repository_url": base,
        "transient_environment": deployment.transient,
        "production_environment": deployment.production,
    }


def status_payload(
    request: Request, deployment: Deployment, status: DeploymentStatus
) -> dict[str, Any]:
    base = f"{request.api}/repos/{deployment.repo.full_name}"
    return {
        "url": f"{base}/deployments/{deployment.id}/statuses/{status.id}",
        "id": status.id,
        "node_id": status.node_id,
        "state": status.state,
        "creator": status.creator.payload(request.api),
        "description": status.description,
        "environment": status.environment,
        "target_url": status.log_url,
        "created_at": iso(status.created_at),
        "updated_at": iso(status.created_at),
        "deployment_url": f"{base}/deployments/{deployment.id}",
        "repository_url": base,
        "environment_url": status.environment_url,
        "log_url": status.log_url,
    }


@ROUTER.get(f"/repos/{OWNER}/{NAME}/deployments")
def list_deployments(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    chosen = [
        d
        for d in deployments_of(request.world, repo)
        if all(
            request.query.get(name) in (None, getattr(d, name))
            for name in ("sha", "ref", "task", "environment")
        )
    ]
    chosen.sort(key=lambda d: (d.created_at, d.id), reverse=True)
    return Listing(Lazy(chosen, lambda d: deployment_payload(request, d)))  # type: ignore[arg-type]


@ROUTER.get(f"/repos/{OWNER}/{NAME}/deployments/(?P<deployment_id>\\d+)/statuses")
def list_deployment_statuses(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    wanted = int(request.params["deployment_id"])
    for deployment in deployments_of(request.world, repo):
        if deployment.id == wanted:
            newest_first = list(reversed(deployment.statuses))
            return Listing([status_payload(request, deployment, s) for s in newest_first])
    raise HTTPError(404, "Not Found")


# -- GraphQL -----------------------------------------------------------------------------------

_STATE = {"success": "ACTIVE"}


def _status_node(status: DeploymentStatus, deployment: Deployment) -> dict[str, Any]:
    return {
        "__typename": "DeploymentStatus",
        "id": status.node_id,
        "state": status.state.upper(),
        "description": status.description,
        "environment": status.environment,
        "environmentUrl": status.environment_url,
        "logUrl": status.log_url,
        "createdAt": iso(status.created_at),
        "updatedAt": iso(status.created_at),
        "creator": _actor(status.creator),
        "deployment": lambda info, **args: _deployment_node(deployment),
    }


def _deployment_node(deployment: Deployment) -> dict[str, Any]:
    latest = deployment.latest
    newest_first = list(reversed(deployment.statuses))
    return {
        "__typename": "Deployment",
        "id": deployment.node_id,
        "databaseId": deployment.id,
        "commitOid": deployment.sha,
        "createdAt": iso(deployment.created_at),
        "updatedAt": iso(deployment.updated_at),
        "creator": _actor(deployment.creator),
        "description": deployment.description,
        "environment": deployment.environment,
        "latestEnvironment": deployment.environment,
        "originalEnvironment": deployment.environment,
        "payload": "{}",
        "task": deployment.task,
        "ref": {
            "__typename": "Ref",
            "id": f"REF_{deployment.repo.id}_{deployment.ref}",
            "name": deployment.ref,
            "prefix": "refs/tags/" if deployment.ref.startswith("v") else "refs/heads/",
        },
        "state": "PENDING" if latest is None else _STATE.get(latest.state, latest.state.upper()),
        "latestStatus": None if latest is None else _status_node(latest, deployment),
        "statuses": lambda info, **args: connection(
            newest_first, node=lambda s: _status_node(s, deployment), **args
        ),
    }


def _deployments(request: Request, repo: Repo) -> Any:
    def resolve(
        info: Any,
        environments: list[str] | None = None,
        orderBy: dict[str, str] | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        chosen = [
            d
            for d in deployments_of(request.world, repo)
            if environments is None or d.environment in environments
        ]
        descending = (orderBy or {}).get("direction") == "DESC"
        chosen.sort(key=lambda d: (d.created_at, d.id), reverse=descending)
        return connection(chosen, node=_deployment_node, **args)

    return resolve


def _node(request: Request, node_id: str) -> dict[str, Any] | None:
    deployment = request.world.family("deployments", DeploymentStore).by_node_id.get(node_id)
    if deployment is None or all(
        d is not deployment for d in deployments_of(request.world, deployment.repo)
    ):
        return None  # never created, or deleted
    return _deployment_node(deployment) if can_see(request, deployment.repo) else None


REPOSITORY_FIELDS["deployments"] = _deployments
NODE_RESOLVERS["DE_"] = _node


# -- ground truth ------------------------------------------------------------------------------


def _selected(world: World) -> list[Deployment]:
    from github_simulator.issues import selected_repos  # noqa: PLC0415 -- one selection rule

    return [d for repo in selected_repos(world) for d in deployments_of(world, repo)]


def expected_deployments(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id,) -> each deployment with its latest status, as the tap emits it."""
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for d in _selected(world):
        latest = d.latest
        expected[(d.id,)] = {
            "repo_id": d.repo.id,
            "environment": d.environment,
            "sha": d.sha,
            "ref": d.ref,
            "task": d.task,
            "creator_login": d.creator.login,
            "description": None if d.description is None else d.description.replace("\x00", ""),
            "created_at": iso(d.created_at),
            "updated_at": iso(d.updated_at),
            "latest_status_state": latest.state if latest else None,
            "latest_status_at": iso(latest.created_at) if latest else None,
        }
    return expected


def expected_deployment_statuses(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(node id,) -> each status of each deployment (GraphQL gives statuses no database id)."""
    return {
        (s.node_id,): {
            "repo_id": d.repo.id,
            "deployment_id": d.id,
            "state": s.state,
            "environment": s.environment,
            "creator_login": s.creator.login,
            "created_at": iso(s.created_at),
            "log_url": s.log_url,
            "environment_url": s.environment_url,
        }
        for d in _selected(world)
        for s in d.statuses
    }
