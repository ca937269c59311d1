"""meltanolabs-tap-github, the incumbent, run on the same simulated data for comparison.

It lives in its own virtual environment (.bench-venv/incumbent, made on first use), reads the
same organization (`organizations: ["acme"]`, its documented way to take every repository of
an organization) and syncs its streams that hold the same data as ours. It checks its token at
https://api.github.com/rate_limit whatever its `api_url_base`: bench/incumbent_site/
sitecustomize.py, on its PYTHONPATH, sends that request to the simulator too.

Its requests and points per stream are read from the simulator's log (it does not report them).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "PACKAGE",
    "STREAMS",
    "VERSION",
    "classify",
    "config",
    "ensure_installed",
    "executable",
    "site_dir",
]

PACKAGE = "meltanolabs-tap-github"
VERSION = "1.30.1"  # the latest on PyPI when the benchmark was written
ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench-venv" / "incumbent"

# Our stream -> the incumbent's stream with the same data (None: it has none).
STREAMS: dict[str, str | None] = {
    "repositories": "repositories",
    "pull_requests": "pull_requests",
    "pull_request_reviews": "reviews",
    "releases": "releases",
    "workflow_runs": "workflow_runs",
    "workflow_jobs": "workflow_run_jobs",
    "commits": "commits",
    "commit_branches": None,
    "traffic_views": "traffic_pageviews",
    "traffic_clones": "traffic_clones",
    "traffic_referrers": "traffic_referrers",
    "traffic_paths": "traffic_referral_paths",
    "contributor_stats": "stats_contributors",
}

# The incumbent's request paths -> its stream (it names no stream in its requests).
_REPO = r"^/repos/[^/]+/[^/]+"
_ROUTES = [
    (re.compile(r"^/rate_limit$"), "(token check)"),
    (re.compile(r"^/graphql$"), "repositories"),
    (re.compile(r"^/(orgs|users)/[^/]+/repos$|^/user/repos$"), "repositories"),
    (re.compile(_REPO + r"$"), "repositories"),
    (re.compile(_REPO + r"/pulls/\d+/reviews$"), "reviews"),
    (re.compile(_REPO + r"/pulls$"), "pull_requests"),
    (re.compile(_REPO + r"/releases$"), "releases"),
    (re.compile(_REPO + r"/actions/runs/\d+/(attempts/\d+/)?jobs$"), "workflow_run_jobs"),
    (re.compile(_REPO + r"/actions/runs(/\d+(/attempts/\d+)?)?$"), "workflow_runs"),
    (re.compile(_REPO + r"/commits$"), "commits"),
    (re.compile(_REPO + r"/traffic/views$"), "traffic_pageviews"),
    (re.compile(_REPO + r"/traffic/clones$"), "traffic_clones"),
    (re.compile(_REPO + r"/traffic/popular/referrers$"), "traffic_referrers"),
    (re.compile(_REPO + r"/traffic/popular/paths$"), "traffic_referral_paths"),
    (re.compile(_REPO + r"/stats/contributors$"), "stats_contributors"),
]


def classify(path: str) -> str:
    """The incumbent stream that made a request, from its path."""
    for pattern, stream in _ROUTES:
        if pattern.search(path):
            return stream
    return "(other) " + path


def executable() -> Path:
    return VENV / "bin" / "tap-github"


def site_dir() -> Path:
    """The folder whose sitecustomize.py routes api.github.com to the simulator."""
    return Path(__file__).resolve().parent / "incumbent_site"


def ensure_installed() -> None:
    """Make .bench-venv/incumbent with the pinned incumbent, unless it is there already."""
    python = VENV / "bin" / "python"
    if executable().exists():
        probe = subprocess.run(
            [str(python), "-m", "pip", "show", PACKAGE],
            capture_output=True,
            text=True,
            check=False,
        )
        if f"Version: {VERSION}" in probe.stdout:
            return
    print(f"Installing {PACKAGE}=={VERSION} into {VENV} ...", file=sys.stderr, flush=True)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{PACKAGE}=={VERSION}",
        ],
        check=True,
    )


def config(api_url: str, owner: str, token: str) -> dict[str, Any]:
    """Its config for the simulator: the organization's repositories, every day of history."""
    return {
        "auth_token": token,
        "organizations": [owner],
        "api_url_base": api_url,
        "user_agent": "tap-github-activity benchmark",
    }


def select(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """Select `streams` (and nothing else) in its discovered catalog."""
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] in streams
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = chosen
    return catalog


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1)
