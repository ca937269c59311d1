"""Two PostHog loads of a seeded world: `tap-github-activity | target-posthog` into the fake
PostHog, then the world after a day of mutations, incrementally from the first load's state.

    .venv/bin/python -m bench.posthog --scale medium

Prints per load: wall time, requests and batches, events, bytes of JSON and gzipped; then the
events received in all, after deduplication on (uuid, event, timestamp, distinct_id), and the
event streams' rows in the ground truth.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import OWNER, TOKEN, Bench
from bench.scales import SCALES
from github_simulator.actions import latest_attempts
from github_simulator.truth import EXPECTED, SEEN_ATTEMPTS_STREAMS
from posthog_fake import API_KEY, FakePostHog, serve_posthog
from target_posthog.mapping import DEFAULTS

BIN = Path(sys.executable).parent


def load(workdir: Path, bench: Bench, posthog: FakePostHog, number: int) -> None:
    """One `tap | target` load, from the previous load's state."""
    tap_config = workdir / "tap.json"
    tap_config.write_text(
        json.dumps(
            {
                "auth_token": TOKEN,
                "api_url": bench.simulator.api_url,
                "repositories": [f"{OWNER}/*"],
            }
        )
    )
    target_config = workdir / "target.json"
    target_config.write_text(json.dumps({"api_key": API_KEY, "host": posthog.url}))
    state = workdir / "state.json"
    tap_command = [str(BIN / "tap-github-activity"), "--config", str(tap_config)]
    if state.exists():
        tap_command += ["--state", str(state)]
    bench.before_run()
    requests = len(posthog.requests)
    started = time.monotonic()
    with (
        (workdir / f"tap-{number}.log").open("wb") as tap_log,
        (workdir / f"target-{number}.log").open("wb") as target_log,
    ):
        tap = subprocess.Popen(tap_command, stdout=subprocess.PIPE, stderr=tap_log)
        target = subprocess.run(
            [str(BIN / "target-posthog"), "--config", str(target_config)],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=target_log,
            check=True,
        )
        if tap.stdout is not None:
            tap.stdout.close()
        if tap.wait() != 0:
            raise SystemExit(f"the tap failed: see {workdir / f'tap-{number}.log'}")
    seconds = time.monotonic() - started
    states = [line for line in target.stdout.decode().splitlines() if line.strip()]
    state.write_text(states[-1])
    log = (workdir / f"target-{number}.log").read_text().splitlines()
    print("  target: " + next(line for line in log if "Sent " in line).split("| ")[-1])
    sent = [r for r in posthog.requests[requests:] if r.status == 200]
    print(
        f"load {number}: {seconds:.1f} s, {len(sent)} batches "
        f"({sum(r.historical for r in sent)} historical), {sum(r.events for r in sent)} events, "
        f"{sum(r.body_bytes for r in sent) / 1e6:.2f} MB of JSON sent as "
        f"{sum(r.sent_bytes for r in sent) / 1e6:.2f} MB gzipped"
    )


def compare(bench: Bench, posthog: FakePostHog, seen: set[tuple[int, int]]) -> None:
    """Events after deduplication per stream, against the ground truth's rows."""
    deduplicated = posthog.deduplicated()
    total = 0
    for name in sorted(DEFAULTS.keys() & EXPECTED.keys()):
        truth = (
            EXPECTED[name](bench.world, seen)
            if name in SEEN_ATTEMPTS_STREAMS
            else EXPECTED[name](bench.world)
        )
        total += len(truth)
        events = sum(1 for key in deduplicated if key[1] == f"github_{name}")
        print(f"  {name}: {events} events after deduplication, {len(truth)} rows in the truth")
    print(
        f"{len(posthog.events)} events received in all, {len(deduplicated)} after "
        f"deduplication; {total} rows in the truth; {len(posthog.dropped)} dropped by "
        "PostHog's rules"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Bench(SCALES[args.scale], 0.0, args.seed) as bench,
        serve_posthog() as posthog,
    ):
        workdir = Path(tmp)
        seen: set[tuple[int, int]] = set()
        for number in (1, 2):
            if number == 2:
                bench.mutate()
            seen |= latest_attempts(bench.world)
            load(workdir, bench, posthog, number)
            compare(bench, posthog, seen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
