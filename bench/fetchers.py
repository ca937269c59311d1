"""Requests, points and rows of the issues and deployments fetchers on a benchmark scale.

    .venv/bin/python -m bench.fetchers --scale medium

For each family: a first sync (no bookmarks), a repeated sync (nothing changed) and a sync
after the family's mutation of github_simulator/truth.py, each over every repository of the
scale's world, on a fake clock (no latency: figures, not times).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.scales import SCALES
from github_simulator import FakeClock, GitHubSimulator, seeded_world
from github_simulator.truth import MUTATIONS
from tap_github_activity.fetch.deployments import DeploymentsFetcher
from tap_github_activity.fetch.issues import IssuesFetcher
from tests.fetching import client_for, fetch_all, rng

FAMILIES: dict[str, Any] = {"issues": IssuesFetcher, "deployments": DeploymentsFetcher}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="medium")
    args = parser.parse_args()
    scale = SCALES[args.scale]
    print(f"scale {args.scale}: {dict(scale.world)}")
    print(
        f"{'family':<12} {'sync':<8} {'requests':>8} {'304s':>5} {'core':>5} {'graphql':>7}  rows"
    )
    for family, fetcher_type in FAMILIES.items():
        clock = FakeClock()
        world = seeded_world(clock, scale=scale.world)
        with GitHubSimulator(world) as github:
            fetcher = fetcher_type(client_for(github))
            bookmarks = None
            for run in ("first", "repeat", "mutate"):
                if run == "mutate":
                    clock.advance(3600)
                    MUTATIONS[family](world, rng(1))
                started = time.perf_counter()
                result = fetch_all(github, fetcher, bookmarks)
                seconds = time.perf_counter() - started
                bookmarks = result.bookmarks
                not_modified = sum(r.status == 304 for r in github.requests())
                rows = ", ".join(f"{s} {len(r)}" for s, r in sorted(result.rows.items()))
                print(
                    f"{family:<12} {run:<8} {result.requests:>8} {not_modified:>5} "
                    f"{github.points('core'):>5} {github.points('graphql'):>7}  "
                    f"{rows or 'none'} ({seconds:.1f} s)"
                )


if __name__ == "__main__":
    main()
