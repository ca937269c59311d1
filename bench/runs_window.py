"""Ways to watch workflow runs for re-runs, side by side: what each costs (requests and
rate-limit points of the runs listing) at a first sync, a sync without change, and a sync
after github_simulator's actions mutation, and how many of the changed runs it sees. Asserts
nothing.

    .venv/bin/python -m bench.runs_window [--scale medium]

- `tap`: tap-github-activity itself (slices of ~100 runs, tap_github_activity/fetch/runs_window.py),
  as a separate process selecting workflow_runs only;
- `lookback 3d`: the listing `created>=` three days before now (the tap's earlier way);
- `one 30d listing`: `created>=` 30 days before now, every page with its ETag;
- `daily slices`: `created=YYYY-MM-DD` for each of the last 30 days, each with its ETag.

The alternatives are plain conditional requests (If-None-Match with the ETag each page answered
last time); "seen" counts the changed runs a page answering 200 showed with their new attempt
and status.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from bench.completeness import WholeSeconds, sync
from bench.run import OURS, TOKEN, discover
from bench.scales import SCALES
from github_simulator import GitHubSimulator, World, actions, seeded_world
from github_simulator.world import iso

RUNS = r"/actions/runs$"
Queries = Callable[[World], Iterator[str]]


def lookback(days: int) -> Queries:
    def queries(world: World) -> Iterator[str]:
        start = (world.now() - timedelta(days=days)).replace(hour=0, minute=0, second=0)
        yield f">={iso(start)}"

    return queries


def daily(world: World) -> Iterator[str]:
    for back in range(31):
        yield (world.now() - timedelta(days=back)).strftime("%Y-%m-%d")


class Watcher:
    """One alternative's conditional reads and the ETags they keep."""

    def __init__(self, api: str, queries: Queries) -> None:
        self.api, self.queries, self.etags = api, queries, dict[tuple[str, str, int], str]()

    def read(self, world: World) -> set[tuple[int, int, str]]:
        """(run id, attempt, status) of every run on a page that answered 200."""
        seen = set()
        for repo in actions.readable_repos(world):
            url = f"{self.api}/repos/{repo.full_name}/actions/runs"
            for created in self.queries(world):
                page = 1
                while True:
                    key = (repo.full_name, created, page)
                    headers = {"Authorization": f"token {TOKEN}"}
                    if key in self.etags:
                        headers["If-None-Match"] = self.etags[key]
                    params: dict[str, Any] = {"created": created, "per_page": 100, "page": page}
                    answer = requests.get(url, headers=headers, params=params, timeout=30)
                    if answer.status_code == 200:
                        self.etags[key] = answer.headers["etag"]
                        runs = answer.json()["workflow_runs"]
                        seen |= {(r["id"], r["run_attempt"], r["status"]) for r in runs}
                    if 'rel="next"' not in answer.headers.get("link", "") and (
                        answer.status_code == 200
                        or (repo.full_name, created, page + 1) not in self.etags
                    ):
                        break
                    page += 1
        return seen


def latest(world: World) -> set[tuple[int, int, str]]:
    return {
        (run.id, run.latest.number, run.latest.status)
        for repo in actions.readable_repos(world)
        for run in actions.runs_of(world, repo)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="medium", choices=sorted(SCALES))
    parser.add_argument("--runs-per-repo", type=int, help="instead of the scale's")
    args = parser.parse_args(argv)
    scale = SCALES[args.scale].world
    if args.runs_per_repo:
        scale["runs_per_repo"] = args.runs_per_repo
    world = seeded_world(WholeSeconds(), scale=scale)
    figures: dict[str, list[str]] = {}
    with GitHubSimulator(world) as github:
        watchers = {
            "lookback 3d": Watcher(github.api_url, lookback(3)),
            "one 30d listing": Watcher(github.api_url, lookback(30)),
            "daily slices": Watcher(github.api_url, daily),
        }
        command = [str(Path(sys.executable).with_name(OURS))]
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            config = work / "config.json"
            config.write_text(
                json.dumps(
                    {"auth_token": TOKEN, "api_url": github.api_url, "repositories": ["acme/*"]}
                )
            )
            catalog = discover([*command, "--config", str(config)], env={})
            for entry in catalog["streams"]:
                for metadata in entry["metadata"]:
                    if metadata["breadcrumb"] == []:
                        metadata["metadata"]["selected"] = entry["tap_stream_id"] == "workflow_runs"
            catalog_file = work / "catalog.json"
            catalog_file.write_text(json.dumps(catalog))
            state: dict[str, Any] = {}
            before: set[tuple[int, int, str]] = set()
            for step in ("first", "no change", "after change"):
                if step == "after change":
                    before = latest(world)
                    actions.mutate_actions(world, random.Random(7))  # noqa: S311
                changed = latest(world) - before if before else set()
                for name, watcher in watchers.items():
                    github.reset_log()
                    seen = watcher.read(world)
                    figures.setdefault(name, []).append(_cell(github, seen, changed))
                github.reset_log()
                records, state = sync(command, config, catalog_file, state, work)
                seen = {
                    (r["id"], r["run_attempt"], r["status"])
                    for r in records.get("workflow_runs", [])
                }
                figures.setdefault("tap", []).append(_cell(github, seen, changed))
    print(
        f"scale {args.scale}, {scale.get('runs_per_repo')} runs per repository: "
        "the runs listing's requests / points (changed runs seen)"
    )
    print(f"{'way':18} {'first':>16} {'no change':>16} {'after change':>22}")
    for name, cells in figures.items():
        print(f"{name:18} {cells[0]:>16} {cells[1]:>16} {cells[2]:>22}")
    return 0


def _cell(github: GitHubSimulator, seen: set[Any], changed: set[Any]) -> str:
    calls = github.requests(RUNS)
    text = f"{len(calls)} / {sum(c.points for c in calls)}"
    return f"{text} ({len(changed & seen)}/{len(changed)})" if changed else text


if __name__ == "__main__":
    raise SystemExit(main())
