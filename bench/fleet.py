"""The fleet scale: one organization of 1,000 repositories read through one GitHub App
installation, most of them quiet.

Seeded like the other scales (every repository with the same data), then shaped: about 15% of
the repositories stay active (25 pull requests, 12 workflow runs, 40 commits each), the others
keep 0-2 pull requests and 0-2 runs (and their 40 commits: the simulator's commit history
cannot be cut, and a first sync reads it whole whatever the repository's activity); 2% are
archived (read by default) and 3% forks (left out by default). Empty repositories (no default
branch) are not modelled. The installation's budget is GitHub's for an organization of this
size: 15,000 points an hour (REST, and here GraphQL too).

The hourly change (`mutate`): 5% of the repositories (50) each get an edited pull request, a
commit pushed to the default branch (its author's statistics of the week grow with it, as
GitHub's would) and a completed workflow run, a few minutes old.
"""

from __future__ import annotations

import random
from datetime import timedelta

from github_simulator import actions, commits, pulls, statistics
from github_simulator.server import Caller, RateLimiter
from github_simulator.world import World

__all__ = ["INSTALLATION_LIMIT", "InstallationLimiter", "change_five_percent", "shape"]

INSTALLATION_LIMIT = 15_000
ACTIVE = 0.15
ARCHIVED = 0.02
FORKS = 0.03
CHANGED = 0.05


class InstallationLimiter(RateLimiter):
    """The simulator's primary limits, with the installation's hourly budget."""

    def limit_for(self, caller: Caller, resource: str) -> int:
        if caller.installation is not None:
            return INSTALLATION_LIMIT
        return super().limit_for(caller, resource)


def shape(world: World) -> None:
    """Most repositories quiet, a few archived or forks (see the module)."""
    rng = random.Random("fleet")  # noqa: S311 -- reproducible data
    with world.lock:
        for repo in sorted(world.repos.values(), key=lambda r: r.id):
            draw = rng.random()
            if draw < ARCHIVED:
                repo.archived = True
            elif draw < ARCHIVED + FORKS:
                repo.fork = True
            if rng.random() < ACTIVE:
                continue
            keep = rng.randint(0, 2)
            pulls.pulls_of(world).by_repo[repo.id][keep:] = []
            runs = actions.runs_of(world, repo)
            runs[: len(runs) - rng.randint(0, 2)] = []


def change_five_percent(world: World, rng: random.Random) -> None:
    """An hour of changes: 5% of the repositories each with an edited pull request (if it has
    one), a pushed commit and a completed run."""
    with world.lock:
        candidates = sorted(
            (r for r in world.repos.values() if not r.archived and not r.fork),
            key=lambda r: r.id,
        )
        now = world.now()
        for repo in rng.sample(candidates, round(len(world.repos) * CHANGED)):
            repo_pulls = pulls.pulls_of(world).by_repo.get(repo.id) or []
            if repo_pulls:
                pull = rng.choice(repo_pulls)
                pull.title += " (edited)"
                pull.updated_at = now - timedelta(minutes=1)
            pushed = commits.git(world, repo).advance(
                repo.default_branch, now - timedelta(minutes=2), message="An hour's change"
            )
            author = pushed.author.login
            assert author is not None  # the simulator's default author has an account
            week = statistics.current_week(world)
            change = (pushed.additions, pushed.deletions, 1)
            statistics.add_activity(world, repo.id, author, week, change)
            actions.add_run(world, repo, rng, now - timedelta(minutes=5), "success")
