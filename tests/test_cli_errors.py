"""Mistakes through the real command line: a refused token or a config mistake is one readable
line naming the credential or setting, a non-zero exit, and no traceback; discovery needs no
credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from github_simulator import GitHubSimulator

SCRIPT = Path(sys.executable).with_name("tap-github-activity")


def tap_command() -> list[str]:
    """The tap's command line: the installed script, else the module."""
    if SCRIPT.exists():
        return [str(SCRIPT)]
    return [
        sys.executable,
        "-c",
        "from tap_github_activity.tap import TapGitHubActivity as T; T.cli()",
    ]


def run_cli(tmp_path: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = tap_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITHUB_ACTIVITY_")}
    arguments = [*command, "--config", str(config_file), *args]
    return subprocess.run(
        arguments,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def errors(stderr: str) -> list[str]:
    return [line.split("|", 3)[-1].strip() for line in stderr.splitlines() if "| ERROR" in line]


def base(github: GitHubSimulator) -> dict[str, Any]:
    return {"api_url": github.api_url, "repositories": ["acme/*"]}


MISTAKES = {
    "missing credentials": ({}, "No credentials: set auth_token"),
    "two kinds of credentials": (
        {"auth_token": "ghp_alice", "auth_tokens": ["ghp_bob"]},
        "Credentials of several kinds are set (auth_token, auth_tokens): keep exactly one.",
    ),
    "malformed repository": (
        {"auth_token": "ghp_alice", "repositories": ["acme/api/x"]},
        "repositories entry 'acme/api/x' is malformed",
    ),
    "bad api_url": (
        {"auth_token": "ghp_alice", "api_url": "api.github.com"},
        "api_url 'api.github.com' is not a URL",
    ),
    "web site for api_url": (
        {"auth_token": "ghp_alice", "api_url": "https://github.com"},
        "api_url 'https://github.com' is GitHub's web site, not its API",
    ),
    "bad start_date": (
        {"auth_token": "ghp_alice", "start_date": "last tuesday"},
        "start_date 'last tuesday' is not an ISO 8601 date",
    ),
    "wrong type": (
        {"auth_token": "ghp_alice", "organizations": "acme"},
        "Invalid config: 'acme' is not of type 'array', 'null' in config['organizations']",
    ),
    "App without key": ({"app_id": "12"}, "app_id and private_key: private_key is missing"),
    "empty tag": (
        {"auth_token": "ghp_alice", "tags": ["team-a", ""]},
        "tags must be a list of non-empty strings",
    ),
}


@pytest.mark.parametrize("mode", [[], ["--test"]], ids=["sync", "test"])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_config_mistake_is_one_line(github, tmp_path, mistake, mode):
    settings, expected = MISTAKES[mistake]
    result = run_cli(tmp_path, {**base(github), **settings}, *mode)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = errors(result.stderr)
    assert expected in line
    assert result.stdout == ""
    assert github.requests() == []  # nothing was asked of GitHub


def test_a_refused_token_names_the_credential(github, tmp_path):
    result = run_cli(tmp_path, {**base(github), "auth_token": "ghp_revoked0xyz9"})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert errors(result.stderr)[-1] == (
        "GitHub rejected auth_token (ending …xyz9) (401 Bad credentials): check that the token "
        "is current, not revoked or expired, and copied whole."
    )
    assert [r.status for r in github.requests()] == [401]  # not retried


def test_a_refused_token_among_several_names_which(github, tmp_path):
    result = run_cli(tmp_path, {**base(github), "auth_tokens": ["ghp_revoked0abc1", "x"]})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "GitHub rejected auth_tokens[0] (ending …abc1)" in errors(result.stderr)[-1]


def test_discovery_needs_no_credentials(github, tmp_path):
    result = run_cli(tmp_path, {"repositories": ["not a repo"]}, "--discover")
    assert result.returncode == 0, result.stderr
    catalog = json.loads(result.stdout)
    assert "repositories" in {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert "Traceback" not in result.stderr
    assert github.requests() == []
