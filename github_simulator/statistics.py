"""Repository statistics: contributor commit activity per week.

GitHub caches statistics by the SHA of the default branch's head (a push resets them), so they
change only with a push to the default branch: the mutation here pushes one. GitHub computes
statistics in the background: a repository whose statistics are not cached
answers 202 with an empty body until they are (here: the first `pending_202[repo_id]`
requests), an empty repository answers 204, and the answer is every contributor with one entry
per week (Sunday 00:00 UTC, as a Unix timestamp) from the repository's first week to this one,
weeks without activity included. Repositories with 10,000 or more commits get 0 additions and
deletions throughout.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from github_simulator.commits import git
from github_simulator.rest_core import NAME, OWNER, visible_repo
from github_simulator.server import ROUTER, Reply, Request
from github_simulator.world import FAMILIES, World

LINE_COUNT_COMMIT_LIMIT = 10_000
CONTRIBUTORS = ["alice", "bob", "carol", "dave", "erin", "frank"]
SEEDED_WEEKS = 16

# week start (Unix timestamp) -> [additions, deletions, commits]
Weeks = dict[int, list[int]]


@dataclass
class StatsStore:
    """Per repository id: each contributor's weekly activity, and how many more requests answer
    202 (statistics being computed). A repository with no contributors is empty (204)."""

    contributors: dict[int, dict[str, Weeks]] = field(default_factory=dict)
    pending_202: dict[int, int] = field(default_factory=dict)


def store(world: World) -> StatsStore:
    return world.family("statistics", StatsStore)


def week_start(day: date) -> int:
    """The Unix timestamp of the Sunday starting `day`'s week."""
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    return int(datetime.combine(sunday, time(), tzinfo=timezone.utc).timestamp())


def current_week(world: World) -> int:
    return week_start(world.now().date())


def add_activity(
    world: World, repo_id: int, login: str, week: int, activity: tuple[int, int, int]
) -> None:
    """`login` made (additions, deletions, commits) more in the week starting at `week`."""
    world.account(login)
    weeks = store(world).contributors.setdefault(repo_id, {}).setdefault(login, {})
    totals = weeks.setdefault(week, [0, 0, 0])
    for index, amount in enumerate(activity):
        totals[index] += amount


def _random_activity(rng: random.Random) -> tuple[int, int, int]:
    commits = rng.randint(1, 12)
    return rng.randint(commits, 80 * commits), rng.randint(0, 40 * commits), commits


# -- seeding and mutation ------------------------------------------------------------------------


def seed_statistics(world: World, rng: random.Random) -> None:
    """Two to four contributors per repository, active in some of the last 16 weeks."""
    data = store(world)
    this_week = current_week(world)
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        data.pending_202.setdefault(repo.id, 0)
        for login in rng.sample(CONTRIBUTORS, rng.randint(2, 4)):
            for back in range(SEEDED_WEEKS):
                if rng.random() < 0.4:
                    week = this_week - back * 7 * 86400
                    add_activity(world, repo.id, login, week, _random_activity(rng))


def mutate_statistics(world: World, rng: random.Random) -> None:
    """This week's activity grows for a known contributor, and a new contributor appears: pushed
    to the default branch."""
    with world.lock:
        data = store(world)
        this_week = current_week(world)
        for repo in sorted(world.repos.values(), key=lambda r: r.id):
            known = sorted(data.contributors.get(repo.id, {}))
            if not known:
                continue
            add_activity(world, repo.id, rng.choice(known), this_week, _random_activity(rng))
            newcomer = f"contributor-{world.new_id()}"
            add_activity(world, repo.id, newcomer, this_week, _random_activity(rng))
            history = git(world, repo)
            if repo.default_branch in history.branches:
                history.advance(repo.default_branch, world.now(), message="This week's work")


FAMILIES["statistics"] = seed_statistics


# -- what GitHub answers -------------------------------------------------------------------------


def contributors_answer(world: World, repo_id: int, api: str) -> list[dict[str, Any]]:
    """GitHub's 200 answer: every contributor, each with every week since the first one."""
    contributors = store(world).contributors.get(repo_id, {})
    starts = [week for weeks in contributors.values() for week in weeks]
    if not starts:
        return []
    last = max(*starts, current_week(world))
    all_weeks = range(min(starts), last + 1, 7 * 86400)
    total_commits = sum(a[2] for weeks in contributors.values() for a in weeks.values())
    lines = total_commits < LINE_COUNT_COMMIT_LIMIT
    answer = []
    for login, weeks in contributors.items():
        entries = []
        for week in all_weeks:
            additions, deletions, commits = weeks.get(week, [0, 0, 0])
            entries.append(
                {
                    "w": week,
                    "a": additions if lines else 0,
                    "d": deletions if lines else 0,
                    "c": commits,
                }
            )
        answer.append(
            {
                "author": world.account(login).payload(api),
                "total": sum(entry["c"] for entry in entries),
                "weeks": entries,
            }
        )
    # GitHub lists the contributor with the most commits last.
    answer.sort(key=lambda entry: (entry["total"], entry["author"]["login"]))
    return answer


@ROUTER.get(f"/repos/{OWNER}/{NAME}/stats/contributors")
def contributor_stats(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    data = store(request.world)
    if data.pending_202.get(repo.id, 0) > 0:
        data.pending_202[repo.id] -= 1
        return Reply({}, status=202)
    if not data.contributors.get(repo.id):
        return Reply(None, status=204)
    return contributors_answer(request.world, repo.id, request.api)


# -- ground truth --------------------------------------------------------------------------------


def expected_contributor_stats(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(repo_id, contributor_id, week_start) -> commits, additions and deletions of every week
    with activity (additions and deletions None where GitHub gives no line counts)."""
    expected = {}
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        contributors = store(world).contributors.get(repo.id, {})
        total = sum(a[2] for weeks in contributors.values() for a in weeks.values())
        lines = total < LINE_COUNT_COMMIT_LIMIT
        for login, weeks in contributors.items():
            account = world.account(login)
            for week, (additions, deletions, commits) in weeks.items():
                if not (commits or (lines and (additions or deletions))):
                    continue
                day = datetime.fromtimestamp(week, tz=timezone.utc).date().isoformat()
                expected[(repo.id, account.id, day)] = {
                    "commits": commits,
                    "additions": additions if lines else None,
                    "deletions": deletions if lines else None,
                }
    return expected
