"""Every form of repository selection, what each costs, missing repositories and malformed
entries."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from github_simulator import FakeClock, World, seeded_world
from tap_github_activity.errors import ConfigError
from tap_github_activity.tap import TapGitHubActivity
from tests.conftest import run_sync


@pytest.fixture
def world(clock: FakeClock) -> World:
    """acme: api, web (private), infra, archive-old (archived), api-fork (a fork);
    beta (alice is a member): api, tools; alice's own: dotfiles; zed's (unrelated): notes."""
    world = seeded_world(clock)
    world.add_repo("acme/archive-old", archived=True)
    world.add_repo("acme/api-fork", fork=True)
    world.account("beta", "Organization")
    world.add_repo("beta/api", private=True)
    world.add_repo("beta/tools")
    world.tokens["ghp_alice"].orgs.add("beta")
    world.add_repo("alice/dotfiles")
    world.add_repo("zed/notes", private=True)
    return world


def result_skips(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "skipped 4" in r.getMessage()]


def selected(config: dict[str, Any], **selection: Any) -> list[str]:
    base = {k: v for k, v in config.items() if k != "repositories"}
    result = run_sync({**base, **selection}, streams={"repositories"})
    return sorted(r["full_name"] for r in result.records.get("repositories", []))


def paths(github) -> list[str]:
    return [r.path for r in github.requests()]


def test_exact_names_cost_one_get_each(config, github):
    assert selected(config, repositories=["acme/api", "beta/tools"]) == ["acme/api", "beta/tools"]
    assert paths(github) == ["/repos/acme/api", "/repos/beta/tools"]


def test_owner_star_lists_the_owner_once(config, github):
    # Archived kept (include_archived defaults to true), forks left out (include_forks false).
    assert selected(config, repositories=["acme/*"]) == [
        "acme/api",
        "acme/archive-old",
        "acme/infra",
        "acme/web",
    ]
    assert paths(github) == ["/orgs/acme/repos"]
    assert github.requests()[0].query == {"per_page": "100", "type": "all"}


def test_other_globs_match_within_the_owner_listing(config, github):
    assert selected(config, repositories=["acme/a*"]) == ["acme/api", "acme/archive-old"]
    assert selected(config, repositories=["acme/[iw]*"]) == ["acme/infra", "acme/web"]
    assert paths(github) == ["/orgs/acme/repos", "/orgs/acme/repos"]


def test_any_owner_pattern_matches_over_visible_repositories(config, github):
    assert selected(config, repositories=["*/api"]) == ["acme/api", "beta/api"]
    assert paths(github) == ["/user/repos"]


def test_organizations_and_users(config, github):
    assert selected(config, organizations=["beta"], users=["alice"]) == [
        "alice/dotfiles",
        "beta/api",
        "beta/tools",
    ]
    assert paths(github) == ["/orgs/beta/repos", "/users/alice/repos"]
    assert github.requests()[1].query == {"per_page": "100", "type": "owner"}


def test_a_user_owner_pattern_falls_back_from_orgs_to_users(config, github):
    assert selected(config, repositories=["alice/*"]) == ["alice/dotfiles"]
    assert [(r.path, r.status) for r in github.requests()] == [
        ("/orgs/alice/repos", 404),
        ("/users/alice/repos", 200),
    ]


def test_exclusions_win_over_every_other_form(config, github):
    assert selected(
        config,
        repositories=["acme/*", "beta/api"],
        organizations=["beta"],
        exclude_repositories=["acme/a*", "*/tools"],
    ) == ["acme/infra", "acme/web", "beta/api"]


def test_archived_and_fork_filters(config, github):
    assert selected(
        config, repositories=["acme/*"], include_archived=False, include_forks=True
    ) == ["acme/api", "acme/api-fork", "acme/infra", "acme/web"]
    # A repository named exactly is kept whatever the filters say.
    assert selected(config, repositories=["acme/archive-old"], include_archived=False) == [
        "acme/archive-old"
    ]


def test_no_selection_reads_every_repository_the_token_sees(config, github):
    assert selected(config) == [
        "acme/api",
        "acme/archive-old",
        "acme/infra",
        "acme/web",
        "alice/dotfiles",
        "beta/api",
        "beta/tools",
    ]
    assert paths(github) == ["/user/repos"]
    assert github.requests()[0].query["affiliation"] == "owner,collaborator,organization_member"


def test_names_covered_by_a_listing_cost_nothing_more(config, github):
    assert selected(
        config,
        repositories=["acme/*", "acme/api", "acme/web", "acme/api-fork"],
        organizations=["beta"],
    ) == [
        "acme/api",
        "acme/api-fork",
        "acme/archive-old",
        "acme/infra",
        "acme/web",
        "beta/api",
        "beta/tools",
    ]
    assert paths(github) == ["/orgs/beta/repos", "/orgs/acme/repos"]  # no /repos/... GETs


def test_missing_repositories_are_named_in_one_warning_and_the_run_goes_on(config, github, caplog):
    with caplog.at_level(logging.INFO):
        names = selected(
            config, repositories=["acme/api", "acme/nope", "zed/notes", "ghost/*", "acme/zz*"]
        )
    assert names == ["acme/api"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "Not found or not visible to these credentials, skipped: "
        "ghost/* (no such owner), acme/zz* (matched nothing), acme/nope, "
        "zed/notes"
    ]
    assert result_skips(caplog) == [
        "repositories skipped 4 repositories: ghost/* (no such "
        "owner), acme/zz* (matched nothing), acme/nope (not found), "
        "zed/notes (not found)"
    ]
    # acme/nope is looked for in acme's listing; zed/notes (private) costs its own GET.
    assert [(r.path, r.status) for r in github.requests()] == [
        ("/orgs/ghost/repos", 404),
        ("/users/ghost/repos", 404),
        ("/orgs/acme/repos", 200),
        ("/repos/zed/notes", 404),
    ]


@pytest.mark.parametrize("entry", ["acme", "a/b/c", "", "acme/", "/api", "ac me/api"])
def test_a_malformed_entry_is_a_config_error(config, entry):
    with pytest.raises(ConfigError, match=f"repositories entry {entry!r} is malformed"):
        TapGitHubActivity(config={**config, "repositories": ["acme/api", entry]})


def test_a_malformed_login_is_a_config_error(config):
    with pytest.raises(ConfigError, match="organizations entry 'acme/api' is not a GitHub login"):
        TapGitHubActivity(config={**config, "organizations": ["acme/api"]})
