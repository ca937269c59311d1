"""A GitHub App as the credential: the JWT, one installation (and token) per owner, tokens
refreshed before they expire and after a 401, the key as a file, a fixed installation_id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest

from github_simulator import FakeClock, Fault, GitHubSimulator, World
from github_simulator.world import App, Installation
from tap_github_activity.client import GitHubClient
from tap_github_activity.errors import AuthenticationError
from tap_github_activity.settings import Settings
from tests.conftest import run_sync

APP_ID = "4242"


@pytest.fixture
def app(world: World) -> App:
    """The App, installed on acme and on a second organization, beta."""
    app = world.add_app(APP_ID)
    world.account("beta", "Organization")
    world.add_repo("beta/api")
    world.add_repo("beta/tools")
    world.install(app, "acme")
    world.install(app, "beta")
    return app


def installation_of(app: App, owner: str) -> Installation:
    return next(i for i in app.installations.values() if i.account.login == owner)


def app_config(github: GitHubSimulator, app: App, **extra: Any) -> dict[str, Any]:
    return {
        "app_id": APP_ID,
        "private_key": app.private_key_pem,
        "api_url": github.api_url,
        **extra,
    }


def test_jwt_is_rs256_backdated_and_short_lived(github, app, clock: FakeClock):
    run_sync(app_config(github, app, organizations=["acme"]), streams={"repositories"})
    lookups = github.requests(r"^/orgs/acme/installation$")
    assert [r.status for r in lookups] == [200]  # the simulator verified the signature
    token = lookups[0].authorization.removeprefix("Bearer ")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token,
        app.public_key_pem,
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    now = int(clock.now())
    assert claims == {"iss": APP_ID, "iat": now - 60, "exp": now + 600}


def test_one_app_covers_two_organizations_with_two_installation_tokens(github, app):
    result = run_sync(
        app_config(github, app, organizations=["acme", "beta"]), streams={"repositories"}
    )
    assert sorted(r["full_name"] for r in result.records["repositories"]) == [
        "acme/api",
        "acme/infra",
        "acme/web",
        "beta/api",
        "beta/tools",
    ]
    acme, beta = installation_of(app, "acme"), installation_of(app, "beta")
    assert [(r.method, r.path, r.caller) for r in github.requests()] == [
        ("GET", "/orgs/acme/installation", f"app:{APP_ID}"),
        ("POST", f"/app/installations/{acme.id}/access_tokens", f"app:{APP_ID}"),
        ("GET", "/orgs/acme/repos", f"installation:{acme.id}"),
        ("GET", "/orgs/beta/installation", f"app:{APP_ID}"),
        ("POST", f"/app/installations/{beta.id}/access_tokens", f"app:{APP_ID}"),
        ("GET", "/orgs/beta/repos", f"installation:{beta.id}"),
    ]
    listings = github.requests(r"^/orgs/\w+/repos$")
    assert len({r.authorization for r in listings}) == 2  # two installation tokens
    # App calls cost no rate-limit point; each installation spent one.
    assert github.points() == 2


def test_installation_of_a_user_is_looked_up_after_the_organization_one(github, world, app):
    world.add_repo("carol/dotfiles")
    carol = world.install(app, "carol")
    result = run_sync(app_config(github, app, users=["carol"]), streams={"repositories"})
    assert [r["full_name"] for r in result.records["repositories"]] == ["carol/dotfiles"]
    assert [(r.path, r.status) for r in github.requests(r"/installation$")] == [
        ("/orgs/carol/installation", 404),
        ("/users/carol/installation", 200),
    ]
    assert github.requests(r"^/users/carol/repos$")[0].caller == f"installation:{carol.id}"


def test_installation_token_is_refreshed_when_it_expires_mid_run(github, world, app):
    acme = installation_of(app, "acme")
    acme.token_lifetime = 900  # 15 minutes; the tap refreshes 5 minutes before expiry
    for index in range(4):
        world.add_repo(f"acme/extra-{index}")
    # Reading acme/api takes 11 minutes (the fake clock jumps): the token has 4 left.
    github.inject(Fault(r"^/repos/acme/api$", advance=660))
    names = ["acme/api", "acme/web", "acme/infra", "acme/extra-0", "acme/extra-1"]
    result = run_sync(app_config(github, app, repositories=names), streams={"repositories"})
    assert len(result.records["repositories"]) == 5
    exchanges = github.requests(r"/access_tokens$")
    assert len(exchanges) == 2
    reads = github.requests(r"^/repos/")
    assert [r.status for r in reads] == [200] * 5
    first_token = reads[0].authorization
    assert [r.authorization == first_token for r in reads] == [True, False, False, False, False]


def test_a_401_on_an_installation_token_fetches_a_new_one_and_retries_once(
    github, world, app, clock
):
    client = GitHubClient(Settings.from_config(app_config(github, app), version="test"))
    assert client.get("/repos/acme/api", stream="test", owner="acme").status == 200
    # GitHub revokes the token before its announced expiry.
    for token in list(world.installation_tokens):
        installation, _ = world.installation_tokens[token]
        world.installation_tokens[token] = (installation, clock.now() - 1)
    github.reset_log()
    assert client.get("/repos/acme/web", stream="test", owner="acme").status == 200
    assert [(r.method, r.path, r.status) for r in github.requests()] == [
        ("GET", "/repos/acme/web", 401),
        ("POST", f"/app/installations/{installation_of(app, 'acme').id}/access_tokens", 201),
        ("GET", "/repos/acme/web", 200),
    ]


def test_a_secondary_limit_on_the_token_exchange_is_waited_out(github, app, clock):
    exchange = rf"^/app/installations/{installation_of(app, 'acme').id}/access_tokens$"
    github.inject(Fault(exchange, status=429, headers={"retry-after": "7"}))
    client = GitHubClient(Settings.from_config(app_config(github, app), version="test"))

    assert client.get("/repos/acme/api", stream="test", owner="acme").status == 200

    assert [(r.path, r.status) for r in github.requests(exchange)] == [
        (exchange.strip("^$"), 429),
        (exchange.strip("^$"), 201),
    ]
    assert clock.slept == [7]


def test_private_key_may_be_the_path_of_a_pem_file(github, app, tmp_path: Path):
    key_file = tmp_path / "app.private-key.pem"
    key_file.write_text(app.private_key_pem)
    result = run_sync(
        app_config(github, app, private_key=str(key_file), repositories=["beta/*"]),
        streams={"repositories"},
    )
    assert [r["full_name"] for r in result.records["repositories"]] == ["beta/api", "beta/tools"]


def test_installation_id_given_skips_the_lookup(github, app):
    acme = installation_of(app, "acme")
    result = run_sync(
        app_config(github, app, installation_id=acme.id, repositories=["acme/*"]),
        streams={"repositories"},
    )
    assert len(result.records["repositories"]) == 3
    assert [(r.method, r.path) for r in github.requests()] == [
        ("POST", f"/app/installations/{acme.id}/access_tokens"),
        ("GET", "/orgs/acme/repos"),
    ]


def test_no_selection_lists_each_installations_repositories(github, app):
    result = run_sync(app_config(github, app), streams={"repositories"})
    assert sorted(r["full_name"] for r in result.records["repositories"]) == [
        "acme/api",
        "acme/infra",
        "acme/web",
        "beta/api",
        "beta/tools",
    ]
    acme, beta = installation_of(app, "acme"), installation_of(app, "beta")
    assert [(r.method, r.path, r.caller) for r in github.requests()] == [
        ("GET", "/app/installations", f"app:{APP_ID}"),
        ("POST", f"/app/installations/{acme.id}/access_tokens", f"app:{APP_ID}"),
        ("GET", "/installation/repositories", f"installation:{acme.id}"),
        ("POST", f"/app/installations/{beta.id}/access_tokens", f"app:{APP_ID}"),
        ("GET", "/installation/repositories", f"installation:{beta.id}"),
    ]


def test_a_second_401_is_an_authentication_error_naming_the_installation(github, world, app):
    client = GitHubClient(Settings.from_config(app_config(github, app), version="test"))
    acme = installation_of(app, "acme")
    # Every token of acme's installation is refused, the fresh one too.
    github.inject(
        Fault(r"^/repos/acme/api$", status=401, times=2, body=b'{"message": "Bad credentials"}')
    )
    with pytest.raises(AuthenticationError, match=f"GitHub App {APP_ID} installation {acme.id}"):
        client.get("/repos/acme/api", stream="test", owner="acme")
    assert [(r.method, r.status) for r in github.requests()] == [
        ("GET", 200),
        ("POST", 201),
        ("GET", 401),
        ("POST", 201),
        ("GET", 401),
    ]
