"""GitHub's comparison of two heads, as the simulator serves it (GraphQL `Ref.compare` and REST
`GET .../compare/{base}...{head}`) and as tap_github_activity/fetch/ancestry.py reads it."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
import requests

from github_simulator import GitHubSimulator, World, actions
from github_simulator import commits as sim
from tap_github_activity.client import GitHubClient
from tap_github_activity.fetch.ancestry import compare_alias, from_graphql, rest_ancestry
from tap_github_activity.settings import Settings

HEADERS = {"Authorization": "token ghp_alice"}


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography


def compare(github: GitHubSimulator, branch: str, previous: str) -> dict[str, Any] | None:
    query = (
        'query($r: String!, $p: String!) { repository(owner: "acme", name: "api") { '
        + compare_alias("c", "r", "p")
        + " } }"
    )
    answer = requests.post(
        f"{github.api_url}/graphql",
        json={"query": query, "variables": {"r": f"refs/heads/{branch}", "p": previous}},
        headers=HEADERS,
        timeout=10,
    ).json()
    assert "errors" not in answer, answer
    return answer["data"]["repository"]["c"]  # type: ignore[no-any-return]


def api_git(world: World) -> tuple[Any, sim.GitRepo]:
    api = world.repo("acme", "api")
    assert api is not None
    return api, sim.git(world, api)


def client(github: GitHubSimulator) -> GitHubClient:
    config = {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]}
    return GitHubClient(Settings.from_config(config, version="test"))


def test_a_fast_forward_by_old_dated_commits_is_behind_by_exactly_them(
    github: GitHubSimulator, world: World
):
    api, data = api_git(world)
    previous = data.branches["main"]
    made = sim.push_old_dated(world, api, seeded(1), "main", days_old=20)

    ref = compare(github, "main", previous)

    assert ref is not None
    assert ref["compare"] == {"status": "BEHIND", "aheadBy": 0, "behindBy": len(made)}
    ancestry = from_graphql(ref, data.branches["main"])
    assert ancestry is not None
    assert (ancestry.status, ancestry.new_commits) == ("fast-forward", 3)
    # An abbreviated oid is a headRef too; a ref moved since the head was read is not used.
    assert compare(github, "main", previous[:10]) == ref
    assert from_graphql(ref, previous) is None


def test_a_force_push_diverges_and_rest_names_the_merge_base(github: GitHubSimulator, world: World):
    api, data = api_git(world)
    previous = data.branches["feature/search"]
    fork = data.merge_base(previous, data.branches["main"])
    rebased = sim.force_push(world, api, "feature/search")
    head = data.branches["feature/search"]

    ref = compare(github, "feature/search", previous)
    assert ref is not None
    assert ref["compare"]["status"] == "DIVERGED"
    assert ref["compare"]["aheadBy"] == 3  # the commits the force-push dropped
    assert from_graphql(ref, head) is None  # GraphQL names no merge base: REST is asked

    ancestry = rest_ancestry(client(github), "acme", "api", previous, head, stream="commits")
    arrived = data.reachable(head) - data.reachable(previous)
    assert ancestry.status == "diverged"
    assert ancestry.merge_base == fork
    assert ancestry.new_commits == len(arrived)
    assert {c.oid for c in rebased} <= arrived


def test_a_reset_is_not_ahead_and_an_unknown_commit_is_unknown(
    github: GitHubSimulator, world: World
):
    _api, data = api_git(world)
    previous = data.branches["main"]
    data.branches["main"] = data.first_parents(previous)[3].oid

    ref = compare(github, "main", previous)
    assert ref is not None
    assert ref["compare"]["status"] == "AHEAD"
    assert from_graphql(ref, data.branches["main"]).nothing_new  # type: ignore[union-attr]
    gone = compare(github, "main", "0" * 40)
    assert gone is not None
    assert gone["compare"] is None
    assert from_graphql(gone, data.branches["main"]).status == "unknown"  # type: ignore[union-attr]
    assert (
        rest_ancestry(client(github), "acme", "api", "0" * 40, previous, stream="commits").status
        == "unknown"
    )


def test_rest_compare_pages_the_commits_only_head_has(github: GitHubSimulator, world: World):
    _api, data = api_git(world)
    base = data.first_parents(data.branches["main"])[7].oid
    head = data.branches["main"]
    url = f"{github.api_url}/repos/acme/api/compare/{base}...{head}"

    whole = requests.get(url, headers=HEADERS, timeout=10).json()
    assert whole["status"] == "ahead"
    assert whole["ahead_by"] == whole["total_commits"] == len(whole["commits"])
    assert whole["behind_by"] == 0
    assert whole["merge_base_commit"]["sha"] == base
    # Oldest first, as GitHub lists them.
    dates = [c["commit"]["committer"]["date"] for c in whole["commits"]]
    assert dates[-1] == max(dates)
    first = requests.get(url, headers=HEADERS, params={"per_page": 3}, timeout=10)
    assert [c["sha"] for c in first.json()["commits"]] == [c["sha"] for c in whole["commits"][:3]]
    assert 'rel="next"' in first.headers["link"]
    reverse = requests.get(
        f"{github.api_url}/repos/acme/api/compare/{head}...{base}", headers=HEADERS, timeout=10
    ).json()
    assert (reverse["status"], reverse["ahead_by"], reverse["commits"]) == (
        "behind",
        0,
        [],
    )
    missing = requests.get(
        f"{github.api_url}/repos/acme/api/compare/{base}...{'f' * 40}", headers=HEADERS, timeout=10
    )
    assert missing.status_code == 404


def test_github_refuses_to_rerun_a_run_over_30_days_old(world: World):
    api = world.repo("acme", "api")
    assert api is not None
    run = actions.add_run(world, api, seeded(2), world.now() - timedelta(days=31), "failure")
    with pytest.raises(ValueError, match="30 days"):
        actions.rerun(world, run, seeded(2), world.now())
