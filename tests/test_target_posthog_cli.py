"""target-posthog through its real command line: a refused key or a config mistake is one ERROR
line naming the setting, with no traceback; SIGTERM in the middle of a send passes the state on
only after the interrupted batch was sent again and accepted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posthog_fake import API_KEY, FakePostHog, PostHogFault, serve_posthog

SCRIPT = Path(sys.executable).with_name("target-posthog")

MESSAGES = [
    {
        "type": "SCHEMA",
        "stream": "releases",
        "schema": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "event_uuid": {"type": "string", "format": "uuid"},
                "created_at": {"type": "string", "format": "date-time"},
                "owner": {"type": "string"},
                "repo": {"type": "string"},
            },
        },
        "key_properties": ["id"],
    },
    {
        "type": "RECORD",
        "stream": "releases",
        "record": {
            "id": 1,
            "event_uuid": "00000000-0000-5000-8000-000000000001",
            "created_at": "2026-01-02T03:04:05Z",
            "owner": "acme",
            "repo": "api",
        },
    },
    {"type": "STATE", "value": {"bookmarks": {"releases": 1}}},
]
INPUT = "".join(json.dumps(m) + "\n" for m in MESSAGES)


@pytest.fixture
def posthog() -> Iterator[FakePostHog]:
    with serve_posthog() as fake:
        yield fake


def start(tmp_path: Path, config: dict[str, Any]) -> subprocess.Popen[str]:
    assert SCRIPT.exists(), f"{SCRIPT} is missing: run scripts/install"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_POSTHOG_")}
    return subprocess.Popen(
        [str(SCRIPT), "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def errors(stderr: str) -> list[str]:
    return [line.split("|", 3)[-1].strip() for line in stderr.splitlines() if "| ERROR" in line]


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        ({"api_key": "phc_wrong"}, "PostHog refused the api_key setting (401 at "),
        ({"host": "us.i.posthog.com"}, "host 'us.i.posthog.com' is not a URL"),
        ({"historical_migration": "sometimes"}, "historical_migration"),
        ({"batch_max_bytes": 50_000_000}, "batch_max_bytes 50000000: use 1000000 to 20000000"),
    ],
)
def test_a_mistake_is_one_line_naming_the_setting(
    tmp_path: Path, posthog: FakePostHog, settings: dict[str, Any], line: str
):
    process = start(tmp_path, {"api_key": API_KEY, "host": posthog.url, **settings})
    stdout, stderr = process.communicate(INPUT, timeout=120)
    assert process.returncode != 0
    assert "Traceback" not in stderr, stderr
    found = errors(stderr)
    assert len(found) in (1, 2), stderr  # singer-sdk adds "Config validation failed"
    assert line in found[0], found
    assert stdout == ""
    assert not posthog.events


@pytest.mark.parametrize("recovers", [True, False], ids=["resent", "refused"])
def test_sigterm_during_a_send_passes_no_state_before_its_events(
    tmp_path: Path, posthog: FakePostHog, recovers: bool
):
    """singer-sdk drains every sink on SIGTERM and then writes the state; the sink hands it the
    interrupted batch, so the state passes only once PostHog accepted it."""
    stall = posthog.inject(PostHogFault(stall=threading.Event()))
    if not recovers:
        posthog.inject(PostHogFault(status=503, times=100))
    with start(tmp_path, {"api_key": API_KEY, "host": posthog.url, "max_retries": 1}) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(INPUT)
        process.stdin.close()
        try:
            assert stall.reached.wait(timeout=60), "the target never sent its batch"
            process.send_signal(signal.SIGTERM)
            stdout = process.stdout.read()
            process.wait(timeout=120)
        finally:
            process.kill()
            assert stall.stall is not None
            stall.stall.set()
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    if recovers:
        assert len(posthog.deduplicated()) == 1
        assert states == [{"bookmarks": {"releases": 1}}]
    else:
        assert not posthog.events
        assert states == []
