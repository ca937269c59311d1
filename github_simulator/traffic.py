"""Repository traffic: views and clones per day, popular referrers and paths.

GitHub keeps 14 days: every answer covers the days from 13 days ago up to today (UTC), and today's
figures keep growing until the day is over. The store keeps hits per day, so the window slides
with the world's clock and a mutation can make today's figures grow. Traffic needs push access:
callers without it get 403 "Must have push access to repository".

The store also remembers the last value served for each day and each dated top-list entry:
a target fed every answer holds those beyond what GitHub shows today (days that left the
window, entries that dropped out of the top 10 later the same day), and the ground truth
includes them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from github_simulator.rest_core import NAME, OWNER, can_push, visible_repo
from github_simulator.server import ROUTER, HTTPError, Request
from github_simulator.world import FAMILIES, Repo, World, iso

WINDOW_DAYS = 14
TOP = 10  # GitHub lists the top 10 referrers and paths

# Hits per day: day -> [count, uniques].
Daily = dict[date, list[int]]

REFERRERS = [
    "github.com",
    "Google",
    "news.ycombinator.com",
    "stackoverflow.com",
    "reddit.com",
    "duckduckgo.com",
    "Bing",
    "dev.to",
    "lobste.rs",
    "t.co",
    "medium.com",
    "linkedin.com",
]


@dataclass
class TrafficStore:
    """Per repository id: views and clones per day, and referrer and path hits per day."""

    views: dict[int, Daily] = field(default_factory=dict)
    clones: dict[int, Daily] = field(default_factory=dict)
    referrers: dict[int, dict[str, Daily]] = field(default_factory=dict)
    paths: dict[int, dict[tuple[str, str], Daily]] = field(default_factory=dict)  # (path, title)
    # Last value served, by stream and record key (see the module docstring).
    served: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = field(default_factory=dict)


def store(world: World) -> TrafficStore:
    return world.family("traffic", TrafficStore)


def today(world: World) -> date:
    return world.now().date()


def window(world: World) -> list[date]:
    """The days GitHub reports: 13 days ago up to today."""
    last = today(world)
    return [last - timedelta(days=offset) for offset in range(WINDOW_DAYS - 1, -1, -1)]


def add_hits(daily: Daily, day: date, count: int, uniques: int) -> None:
    """`count` more hits on `day`, `uniques` of them new visitors."""
    hits = daily.setdefault(day, [0, 0])
    hits[0] += count
    hits[1] = min(hits[1] + uniques, hits[0])


def _random_hits(rng: random.Random, scale: int) -> tuple[int, int]:
    count = rng.randint(1, scale)
    return count, rng.randint(1, count)


# -- seeding and mutation ------------------------------------------------------------------------


def seed_traffic(world: World, rng: random.Random) -> None:
    """Traffic on most days of the window for every repository, some days without any."""
    data = store(world)
    days = window(world)
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        views = data.views.setdefault(repo.id, {})
        clones = data.clones.setdefault(repo.id, {})
        referrers = data.referrers.setdefault(repo.id, {})
        paths = data.paths.setdefault(repo.id, {})
        pages = [
            (f"/{repo.full_name}", repo.name),
            (f"/{repo.full_name}/pulls", f"Pull requests · {repo.full_name}"),
            (f"/{repo.full_name}/actions", f"Actions · {repo.full_name}"),
            (f"/{repo.full_name}/blob/main/README.md", f"{repo.name}/README.md"),
        ]
        for day in days:
            if rng.random() < 0.8:
                add_hits(views, day, *_random_hits(rng, 200))
            if rng.random() < 0.6:
                add_hits(clones, day, *_random_hits(rng, 20))
            for referrer in rng.sample(REFERRERS, rng.randint(0, 4)):
                add_hits(referrers.setdefault(referrer, {}), day, *_random_hits(rng, 30))
            for page in rng.sample(pages, rng.randint(0, 3)):
                add_hits(paths.setdefault(page, {}), day, *_random_hits(rng, 50))


def mutate_traffic(world: World, rng: random.Random) -> None:
    """Today's views, clones, referrers and paths grow (a new day's first hits when the clock
    moved past midnight), and a referrer never seen before appears."""
    with world.lock:
        data = store(world)
        day = today(world)
        for repo in sorted(world.repos.values(), key=lambda r: r.id):
            add_hits(data.views.setdefault(repo.id, {}), day, *_random_hits(rng, 100))
            add_hits(data.clones.setdefault(repo.id, {}), day, *_random_hits(rng, 10))
            referrers = data.referrers.setdefault(repo.id, {})
            newcomer = f"blog-{world.new_id()}.example.test"
            # Enough hits to enter the top 10.
            add_hits(referrers.setdefault(newcomer, {}), day, 1000, 400)
            paths = data.paths.setdefault(repo.id, {})
            page = (f"/{repo.full_name}", repo.name)
            add_hits(paths.setdefault(page, {}), day, *_random_hits(rng, 40))


FAMILIES["traffic"] = seed_traffic


# -- what GitHub answers -------------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def _counts(world: World, daily: Daily, per: str) -> tuple[int, int, list[dict[str, Any]]]:
    """Totals over the window and one entry per day (or per week, weeks starting on Monday)
    that had hits."""
    buckets: dict[date, list[int]] = {}
    for day in window(world):
        hits = daily.get(day)
        if not hits:
            continue
        start = day if per == "day" else day - timedelta(days=day.weekday())
        bucket = buckets.setdefault(start, [0, 0])
        bucket[0] += hits[0]
        bucket[1] += hits[1]
    entries = [
        {"timestamp": iso(_midnight(start)), "count": count, "uniques": uniques}
        for start, (count, uniques) in sorted(buckets.items())
    ]
    return (sum(e["count"] for e in entries), sum(e["uniques"] for e in entries), entries)


def _popular(world: World, hits_by_key: dict[Any, Daily]) -> list[tuple[Any, int, int]]:
    """(key, count, uniques) of the top 10 over the window, most hits first."""
    days = set(window(world))
    totals = []
    for key, daily in hits_by_key.items():
        count = sum(hits[0] for day, hits in daily.items() if day in days)
        uniques = sum(hits[1] for day, hits in daily.items() if day in days)
        if count:
            totals.append((key, count, uniques))
    totals.sort(key=lambda entry: (-entry[1], str(entry[0])))
    return totals[:TOP]


def views_answer(world: World, repo: Repo, per: str = "day") -> dict[str, Any]:
    count, uniques, entries = _counts(world, store(world).views.get(repo.id, {}), per)
    return {"count": count, "uniques": uniques, "views": entries}


def clones_answer(world: World, repo: Repo, per: str = "day") -> dict[str, Any]:
    count, uniques, entries = _counts(world, store(world).clones.get(repo.id, {}), per)
    return {"count": count, "uniques": uniques, "clones": entries}


def referrers_answer(world: World, repo: Repo) -> list[dict[str, Any]]:
    return [
        {"referrer": referrer, "count": count, "uniques": uniques}
        for referrer, count, uniques in _popular(world, store(world).referrers.get(repo.id, {}))
    ]


def paths_answer(world: World, repo: Repo) -> list[dict[str, Any]]:
    return [
        {"path": path, "title": title, "count": count, "uniques": uniques}
        for (path, title), count, uniques in _popular(world, store(world).paths.get(repo.id, {}))
    ]


def _pushable(request: Request) -> Repo:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    if not can_push(request, repo):
        raise HTTPError(403, "Must have push access to repository")
    return repo


def _per(request: Request) -> str:
    per = request.query.get("per", "day")
    if per not in ("day", "week"):
        raise HTTPError(422, f'Invalid request. {per!r} is not a member of ["day", "week"].')
    return per


def _serve(world: World, stream: str, rows: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    store(world).served.setdefault(stream, {}).update(rows)


@ROUTER.get(f"/repos/{OWNER}/{NAME}/traffic/views")
def traffic_views(request: Request) -> Any:
    repo, per = _pushable(request), _per(request)
    if per == "day":
        _serve(request.world, "traffic_views", _daily_rows(request.world, repo, "views"))
    return views_answer(request.world, repo, per)


@ROUTER.get(f"/repos/{OWNER}/{NAME}/traffic/clones")
def traffic_clones(request: Request) -> Any:
    repo, per = _pushable(request), _per(request)
    if per == "day":
        _serve(request.world, "traffic_clones", _daily_rows(request.world, repo, "clones"))
    return clones_answer(request.world, repo, per)


@ROUTER.get(f"/repos/{OWNER}/{NAME}/traffic/popular/referrers")
def traffic_referrers(request: Request) -> Any:
    repo = _pushable(request)
    _serve(request.world, "traffic_referrers", _referrer_rows(request.world, repo))
    return referrers_answer(request.world, repo)


@ROUTER.get(f"/repos/{OWNER}/{NAME}/traffic/popular/paths")
def traffic_paths(request: Request) -> Any:
    repo = _pushable(request)
    _serve(request.world, "traffic_paths", _path_rows(request.world, repo))
    return paths_answer(request.world, repo)


# -- ground truth --------------------------------------------------------------------------------


def _readable(world: World) -> list[Repo]:
    """Repositories whose traffic the world's tokens may read (push access)."""
    logins = {token.login for token in world.tokens.values()}
    return sorted(
        (repo for repo in world.repos.values() if repo.pushers is None or logins & repo.pushers),
        key=lambda r: r.id,
    )


