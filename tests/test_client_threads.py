"""The shared client is safe to use from several threads: one requests.Session per thread,
exact counting, one App token exchange however many threads ask at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from github_simulator import FakeClock, Fault, GitHubSimulator
from tap_github_activity.client import GitHubClient
from tap_github_activity.clock import Clock
from tap_github_activity.settings import Settings


def client_for(config) -> GitHubClient:
    return GitHubClient(Settings.from_config(config, version="test"))


def test_concurrent_requests_are_each_counted_once(config, github):
    client = client_for(config)
    sessions: dict[int, int] = {}
    lock = threading.Lock()

    def work(index: int) -> list[int]:
        with lock:
            sessions[threading.get_ident()] = id(client.transport.session)
        name = ["api", "web", "infra"][index % 3]
        return [client.get(f"/repos/acme/{name}", stream=f"s{index % 2}").status for _ in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    assert results == [[200] * 10] * 8
    assert len(set(sessions.values())) == len(sessions) == 8  # a session per thread
    assert client.ledger.total_requests() == len(github.requests()) == 80
    assert client.ledger.total_points() == github.points() == 80
    assert client.ledger.requests[("s0", "core", 200)] == 40
    budget = client.limits.remaining(client.credentials[0].key, "core")
    assert budget is not None
    assert budget.remaining == github.remaining("ghp_alice") == 5000 - 80


def test_threads_share_one_installation_token(github, world):
    app = world.add_app("5")
    world.install(app, "acme")
    client = client_for(
        {"app_id": "5", "private_key": app.private_key_pem, "api_url": github.api_url}
    )
    barrier = threading.Barrier(8)

    def work(_: int) -> int:
        barrier.wait()
        return client.get("/repos/acme/api", stream="s", owner="acme").status

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, range(8))) == [200] * 8
    assert len(github.requests(r"/installation$")) == 1
    assert len(github.requests(r"/access_tokens$")) == 1
    assert len({r.authorization for r in github.requests(r"^/repos/")}) == 1


def test_requests_in_flight_are_capped_by_max_concurrent_requests(config, github):
    client = client_for({**config, "max_concurrent_requests": 2})
    # Each answer takes a little while (the simulator holds it), so the threads overlap.
    github.inject(Fault(r"^/repos/", latency=0.02, times=12))
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(lambda _: client.get("/repos/acme/api", stream="s").status, range(12))
        )
    assert statuses == [200] * 12
    assert github.max_in_flight == 2


def test_concurrent_requests_never_spend_the_reserve(github, world, clock):
    world.add_token("ghp_tokenA", "alice", orgs={"acme"}, limit=212)
    world.add_token("ghp_tokenB", "alice", orgs={"acme"}, limit=5000)
    client = client_for(
        {
            "auth_tokens": ["ghp_tokenA", "ghp_tokenB"],
            "api_url": github.api_url,
            "rate_limit_reserve": 200,
            "max_concurrent_requests": 8,
        }
    )
    client.get("/repos/acme/api", stream="s")  # token A's budget is now known: 211 left
    github.inject(Fault(r"^/repos/", latency=0.01, times=40))
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: client.get("/repos/acme/web", stream="s").status, range(40))
        )
    assert statuses == [200] * 40
    # However the answers interleave, token A is never spent below its reserve.
    left = github.remaining("ghp_tokenA")
    assert 200 <= left <= 203
    assert len(github.requests(caller="token:alice:kenA")) == 212 - left
    assert clock.slept == []


def test_a_secondary_limit_holds_back_the_other_threads(
    config: dict[str, Any],
    github: GitHubSimulator,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = client_for(config)
    github.inject(Fault(r"^/repos/acme/api$", secondary=30, times=1))
    paused = threading.Event()
    pause = client._pause

    def noting_pause(stream: str) -> None:
        paused.set()
        pause(stream)

    monkeypatch.setattr(client, "_pause", noting_pause)
    other: list[threading.Thread] = []
    sent_during_the_wait: list[int] = []

    def sleep(_self: object, seconds: float) -> None:
        if not other:  # the secondary limit's wait: meanwhile another thread asks
            thread = threading.Thread(target=lambda: client.get("/repos/acme/web", stream="s"))
            other.append(thread)
            thread.start()
            assert paused.wait(timeout=5)  # it stops before sending
            sent_during_the_wait.append(len(github.requests("/repos/acme/web")))
        clock.sleep(seconds)

    monkeypatch.setattr(Clock, "sleep", sleep)
    assert client.get("/repos/acme/api", stream="s").status == 200
    other[0].join(timeout=5)
    assert sent_during_the_wait == [0]
    assert [r.status for r in github.requests("/repos/acme/web")] == [200]
    assert clock.slept == [30.0]  # waited once, by one thread; the other found it over
