"""Ground truth for end-to-end tests: what each stream should hold for a world, and the
mutations that make new and updated objects of every kind.

EXPECTED[stream](world) maps each primary-key tuple to the record fields that matter;
MUTATIONS[family](world, rng) changes the world as a day of activity would.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from github_simulator import (
    actions,
    commits,
    deployments,
    issues,
    pulls,
    releases,
    statistics,
    traffic,
)
from github_simulator.world import World, iso

EXPECTED: dict[str, Callable[..., dict[tuple[Any, ...], dict[str, Any]]]] = {}
MUTATIONS: dict[str, Callable[[World, random.Random], None]] = {}

# The end-to-end tests' selection: alice's token, repositories ["acme/*"], forks left out.
SELECTED_OWNER = "acme"
SELECTED_TOKEN = "ghp_alice"


def expected_repositories(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id,) -> the repository fields a user filters and joins on."""
    token = world.tokens[SELECTED_TOKEN]
    return {
        (repo.id,): {
            "full_name": repo.full_name,
            "name": repo.name,
            "owner_login": repo.owner.login,
            "description": repo.description,
            "private": repo.private,
            "fork": repo.fork,
            "archived": repo.archived,
            "default_branch": repo.default_branch,
            "language": repo.language,
            "topics": list(repo.topics),
            "stargazers_count": repo.stargazers,
            "forks_count": repo.forks,
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.updated_at),
            "pushed_at": iso(repo.pushed_at),
        }
        for repo in world.repos.values()
        if repo.owner.login == SELECTED_OWNER
        and not repo.fork
        and world.visible_to_token(token, repo)
    }


def mutate_repositories(world: World, rng: random.Random) -> None:
    """One repository gets a new description and stars; a new repository is created."""
    with world.lock:
        repo = rng.choice(sorted(world.repos.values(), key=lambda r: r.id))
        repo.description = f"{repo.description or repo.name}, revised"
        repo.stargazers += rng.randint(1, 20)
        repo.updated_at = world.now()
        world.add_repo(
            f"{SELECTED_OWNER}/service-{world.new_id()}",
            description="A new service",
            topics=["backend"],
            created_at=world.now(),
            updated_at=world.now(),
            pushed_at=world.now(),
        )


EXPECTED["repositories"] = expected_repositories
MUTATIONS["repositories"] = mutate_repositories

EXPECTED["traffic_views"] = traffic.expected_traffic_views
EXPECTED["traffic_clones"] = traffic.expected_traffic_clones
EXPECTED["traffic_referrers"] = traffic.expected_traffic_referrers
EXPECTED["traffic_paths"] = traffic.expected_traffic_paths
MUTATIONS["traffic"] = traffic.mutate_traffic
EXPECTED["contributor_stats"] = statistics.expected_contributor_stats
MUTATIONS["statistics"] = statistics.mutate_statistics
EXPECTED["pull_requests"] = pulls.expected_pull_requests
EXPECTED["pull_request_reviews"] = pulls.expected_pull_request_reviews
MUTATIONS["pulls"] = pulls.mutate_pulls
EXPECTED["releases"] = releases.expected_releases
MUTATIONS["releases"] = releases.mutate_releases
EXPECTED["workflow_runs"] = actions.expected_workflow_runs
EXPECTED["workflow_jobs"] = actions.expected_workflow_jobs
# Without workflow_runs_earlier_attempts (the default) a run's attempt is a row once a sync saw
# it as the latest: these streams' truth is that of the attempts seen (EXPECTED[name](world,
# seen), seen: actions.latest_attempts(world) at each sync, accumulated).
SEEN_ATTEMPTS_STREAMS = frozenset({"workflow_runs", "workflow_jobs"})
MUTATIONS["actions"] = actions.mutate_actions
EXPECTED["commits"] = commits.expected_commits
EXPECTED["commit_branches"] = commits.expected_commit_branches
MUTATIONS["commits"] = commits.mutate_commits
EXPECTED["issues"] = issues.expected_issues
EXPECTED["issue_comments"] = issues.expected_issue_comments
MUTATIONS["issues"] = issues.mutate_issues
EXPECTED["deployments"] = deployments.expected_deployments
EXPECTED["deployment_statuses"] = deployments.expected_deployment_statuses
MUTATIONS["deployments"] = deployments.mutate_deployments


# -- completeness of an incremental sync --------------------------------------------------------


def changed_rows(
    before: dict[tuple[Any, ...], dict[str, Any]], after: dict[tuple[Any, ...], dict[str, Any]]
) -> set[tuple[Any, ...]]:
    """The keys of the rows a mutation added or changed (as truth tables of a stream)."""
    return {key for key, row in after.items() if before.get(key) != row}


def caught_rows(
    emitted: dict[tuple[Any, ...], dict[str, Any]],
    after: dict[tuple[Any, ...], dict[str, Any]],
    changed: set[tuple[Any, ...]],
) -> set[tuple[Any, ...]]:
    """The changed rows an incremental sync emitted with their new values (`emitted`: its rows
    by key, restricted to the fields the truth knows)."""
    return {key for key in changed if key in emitted and emitted[key] == after[key]}
