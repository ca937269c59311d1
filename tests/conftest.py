"""Fixtures: a fake clock shared by the tap and the simulator, a seeded world, the simulator,
and an in-process runner that returns the Singer messages of one sync."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from github_simulator import FakeClock, GitHubSimulator, World, seeded_world
from tap_github_activity.clock import Clock
from tap_github_activity.tap import TapGitHubActivity


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Time under the test's control: the tap's waits advance it instead of sleeping."""
    fake = FakeClock()
    monkeypatch.setattr(Clock, "now", lambda _self: fake.now())
    monkeypatch.setattr(Clock, "sleep", lambda _self, seconds: fake.sleep(seconds))
    return fake


@pytest.fixture
def world(clock: FakeClock) -> World:
    return seeded_world(clock)


EIGHT_REPOSITORIES = [
    f"acme/{name}" for name in ("api", "web", "infra", "docs", "mobile", "data", "auth", "billing")
]


def two_token_world(clock: FakeClock, *, limit_a: int, limit_b: int) -> World:
    """Eight repositories and alice's two tokens, ghp_tokenA and ghp_tokenB, with these limits."""
    world = seeded_world(clock, scale={"repos": 8})
    world.add_token("ghp_tokenA", "alice", orgs={"acme"}, limit=limit_a)
    world.add_token("ghp_tokenB", "alice", orgs={"acme"}, limit=limit_b)
    return world


@pytest.fixture
def github(world: World) -> Iterator[GitHubSimulator]:
    with GitHubSimulator(world) as simulator:
        yield simulator


def alice_config(github: GitHubSimulator, **settings: Any) -> dict[str, Any]:
    """alice's settings for acme's repositories on `github`, with `settings`."""
    return {
        "auth_token": "ghp_alice",
        "api_url": github.api_url,
        "repositories": ["acme/*"],
        **settings,
    }


@pytest.fixture
def config(github: GitHubSimulator) -> dict[str, Any]:
    return alice_config(github)


@dataclass
class SyncResult:
    """The messages of one sync, grouped."""

    messages: list[dict[str, Any]]
    tap: TapGitHubActivity
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records.setdefault(message["stream"], []).append(message["record"])

    @property
    def state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def keys(self, stream: str, *fields: str) -> list[tuple[Any, ...]]:
        return [tuple(r[f] for f in fields) for r in self.records.get(stream, [])]


def select(catalog: dict[str, Any], streams: set[str] | None) -> dict[str, Any]:
    """Select `streams` (None: all) in a discovered catalog."""
    for entry in catalog["streams"]:
        chosen = streams is None or entry["tap_stream_id"] in streams
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = chosen
    return catalog


def run_sync(
    config: dict[str, Any], *, state: dict[str, Any] | None = None, streams: set[str] | None = None
) -> SyncResult:
    """One sync in this process (so the fake clock applies); stdout captured and parsed."""
    discovered = TapGitHubActivity(config=config, validate_config=True)
    catalog = select(discovered.catalog_dict, streams)
    tap = TapGitHubActivity(config=config, state=state or {}, catalog=catalog, validate_config=True)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap.sync_all()
    messages = [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    return SyncResult(messages, tap)


@pytest.fixture
def sync() -> Any:
    return run_sync
