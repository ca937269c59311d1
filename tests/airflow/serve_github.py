"""The simulated GitHub for the Airflow tests, served from the project's .venv (the Airflow
environment has neither the simulator's dependencies nor the tap's).

Run as `.venv/bin/python tests/airflow/serve_github.py`: it prints one JSON line, the API URL and
each shard's token, then serves until its standard input closes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from github_simulator import FakeClock, GitHubSimulator, seeded_world

# Two shards of one organization's three repositories, each with a token of its own.
TOKENS = {"platform": "ghp_platform", "product": "ghp_product"}


def main() -> None:
    # Real time, as the tap runs in another process (whole seconds, as GitHub's timestamps are).
    world = seeded_world(FakeClock(start=float(int(time.time()))))
    for login, token in TOKENS.items():
        world.add_token(token, f"bot-{login}", orgs={"acme"})
    with GitHubSimulator(world) as github:
        sys.stdout.write(json.dumps({"api_url": github.api_url, "tokens": TOKENS}) + "\n")
        sys.stdout.flush()
        sys.stdin.read()


if __name__ == "__main__":
    main()
