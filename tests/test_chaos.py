"""Chaos equivalence: under the simulator's fault profile (github_simulator/chaos.py: every way
GitHub fails, a 10-minute outage included), a first sync, a sync with nothing changed and a sync
after every registered mutation emit, once upserted by key, exactly the rows of the same three
syncs without faults. State is chained from sync to sync; time is the fake clock's (the tap's
waits move it, nothing sleeps but the one read timeout of each profile)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from github_simulator import FakeClock, FaultProfile, GitHubSimulator, seeded_world
from github_simulator.chaos import MODES
from github_simulator.truth import MUTATIONS
from tap_github_activity.clock import Clock
from tests.conftest import SyncResult, run_sync

SEEDS = [11, 23, 37]
STEPS = ("first sync", "sync with nothing changed", "sync after every mutation")
# Both chains mutate their world at the same moment of the world's time, whatever the faults
# cost the chaotic chain's first two syncs in waiting.
MUTATION_AFTER = 3 * 3600.0
REQUEST_TIMEOUT = 1
# What the tap counts as a retry, for each mode of the profile.
RETRIED_AS = {
    "server_error": "server_error",
    "html_gateway": "server_error",
    "outage": "server_error",
    "reset": "connection",
    "truncate": "broken_body",
    "graphql_partial": "graphql_error",
    "graphql_null": "graphql_error",
    "graphql_internal": "graphql_error",
    "timeout": "timeout",
    "secondary_after": "secondary_limit",
    "secondary_bare": "secondary_limit",
    "secondary_429": "secondary_limit",
}

Tables = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


@dataclass
class Chain:
    """The three syncs' tables after each (upserted by key), and what the faults cost."""

    tables: list[Tables] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    points: int = 0
    slept: float = 0.0


def upsert(tables: Tables, result: SyncResult) -> Tables:
    keys = {m["stream"]: m["key_properties"] for m in result.messages if m["type"] == "SCHEMA"}
    merged = {stream: dict(rows) for stream, rows in tables.items()}
    for stream, records in result.records.items():
        for record in records:
            merged.setdefault(stream, {})[tuple(record[k] for k in keys[stream])] = record
    return merged


@pytest.fixture
def use_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point the tap's clock at a chain's own fake clock."""

    def use(fake: FakeClock) -> None:
        monkeypatch.setattr(Clock, "now", lambda _self: fake.now())
        monkeypatch.setattr(Clock, "sleep", lambda _self, seconds: fake.sleep(seconds))

    return use


def sync_chain(use_clock: Any, seed: int | None) -> Chain:
    clock = FakeClock()
    use_clock(clock)
    started = clock.now()
    world = seeded_world(clock)
    chain = Chain()
    with GitHubSimulator(world) as github:
        if seed is not None:
            github.chaos = FaultProfile(seed, timeout_stall=REQUEST_TIMEOUT + 0.5)
        config = {
            "auth_token": "ghp_alice",
            "api_url": github.api_url,
            "repositories": ["acme/*"],
            "request_timeout": REQUEST_TIMEOUT,
        }
        state: dict[str, Any] | None = None
        tables: Tables = {}
        for step in STEPS:
            if step == "sync after every mutation":
                assert clock.now() < started + MUTATION_AFTER, "the faults took hours"
                clock.advance(started + MUTATION_AFTER - clock.now())
                for name, mutation in MUTATIONS.items():
                    mutation(world, random.Random(f"chaos:{name}"))  # noqa: S311 -- test data
            result = run_sync(config, state=state)
            tables = upsert(tables, result)
            chain.tables.append(tables)
            state = result.state
            chain.retries.update(result.tap.client.ledger.retries_by_mode())
        chain.requests = len(github.requests())
        chain.points = github.points()
        chain.slept = sum(clock.slept)
        if github.chaos is not None:
            chain.injected = github.chaos.injected
    return chain


@pytest.fixture(scope="module")
def clean_tables() -> dict[str, Any]:
    """Filled by the first test that needs the chain without faults (one per module)."""
    return {}


@pytest.mark.parametrize("seed", SEEDS)
def test_syncs_under_faults_emit_exactly_the_rows_of_syncs_without(
    use_clock: Any, clean_tables: dict[str, Any], seed: int
):
    if "chain" not in clean_tables:
        clean_tables["chain"] = sync_chain(use_clock, None)
    clean: Chain = clean_tables["chain"]
    chaotic = sync_chain(use_clock, seed)

    # Every mode of the profile was served, the outage for ten minutes of the world's time.
    assert set(chaotic.injected) == set(MODES)
    assert chaotic.slept >= 600
    for step, expected, got in zip(STEPS, clean.tables, chaotic.tables, strict=True):
        assert set(got) == set(expected), step
        for stream in expected:
            missing = expected[stream].keys() - got[stream].keys()
            extra = got[stream].keys() - expected[stream].keys()
            changed = [
                k
                for k in expected[stream].keys() & got[stream].keys()
                if expected[stream][k] != got[stream][k]
            ]
            assert (missing, extra, changed[:3]) == (set(), set(), []), f"{step}: {stream}"

    # Each mode was retried as what it is (a served fault may be retried by a later fault of
    # another mode too: at least as many retries as faults of each kind).
    expected_retries: Counter[str] = Counter()
    for mode, count in chaotic.injected.items():
        if mode in RETRIED_AS:
            expected_retries[RETRIED_AS[mode]] += count
    for kind, count in expected_retries.items():
        assert chaotic.retries[kind] >= count, (kind, dict(chaotic.retries))
    print(
        f"seed {seed}: injected {dict(sorted(chaotic.injected.items()))}; retried "
        f"{dict(sorted(chaotic.retries.items()))}; requests {chaotic.requests} vs "
        f"{clean.requests} clean, points {chaotic.points} vs {clean.points}, "
        f"waited {chaotic.slept:.0f} s of fake time"
    )
