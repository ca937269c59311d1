"""Serve a seeded simulated GitHub on 127.0.0.1 until stopped, on wall-clock time.

    .venv/bin/python -m github_simulator [--port 0] [--repos 3] [--seed 7] [--env-file PATH]

It prints the tap settings that point at it (as shell `export` lines); with `--env-file`, the
same settings are written to PATH as KEY=VALUE lines once the server is listening, which is how
`scripts/demo` waits for it. Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from github_simulator import GitHubSimulator, seeded_world
from github_simulator.world import RealClock

TOKEN = "ghp_alice"  # the seeded world's member of the acme organization
SELECTION = ["acme/*"]


def tap_settings(api_url: str) -> dict[str, str]:
    """The tap's settings, as Meltano environment variables, for the simulator at `api_url`."""
    return {
        "TAP_GITHUB_ACTIVITY_API_URL": api_url,
        "TAP_GITHUB_ACTIVITY_AUTH_TOKEN": TOKEN,
        "TAP_GITHUB_ACTIVITY_REPOSITORIES": json.dumps(SELECTION),
    }


def write_env_file(path: Path, settings: dict[str, str]) -> None:
    """KEY=VALUE lines, complete or absent: written aside and renamed into place."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m github_simulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free one)")
    parser.add_argument(
        "--repos",
        type=int,
        default=3,
        help="repositories of the acme organization, each with pull requests, reviews, "
        "releases, workflow runs and jobs, commits, traffic and statistics (default 3)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the world (default 7)")
    parser.add_argument("--env-file", type=Path, help="also write the tap settings here")
    args = parser.parse_args(argv)
    if args.repos < 1:
        parser.error("--repos must be at least 1")

    world = seeded_world(RealClock(), seed=args.seed, scale={"repos": args.repos})
    stopped = threading.Event()

    def stop(_signal: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    with GitHubSimulator(world, port=args.port) as simulator:
        settings = tap_settings(simulator.api_url)
        if args.env_file:
            write_env_file(args.env_file, settings)
        names = ", ".join(sorted(repo.full_name for repo in world.repos.values()))
        print(f"Simulated GitHub at {simulator.api_url} serving {names}; Ctrl-C stops it.")
        print("Point the tap at it with:")
        for name, value in settings.items():
            print(f"export {name}={shlex.quote(value)}")
        sys.stdout.flush()
        # With a timeout: a signal delivered to a server thread would not wake a plain wait.
        while not stopped.wait(timeout=0.2):
            pass
    return 0
