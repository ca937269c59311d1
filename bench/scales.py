"""The benchmark's worlds: each scale is a `world.scale` dict for github_simulator.seeded_world.

Keys, read by the simulator's families (defaults in brackets):
- repos (world.py) [3]: repositories of the organization acme (alice sees all of them).
- pulls_per_repo [12], pulls_with_many_reviews [0] (pulls.py): pull requests per repository,
  about 2.5 submitted reviews each; the first N of a repository get 51, 150, 175 reviews
  (more than one nested page).
- releases_per_repo [5] (releases.py), with 0-3 assets each.
- runs_per_repo [10] (actions.py): workflow runs, ~1.2 attempts and ~2.45 jobs per run.
- commits_per_repo [30] (commits.py): commits on the default branch.
- Traffic (14 days) and contributor statistics have no size key: one repository's worth each.

medium matches issue 6: 12 repositories, 2,196 pull requests with 5,474 submitted reviews,
3,504 commits on default branches, 1,104 workflow runs (1,351 attempts, 2,696 jobs),
60 releases, traffic and statistics.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from bench import fleet
from github_simulator.world import World

__all__ = ["SCALES", "Scale"]


class Scale(dict[str, Any]):
    """A world.scale dict with the benchmark's own options (not seen by the simulator)."""

    def __init__(
        self,
        world: dict[str, int],
        *,
        token_limit: int = 5000,
        window_seconds: int = 3600,
        note: str = "",
        app: bool = False,
        shape: Callable[[World], None] | None = None,
        mutation: Callable[[World, random.Random], None] | None = None,
    ) -> None:
        super().__init__(world)
        # The token's hourly budgets (core and graphql) and the length of the simulator's
        # rate-limit window: large exhausts a small budget on purpose, in a short window, so
        # that the run shows the tap waiting for the reset (in real time: the tap is a
        # separate process on the wall clock).
        self.token_limit = token_limit
        self.window_seconds = window_seconds
        self.note = note
        # Read through a GitHub App installation (the fleet) instead of alice's token; the
        # world shaped after seeding; the `mutate` run's change instead of every registered
        # mutation.
        self.app = app
        self.shape = shape
        self.mutation = mutation

    @property
    def world(self) -> dict[str, int]:
        """The dict seeded_world reads."""
        return dict(self)


SCALES: dict[str, Scale] = {
    "small": Scale(
        {
            "repos": 3,
            "pulls_per_repo": 40,
            "pulls_with_many_reviews": 1,
            "releases_per_repo": 5,
            "runs_per_repo": 20,
            "commits_per_repo": 60,
        },
        note="a few repositories, one pull request with a second page of reviews",
    ),
    "medium": Scale(
        {
            "repos": 12,
            "pulls_per_repo": 183,
            "pulls_with_many_reviews": 0,
            "releases_per_repo": 5,
            "runs_per_repo": 92,
            "commits_per_repo": 292,
        },
        note="issue 6's medium: ~2,200 PRs, ~5,500 reviews, ~3,500 commits, ~1,100 runs",
    ),
    # Medium's figures per repository, 200 repositories: ~17x the data (36,600 PRs, 91,000
    # reviews, 58,400 commits, 18,400 runs). The token's budget is 500 points (core and
    # graphql each; 300 above the tap's default reserve) per 30 s window instead of 5,000 an
    # hour, below what a first sync spends in that time (about 1,700 points of each resource
    # in 100 s): the run must wait for resets (in real time: the tap is a separate process on
    # the wall clock) and still complete.
    "large": Scale(
        {
            "repos": 200,
            "pulls_per_repo": 183,
            "pulls_with_many_reviews": 0,
            "releases_per_repo": 5,
            "runs_per_repo": 92,
            "commits_per_repo": 292,
        },
        token_limit=500,
        window_seconds=30,
        note="200 repositories at medium's density; 500 points per 30 s window, "
        "exhausted on purpose",
    ),
    # One organization of 1,000 repositories through one App installation, most quiet
    # (bench/fleet.py): seeded at the active repositories' density, then shaped.
    "fleet": Scale(
        {
            "repos": 1000,
            "pulls_per_repo": 25,
            "pulls_with_many_reviews": 0,
            "releases_per_repo": 1,
            "runs_per_repo": 12,
            "commits_per_repo": 40,
        },
        token_limit=fleet.INSTALLATION_LIMIT,
        note="1,000 repositories through one GitHub App installation (15,000 points an "
        "hour); 15% active; mutate: 5% of them changed",
        app=True,
        shape=fleet.shape,
        mutation=fleet.change_five_percent,
    ),
}