def _daily_rows(world: World, repo: Repo, kind: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    answer = views_answer if kind == "views" else clones_answer
    return {
        (repo.id, entry["timestamp"]): {"count": entry["count"], "uniques": entry["uniques"]}
        for entry in answer(world, repo)[kind]
    }


def _referrer_rows(world: World, repo: Repo) -> dict[tuple[Any, ...], dict[str, Any]]:
    snapshot = today(world).isoformat()
    return {
        (repo.id, snapshot, entry["referrer"]): {
            "count": entry["count"],
            "uniques": entry["uniques"],
        }
        for entry in referrers_answer(world, repo)
    }


def _path_rows(world: World, repo: Repo) -> dict[tuple[Any, ...], dict[str, Any]]:
    snapshot = today(world).isoformat()
    return {
        (repo.id, snapshot, entry["path"]): {
            "title": entry["title"],
            "count": entry["count"],
            "uniques": entry["uniques"],
        }
        for entry in paths_answer(world, repo)
    }


ROWS: dict[str, Callable[[World, Repo], dict[tuple[Any, ...], dict[str, Any]]]] = {
    "traffic_views": lambda world, repo: _daily_rows(world, repo, "views"),
    "traffic_clones": lambda world, repo: _daily_rows(world, repo, "clones"),
    "traffic_referrers": _referrer_rows,
    "traffic_paths": _path_rows,
}


def current(world: World, stream: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rows of what GitHub shows now: the 14-day window, or today's top lists."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for repo in _readable(world):
        rows.update(ROWS[stream](world, repo))
    return rows


def _truth(stream: str) -> Callable[[World], dict[tuple[Any, ...], dict[str, Any]]]:
    def expected(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {**store(world).served.get(stream, {}), **current(world, stream)}

    expected.__name__ = f"expected_{stream}"
    expected.__doc__ = (
        f"{stream}: what a target holds after syncs that loaded every answer: "
        "GitHub's current rows plus the last value served of earlier ones."
    )
    return expected


expected_traffic_views = _truth("traffic_views")
expected_traffic_clones = _truth("traffic_clones")
expected_traffic_referrers = _truth("traffic_referrers")
expected_traffic_paths = _truth("traffic_paths")
