"""GitHub Enterprise Server: REST under /api/v3, GraphQL at /api/graphql, GitHub App token
exchange under the same prefix; and a server that sends no rate-limit headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from github_simulator import GitHubSimulator, World
from tap_github_activity.client import GitHubClient
from tap_github_activity.settings import Settings
from tests.conftest import run_sync

VIEWER = "query { viewer { login } rateLimit { cost } }"


@pytest.fixture
def enterprise(world: World) -> Iterator[GitHubSimulator]:
    with GitHubSimulator(world, enterprise=True) as simulator:
        yield simulator


def test_rest_and_graphql_live_under_the_api_prefix(enterprise):
    assert enterprise.api_url.endswith("/api/v3")
    config = {
        "auth_token": "ghp_alice",
        "api_url": enterprise.api_url,
        "repositories": ["acme/*", "acme/api"],
    }
    result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 3
    client = result.tap.client
    assert client.settings.graphql_url == enterprise.base_url + "/api/graphql"
    assert client.graphql(VIEWER, stream="test") == {
        "viewer": {"login": "alice"},
        "rateLimit": {"cost": 1},
    }
    # The simulator answers 404 to any path outside the prefix: every request was inside it.
    assert [(r.path, r.status) for r in enterprise.requests()] == [
        ("/orgs/acme/repos", 200),
        ("/graphql", 200),
    ]


def test_app_token_exchange_uses_the_prefix(enterprise, world):
    app = world.add_app("77")
    world.install(app, "acme")
    config = {
        "app_id": "77",
        "private_key": app.private_key_pem,
        "api_url": enterprise.api_url + "/",
        "organizations": ["acme"],
    }
    result = run_sync(config, streams={"repositories"})
    assert len(result.records["repositories"]) == 3
    assert [(r.method, r.path, r.status) for r in enterprise.requests()] == [
        ("GET", "/orgs/acme/installation", 200),
        ("POST", f"/app/installations/{next(iter(app.installations))}/access_tokens", 201),
        ("GET", "/orgs/acme/repos", 200),
    ]


def test_a_server_without_rate_limit_headers_works(world, clock):
    with GitHubSimulator(world, enterprise=True, rate_limit_headers=False) as server:
        config = {
            "auth_token": "ghp_alice",
            "api_url": server.api_url,
            "repositories": ["acme/api", "acme/web", "acme/infra"],
            "rate_limit_reserve": 5000,
        }
        result = run_sync(config, streams={"repositories"})
        assert len(result.records["repositories"]) == 3
        assert [r.status for r in server.requests()] == [200, 200, 200]
        ledger = result.tap.client.ledger
        assert ledger.total_points() == server.points() == 0  # nothing was charged
        assert clock.slept == []


def test_graphql_url_follows_api_url():
    def graphql_url(api_url: str) -> str:
        settings = Settings.from_config({"auth_token": "t", "api_url": api_url}, version="0")
        return GitHubClient(settings).settings.graphql_url

    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/graphql"
