"""singer-sdk's standard tap tests (discovery, a sync of every stream, schemas, keys, typed
attributes) against the simulator.

The test class is built when this module is imported, from a config dict; the simulator's port
is only known once it runs. The class's runner keeps the dict itself (not a copy) and reads it
when its class-scoped `runner` fixture syncs, after this module's autouse fixture has started
the simulator and written its URL into the dict.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from github_simulator import GitHubSimulator, seeded_world
from github_simulator.world import RealClock
from tap_github_activity.tap import TapGitHubActivity

CONFIG: dict[str, Any] = {
    "auth_token": "ghp_alice",
    "api_url": "http://127.0.0.1:9",  # replaced by the running simulator's URL
    "repositories": ["acme/*"],
    "start_date": "2020-01-01T00:00:00Z",
}


@pytest.fixture(scope="module", autouse=True)
def simulator() -> Iterator[GitHubSimulator]:
    """A fixed seeded world on wall-clock time (the SDK's runner uses the real clock)."""
    with GitHubSimulator(seeded_world(RealClock(), seed=7)) as running:
        CONFIG["api_url"] = running.api_url
        yield running


StandardTests = get_tap_test_class(
    TapGitHubActivity,
    config=CONFIG,
    suite_config=SuiteConfig(max_records_limit=150),
    parse_env_config=False,
)


class TestTapGitHubActivity(StandardTests):  # type: ignore[misc,valid-type]
    def test_the_standard_tests_read_from_the_simulator(
        self, runner: Any, simulator: GitHubSimulator
    ) -> None:
        # The class's `runner` fixture has synced (whatever the order the tests run in):
        # through the simulator.
        assert runner.records
        assert simulator.requests(r"^/orgs/acme/repos$")
        assert {r.status for r in simulator.requests()} <= {200, 202, 204, 304, 403, 404}
