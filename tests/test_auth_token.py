"""One personal access token (auth_token): every request carries it, and GitHub's answer about
who it is shows in the connection report."""

from __future__ import annotations

from tests.conftest import run_sync


def test_every_request_is_made_with_the_token(config, github):
    result = run_sync(
        {**config, "repositories": ["acme/api", "acme/web"]}, streams={"repositories"}
    )
    assert len(result.records["repositories"]) == 2
    requests = github.requests()
    assert [r.path for r in requests] == ["/repos/acme/api", "/repos/acme/web"]
    assert {r.caller for r in requests} == {"token:alice:lice"}
    assert {r.authorization for r in requests} == {"Bearer ghp_alice"}
