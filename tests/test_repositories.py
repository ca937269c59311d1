"""The repositories stream: fields, types, and what selecting them costs."""

from __future__ import annotations

from github_simulator import GitHubSimulator
from tests.conftest import run_sync


def test_repositories_are_emitted_with_warehouse_types(config, github: GitHubSimulator):
    result = run_sync(config, streams={"repositories"})
    rows = result.records["repositories"]
    assert sorted(r["full_name"] for r in rows) == ["acme/api", "acme/infra", "acme/web"]
    api = next(r for r in rows if r["name"] == "api")
    assert isinstance(api["id"], int)
    assert api["owner_login"] == "acme"
    assert api["default_branch"] == "main"
    assert api["license_key"] == "mit"
    assert api["created_at"].endswith("Z") or "+00:00" in api["created_at"]
    # One listing of the organization, nothing per repository.
    assert [r.path for r in github.requests()] == ["/orgs/acme/repos"]
