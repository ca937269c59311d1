"""The simulator's issues, comments and deployments answer in GitHub's shapes and orders."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import requests

from github_simulator import GitHubSimulator, World
from github_simulator.deployments import (
    ENVIRONMENTS,
    add_deployment,
    add_status,
    deployments_of,
)
from github_simulator.issues import issue_store
from github_simulator.issues_api import DEEP_PAGE_LIMIT
from github_simulator.pulls import pulls_of

SHAPES = json.loads(
    (Path(__file__).parents[1] / "github_simulator" / "rest_shapes.json").read_text()
)
HEADERS = {"Authorization": "Bearer ghp_alice"}


def get(github: GitHubSimulator, path: str, status: int = 200, **params: Any) -> Any:
    response = requests.get(github.api_url + path, params=params, headers=HEADERS, timeout=10)
    assert response.status_code == status, response.text
    return response.json()


def shape_errors(operation: str, body: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(SHAPES[operation])
    return [error.message for error in validator.iter_errors(body)]


def test_issue_listing_holds_pull_requests_and_has_githubs_shape(github: GitHubSimulator, world):
    repo = world.repo("acme", "api")
    listed = get(github, "/repos/acme/api/issues", state="all", per_page=100)
    assert shape_errors("GET /repos/{owner}/{repo}/issues", listed) == []
    pulls = {p.number for p in pulls_of(world).by_repo[repo.id]}
    issues = {i.number for i in issue_store(world).issues[repo.id]}
    assert {i["number"] for i in listed if "pull_request" in i} == pulls
    assert {i["number"] for i in listed if "pull_request" not in i} == issues
    assert not pulls & issues  # one sequence of numbers
    # The defaults: open ones only, newest created first.
    default = get(github, "/repos/acme/api/issues", per_page=100)
    assert {i["state"] for i in default} == {"open"}
    created = [i["created_at"] for i in default]
    assert created == sorted(created, reverse=True)


def test_since_is_inclusive_and_sorts_by_update(github: GitHubSimulator, world: World):
    listed = get(github, "/repos/acme/api/issues", state="all", sort="updated", direction="asc")
    middle = listed[len(listed) // 2]["updated_at"]
    since = get(
        github,
        "/repos/acme/api/issues",
        state="all",
        sort="updated",
        direction="asc",
        since=middle,
        per_page=100,
    )
    assert since[0]["updated_at"] == middle
    assert all(i["updated_at"] >= middle for i in since)
    get(github, "/repos/acme/api/issues", 422, since="yesterday")


def test_comment_listing_shape_order_and_deep_pages(github: GitHubSimulator, world: World):
    listed = get(github, "/repos/acme/api/issues/comments", per_page=100)
    assert shape_errors("GET /repos/{owner}/{repo}/issues/comments", listed) == []
    ids = [c["id"] for c in listed]
    # Ascending id by default; direction is ignored without sort.
    assert ids == sorted(ids)
    assert [c["id"] for c in get(github, "/repos/acme/api/issues/comments", direction="desc")] == (
        ids[:30]
    )
    by_update = get(github, "/repos/acme/api/issues/comments", sort="updated", direction="desc")
    times = [c["updated_at"] for c in by_update]
    assert times == sorted(times, reverse=True)
    assert any("/pull/" in c["html_url"] for c in listed)
    refused = get(github, "/repos/acme/api/issues/comments", 422, page=DEEP_PAGE_LIMIT + 1)
    assert "cursor based pagination" in refused["message"]


def test_deployments_and_statuses_newest_first_in_githubs_shape(github: GitHubSimulator, world):
    listed = get(github, "/repos/acme/api/deployments", per_page=100)
    assert shape_errors("GET /repos/{owner}/{repo}/deployments", listed) == []
    created = [(d["created_at"], d["id"]) for d in listed]
    assert created == sorted(created, reverse=True)
    assert {
        d["environment"] for d in get(github, "/repos/acme/api/deployments", environment="staging")
    } == {"staging"}
    statuses = get(github, f"/repos/acme/api/deployments/{listed[0]['id']}/statuses")
    operation = "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
    assert shape_errors(operation, statuses) == []
    assert [s["id"] for s in statuses] == sorted((s["id"] for s in statuses), reverse=True)
    get(github, "/repos/acme/api/deployments/1/statuses", 404)


def test_a_success_inactivates_the_environments_earlier_success(github, world, clock):
    repo = world.repo("acme", "api")
    deployments = deployments_of(world, repo)
    older = next(
        d
        for d in reversed(deployments)
        if not d.transient and d.latest is not None and d.latest.state == "success"
    )
    clock.advance(600)
    environment = [name for name, _, _ in ENVIRONMENTS].index(older.environment)
    newer = add_deployment(world, random.Random(0), repo, world.now(), environment)  # noqa: S311
    add_status(world, newer, "success", world.now())
    assert older.latest is not None
    assert older.latest.state == "inactive"
    assert older.updated_at == world.now()  # the old deployment's updated_at moves
    query = """query { repository(owner: "acme", name: "api") {
      deployments(first: 100) { nodes { databaseId updatedAt state
        latestStatus { state } statuses(first: 5) { nodes { state } } } } } }"""
    response = requests.post(
        github.api_url + "/graphql", json={"query": query}, headers=HEADERS, timeout=10
    ).json()
    nodes = response["data"]["repository"]["deployments"]["nodes"]
    created = [d.id for d in sorted(deployments, key=lambda d: (d.created_at, d.id))]
    assert [n["databaseId"] for n in nodes] == created  # ascending by default
    found = next(n for n in nodes if n["databaseId"] == older.id)
    assert (found["state"], found["latestStatus"]["state"]) == ("INACTIVE", "INACTIVE")
    assert found["statuses"]["nodes"][0]["state"] == "INACTIVE"  # newest first


def test_graphql_issues_are_issues_only_and_filter_by_since(github: GitHubSimulator, world):
    repo = world.repo("acme", "api")
    issues = sorted(issue_store(world).issues[repo.id], key=lambda i: (i.updated_at, i.id))
    since = issues[len(issues) // 2].updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    query = """query($since: DateTime) { repository(owner: "acme", name: "api") {
      issues(first: 100, filterBy: {since: $since}, orderBy: {field: UPDATED_AT, direction: ASC})
      { nodes { databaseId updatedAt labels(first: 5) { nodes { name } } comments { totalCount } } }
    } }"""
    response = requests.post(
        github.api_url + "/graphql",
        json={"query": query, "variables": {"since": since}},
        headers=HEADERS,
        timeout=10,
    ).json()
    nodes = response["data"]["repository"]["issues"]["nodes"]
    assert [n["databaseId"] for n in nodes] == [
        i.id for i in issues if i.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") >= since
    ]
