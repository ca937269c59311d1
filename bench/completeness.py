"""Completeness of an incremental sync: prints, per stream, the rows every registered mutation
(github_simulator/truth.py MUTATIONS) added or changed in the world, how many of them the next
sync emitted with their new values, and what each sync cost. Asserts nothing.

    .venv/bin/python -m bench.completeness [--scale small] [--branches '*']

The tap runs as a separate process, as in bench/run.py: a first sync, then every mutation, then
a sync with the first one's state. Runs and jobs count each run's latest attempt (the default,
without workflow_runs_earlier_attempts); commits and commit_branches the selected branches
(`--branches`, default every branch, so force-pushes and renamed branches count).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run import OURS, ROOT, TOKEN, discover
from bench.scales import SCALES
from github_simulator import GitHubSimulator, World, actions, commits, seeded_world
from github_simulator.truth import EXPECTED, MUTATIONS, caught_rows, changed_rows
from github_simulator.world import RealClock

Truth = Callable[[World], dict[tuple[Any, ...], dict[str, Any]]]
KEYS = {
    "pull_requests": ("id",),
    "pull_request_reviews": ("id",),
    "releases": ("id",),
    "workflow_runs": ("id", "run_attempt"),
    "workflow_jobs": ("id",),
    "commits": ("repo_id", "sha"),
    "commit_branches": ("repo_id", "branch", "sha"),
}


class WholeSeconds(RealClock):
    """Wall-clock time in whole seconds: GitHub's timestamps have no fractions, and durations
    the truth computes from fractions would differ by a second from the ones the tap does."""

    def now(self) -> float:
        return float(int(super().now()))


def truths(branches: list[str]) -> dict[str, Truth]:
    """What a full sync emits now, per stream compared."""
    return {
        "pull_requests": EXPECTED["pull_requests"],
        "pull_request_reviews": EXPECTED["pull_request_reviews"],
        "releases": EXPECTED["releases"],
        "workflow_runs": lambda w: actions.expected_workflow_runs(w, actions.latest_attempts(w)),
        "workflow_jobs": lambda w: actions.expected_workflow_jobs(w, actions.latest_attempts(w)),
        "commits": lambda w: commits.expected_commits(w, branches),
        "commit_branches": lambda w: commits.expected_commit_branches(w, branches),
    }


def sync(
    command: list[str], config: Path, catalog: Path, state: dict[str, Any], work: Path
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """One sync: its records per stream and its last state."""
    state_file = work / "state.json"
    state_file.write_text(json.dumps(state))
    done = subprocess.run(
        [*command, "--config", str(config), "--catalog", str(catalog), "--state", str(state_file)],
        capture_output=True,
        cwd=ROOT,
        check=True,
    )
    records: dict[str, list[dict[str, Any]]] = {}
    last: dict[str, Any] = state
    for line in done.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "STATE":
            last = message["value"]
    return records, last


def emitted(records: list[dict[str, Any]], stream: str, like: dict[Any, Any]) -> dict[Any, Any]:
    fields = next(iter(like.values()), {}).keys()
    return {tuple(r[k] for k in KEYS[stream]): {f: r.get(f) for f in fields} for r in records}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="small", choices=sorted(SCALES))
    parser.add_argument("--branches", default="*", help="commit_branches, comma-separated")
    args = parser.parse_args(argv)
    branches = args.branches.split(",")
    world = seeded_world(WholeSeconds(), scale=SCALES[args.scale].world)
    command = [str(Path(sys.executable).with_name(OURS))]
    with GitHubSimulator(world) as github, tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        config = work / "config.json"
        config.write_text(
            json.dumps(
                {
                    "auth_token": TOKEN,
                    "api_url": github.api_url,
                    "repositories": ["acme/*"],
                    "commit_branches": branches,
                }
            )
        )
        catalog = discover([*command, "--config", str(config)], env={})
        for entry in catalog["streams"]:
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = True
        catalog_file = work / "catalog.json"
        catalog_file.write_text(json.dumps(catalog))
        _, state = sync(command, config, catalog_file, {}, work)
        compared = truths(branches)
        before = {name: truth(world) for name, truth in compared.items()}
        rng = random.Random(7)  # noqa: S311 -- reproducible activity, not cryptography
        for mutation in MUTATIONS.values():
            mutation(world, rng)
        github.reset_log()
        records, _ = sync(command, config, catalog_file, state, work)
        points = sum(r.points for r in github.requests("."))
    print(f"scale {args.scale}, commit_branches {branches}: after every mutation")
    print(f"{'stream':22} {'changed':>8} {'caught':>7} {'emitted':>8}")
    for name, truth in compared.items():
        after = truth(world)
        changed = changed_rows(before[name], after)
        rows = emitted(records.get(name, []), name, after)
        caught = caught_rows(rows, after, changed)
        print(f"{name:22} {len(changed):>8} {len(caught):>7} {len(rows):>8}")
    print(f"points of the sync after the mutations: {points}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
