"""Each fetcher called directly against the simulator, without Singer, the tap or threads: a
first fetch gives the ground truth (github_simulator/truth.py), only for the wanted streams,
and a second fetch from the state the first one kept gives nothing new."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from github_simulator import GitHubSimulator, World
from github_simulator.actions import latest_attempts
from github_simulator.truth import EXPECTED
from tap_github_activity.accounting import RequestLedger, RunSummary
from tap_github_activity.client import GitHubClient
from tap_github_activity.conditional import STATE_KEY
from tap_github_activity.fetch import Advance, Item, Keep, Repository, Request, Row
from tap_github_activity.fetch.actions import fetch_actions
from tap_github_activity.fetch.commits import fetch_commits
from tap_github_activity.fetch.pulls import fetch_pulls
from tap_github_activity.fetch.releases import fetch_releases
from tap_github_activity.fetch.statistics import fetch_statistics
from tap_github_activity.fetch.traffic import fetch_traffic
from tap_github_activity.settings import Settings
from tap_github_activity.timestamps import parse_time

Fetcher = Callable[[Request], Iterator[Item]]
FAMILIES: dict[str, tuple[Fetcher, dict[str, tuple[str, ...]]]] = {
    "pulls": (fetch_pulls, {"pull_requests": ("id",), "pull_request_reviews": ("id",)}),
    "commits": (
        fetch_commits,
        {"commits": ("repo_id", "sha"), "commit_branches": ("repo_id", "branch", "sha")},
    ),
    "releases": (fetch_releases, {"releases": ("id",)}),
    "actions": (
        fetch_actions,
        {"workflow_runs": ("id", "run_attempt"), "workflow_jobs": ("id",)},
    ),
    "traffic": (
        fetch_traffic,
        {
            "traffic_views": ("repo_id", "timestamp"),
            "traffic_clones": ("repo_id", "timestamp"),
        },
    ),
}


@pytest.fixture
def client(config: dict[str, Any], clock: Any) -> GitHubClient:
    return GitHubClient(
        Settings.from_config(config, version="test"), clock=clock, ledger=RequestLedger()
    )


def repositories(world: World) -> list[Repository]:
    return [
        Repository(repo.id, repo.owner.login, repo.name, repo.default_branch)
        for repo in sorted(world.repos.values(), key=lambda r: r.id)
    ]


def fetch(
    fetcher: Fetcher,
    client: GitHubClient,
    repository: Repository,
    streams: set[str],
    state: dict[str, dict[str, Any]],
) -> list[Item]:
    start = {
        name: parse_time(s["replication_key_value"]) if "replication_key_value" in s else None
        for name, s in state.items()
    }
    request = Request(
        client,
        client.settings,
        repository,
        frozenset(streams),
        state={name: dict(s) for name, s in state.items()},
        start=start,
        today="2026-11-20",
    )
    return list(fetcher(request))


def keep(items: list[Item], state: dict[str, dict[str, Any]]) -> None:
    """What the streams do with a fetcher's state items."""
    for item in items:
        if isinstance(item, Keep):
            state.setdefault(item.stream, {}).update(item.values)
        elif isinstance(item, Advance):
            state.setdefault(item.stream, {}).update(
                replication_key="updated_at", replication_key_value=item.value
            )


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_first_fetch_gives_the_ground_truth_and_a_second_nothing_new(
    family: str, world: World, github: GitHubSimulator, client: GitHubClient, clock: Any
):
    fetcher, keys = FAMILIES[family]
    rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {stream: {} for stream in keys}
    states: dict[int, dict[str, dict[str, Any]]] = {}
    for repository in repositories(world):
        state = states.setdefault(repository.repo_id, {})
        items = fetch(fetcher, client, repository, set(keys), state)
        keep(items, state)
        for item in items:
            if isinstance(item, Row) and item.stream in keys:
                record = {"repo_id": repository.repo_id, **item.record}
                rows[item.stream][tuple(record[k] for k in keys[item.stream])] = record
    for stream in keys:
        # Without workflow_runs_earlier_attempts: each run's latest attempt.
        expected = EXPECTED[stream](
            world, *([latest_attempts(world)] if family == "actions" else [])
        )
        assert set(rows[stream]) == set(expected), stream
        for key, fields in expected.items():
            got = rows[stream][key]
            assert {f: got[f] for f in fields if f in got} == {
                f: v for f, v in fields.items() if f in got
            }, (stream, key)

    github.reset_log()
    for repository in repositories(world):
        again = fetch(fetcher, client, repository, set(keys), states[repository.repo_id])
        assert [i for i in again if isinstance(i, Row)] == [], repository


def test_only_the_wanted_streams_get_rows(world: World, github: GitHubSimulator, client, clock):
    api = repositories(world)[0]
    items = fetch(fetch_pulls, client, api, {"pull_request_reviews"}, {})
    assert {i.stream for i in items} == {"pull_request_reviews"}
    assert isinstance(items[-1], Advance)  # the bookmark after the rows
    items = fetch(fetch_commits, client, api, {"commit_branches"}, {})
    assert {i.stream for i in items} == {"commit_branches"}
    # workflow_jobs alone: the runs are read (their state kept), not given as rows.
    items = fetch(fetch_actions, client, api, {"workflow_jobs"}, {})
    assert {i.stream for i in items if isinstance(i, Row)} == {"workflow_jobs"}
    assert {i.stream for i in items if isinstance(i, Keep)} == {"workflow_runs"}


def test_the_statistics_fetcher_gives_the_ground_truth_then_nothing(
    world: World, github: GitHubSimulator, client: GitHubClient
):
    selected = [
        {
            "id": repo.id,
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": {"login": repo.owner.login},
        }
        for repo in sorted(world.repos.values(), key=lambda r: r.id)
    ]
    state: dict[str, Any] = {}

    def run() -> list[Item]:
        return list(
            fetch_statistics(
                client,
                selected,
                state,
                max_wait=0,
                summary=RunSummary(),
                concurrently=map,
                failed=fail_the_test,
            )
        )

    items = run()
    rows = [i.record for i in items if isinstance(i, Row)]
    state.update(next(i for i in reversed(items) if isinstance(i, Keep)).values)
    got = {(r["repo_id"], r["contributor_id"], r["week_start"]) for r in rows}
    assert got == set(EXPECTED["contributor_stats"](world))
    assert len(state[STATE_KEY]) == len(selected)
    assert [i for i in run() if isinstance(i, Row)] == []  # 304s


def fail_the_test(repository: Any, error: Exception) -> None:
    raise error
