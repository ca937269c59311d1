"""`tap-github-activity --config c.json --test` through the real command line: who the
credentials are, the rate limit left and how many repositories are selected; or why not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from github_simulator import GitHubSimulator, seeded_world
from github_simulator.world import RealClock

SCRIPT = Path(sys.executable).with_name("tap-github-activity")


def run_test(tmp_path: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = (
        [str(SCRIPT)]
        if SCRIPT.exists()
        else [
            sys.executable,
            "-c",
            "from tap_github_activity.tap import TapGitHubActivity as T; T.cli()",
        ]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITHUB_ACTIVITY_")}
    arguments = [*command, "--config", str(config_file), "--test"]
    return subprocess.run(
        arguments,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def messages(stderr: str, level: str = "INFO") -> list[str]:
    return [line.split("|", 3)[-1].strip() for line in stderr.splitlines() if f"| {level}" in line]


@pytest.fixture
def real_time_github() -> Iterator[GitHubSimulator]:
    """A simulator on wall-clock time: the tap runs in another process, on real time (its App
    JWT must be valid by the simulator's clock)."""
    with GitHubSimulator(seeded_world(RealClock())) as simulator:
        yield simulator


def test_success_reports_who_what_limit_and_how_many(github, tmp_path):
    result = run_test(
        tmp_path,
        {
            "auth_token": "ghp_alice",
            "api_url": github.api_url,
            "repositories": ["acme/*", "acme/gone"],
        },
    )
    assert result.returncode == 0, result.stderr
    info = messages(result.stderr)
    assert "Authenticated as alice with auth_token (ending …lice)" in info
    assert "Rate limit core: 4998 of 5000 points left" in info
    assert "3 repositories selected: acme/api, acme/infra, acme/web" in info
    assert messages(result.stderr, "WARNING") == [
        "Not found or not visible to these credentials, skipped: acme/gone"
    ]
    assert result.stdout == ""  # no Singer messages
    assert [r.path for r in github.requests()] == ["/user", "/orgs/acme/repos"]


def test_a_refused_token_fails_with_the_reason(github, tmp_path):
    result = run_test(tmp_path, {"auth_token": "ghp_expired9876", "api_url": github.api_url})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert messages(result.stderr, "ERROR") == [
        "Connection test failed: GitHub rejected auth_token (ending …9876) (401 Bad "
        "credentials): check that the token is current, not revoked or expired, and copied "
        "whole."
    ]


def test_a_github_app(real_time_github, tmp_path):
    world = real_time_github.world
    app = world.add_app("31")
    installation = world.install(app, "acme")
    result = run_test(
        tmp_path,
        {"app_id": "31", "private_key": app.private_key_pem, "api_url": real_time_github.api_url},
    )
    assert result.returncode == 0, result.stderr
    info = messages(result.stderr)
    assert f"Authenticated as GitHub App 31 installation {installation.id} on acme" in info
    assert "Rate limit core: 4999 of 5000 points left" in info
    assert "3 repositories selected: acme/api, acme/infra, acme/web" in info


def test_a_wrong_app_key_fails_with_the_reason(real_time_github, tmp_path):
    world = real_time_github.world
    world.install(world.add_app("31"), "acme")
    other_key = world.add_app("99").private_key_pem
    result = run_test(
        tmp_path, {"app_id": "31", "private_key": other_key, "api_url": real_time_github.api_url}
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [error] = messages(result.stderr, "ERROR")
    assert error.startswith(
        "Connection test failed: GitHub refused the App JWT for "
        "/app/installations (status 401): check app_id '31'"
    )
