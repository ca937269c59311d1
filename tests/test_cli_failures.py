"""Failures a first run meets, through the real command line: each is one ERROR line that says
what to fix, a non-zero exit, no traceback, and nothing asked of GitHub that need not be."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from github_simulator import Fault, GitHubSimulator
from tests.test_cli_errors import base, errors, run_cli, tap_command

FIX_KEY = "use the private key (.pem) generated in the App's settings on GitHub, whole."


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


MISTAKES = {
    "misspelled setting": (
        {"auth_token": "ghp_alice", "repos": ["acme/api"]},
        "unknown setting 'repos': did you mean 'repositories'?",
    ),
    "setting of an earlier version": (
        {"auth_token": "ghp_alice", "workflow_runs_lookback_days": 3},
        "setting 'workflow_runs_lookback_days' was replaced by 'workflow_runs_rerun_window_days' "
        "(runs are now watched over GitHub's whole re-run window, 30 days by default): remove it "
        "or rename it",
    ),
    "unknown setting": (
        {"auth_token": "ghp_alice", "colour": "blue"},
        "unknown setting 'colour': `tap-github-activity --about` lists the settings",
    ),
    "garbled private key": (
        {"app_id": "12", "private_key": "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END"},
        f"private_key is not a readable RSA private key (Unable to load PEM file): {FIX_KEY}",
    ),
    "public key for private_key": (
        {"app_id": "12", "private_key": _public_pem()},
        f"private_key holds a public key, not the App's private key: {FIX_KEY}",
    ),
    "elliptic-curve key": (
        {"app_id": "12", "private_key": _pem(ec.generate_private_key(ec.SECP256R1()))},
        f"private_key is not an RSA key (GitHub Apps sign with RS256): {FIX_KEY}",
    ),
    "negative retry budget": (
        {"auth_token": "ghp_alice", "retry_max_seconds": -1},
        "retry_max_seconds must be zero or a positive whole number, not -1.",
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_configuration_mistake_fails_before_any_request(github, tmp_path, mistake):
    settings, expected = MISTAKES[mistake]
    result = run_cli(tmp_path, {**base(github), **settings})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert errors(result.stderr) == [expected]
    assert github.requests() == []


def test_singer_sdks_own_settings_are_allowed(github, tmp_path):
    config = {
        **base(github),
        "auth_token": "ghp_alice",
        "repositories": ["acme/api"],
        "stream_maps": {},
        "flattening_enabled": False,
        "emit_activate_version_messages": False,
    }
    result = run_cli(tmp_path, config, "--test")
    assert result.returncode == 0, result.stderr
    assert errors(result.stderr) == []


def _resolving(url: str) -> float:
    """Seconds the system's resolver takes to answer for the URL's host."""
    started = time.monotonic()
    with contextlib.suppress(OSError):
        socket.getaddrinfo(urlsplit(url).hostname, 80)
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("api_url", "reason"),
    [
        (
            "http://127.0.0.1:9",
            "Failed to establish a new connection: [Errno 111] Connection refused",
        ),
        ("http://api.github.invalid", "Failed to resolve 'api.github.invalid'"),
    ],
    ids=["connection refused", "no such host"],
)
def test_nothing_answering_the_first_request_is_one_line_at_once(tmp_path, api_url, reason):
    config = {"auth_token": "ghp_alice", "api_url": api_url, "repositories": ["acme/*"]}
    started = time.monotonic()
    result = run_cli(tmp_path, config)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = errors(result.stderr)[-1:]
    assert line.startswith(f"cannot reach {api_url}: {reason}")
    assert line.endswith("; check api_url and the network")
    # The process included, and one look-up of the host (the resolver's time is not the
    # tap's): not retried for half a minute.
    assert elapsed < 5 + _resolving(api_url)


def test_an_enterprise_server_url_without_api_v3_is_named(world, tmp_path):
    with GitHubSimulator(world, enterprise=True) as enterprise:
        config = {"auth_token": "ghp_alice", "api_url": enterprise.base_url}
        result = run_cli(tmp_path, {**config, "repositories": ["acme/*"]})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert errors(result.stderr)[-1] == (
        f"api_url {enterprise.base_url} does not answer like a GitHub API (GET /orgs/acme/repos "
        "answered 404 with text/html; charset=utf-8): for Enterprise Server use "
        "https://HOST/api/v3"
    )
    assert '"type":"RECORD"' not in result.stdout


def test_a_request_failing_past_its_retries_names_repository_path_status_and_request_id(
    github, tmp_path
):
    github.inject(Fault(r"^/repos/acme/api/releases$", status=503, times=10**6))
    config = {**base(github), "auth_token": "ghp_alice", "retry_max_attempts": 2}
    result = run_cli(tmp_path, config)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = errors(result.stderr)[-1]
    assert last.startswith(
        "acme/api: GET /repos/acme/api/releases failed: server error 503; still failing after "
        "2 attempts and "
    )
    assert last.endswith("(status 503, X-GitHub-Request-Id SIM:FAULT)")


def test_sigterm_during_retry_backoff_ends_the_run_at_once(github, tmp_path):
    # Worker threads sleeping between retries (budget: 15 minutes) must not hold the process.
    github.inject(Fault(r"^/repos/acme/[^/]+/releases$", status=503, times=10**6))
    config = {**base(github), "auth_token": "ghp_alice", "max_concurrent_requests": 4}
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_GITHUB_ACTIVITY_")}
    with (
        (tmp_path / "out.jsonl").open("w") as out,
        subprocess.Popen(
            [*tap_command(), "--config", str(tmp_path / "config.json")],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as process,
    ):
        try:
            assert process.stderr is not None
            for line in process.stderr:
                if "/releases: server error 503; retry 2 in" in line:
                    break
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            assert time.monotonic() - sent < 5
        finally:
            process.kill()
