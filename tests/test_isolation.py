"""Per-repository isolation: a (repository, family) that still fails after the client's retries
is left for the next run (its bookmarks where they were) while every other repository and family
is read; the run ends failed in part (exit code 3, or 0 with fail_on_repository_errors off), the
summary names each failure; the next run catches up to exactly what a clean run holds."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import random
from typing import Any

import pytest

from github_simulator import Fault
from github_simulator.truth import MUTATIONS
from tap_github_activity.errors import AuthenticationError, ConfigError
from tap_github_activity.failures import PARTIAL_FAILURE_EXIT_CODE, PartialFailureError
from tap_github_activity.tap import TapGitHubActivity
from tests.conftest import SyncResult, run_sync, select
from tests.test_cli_errors import errors, run_cli

ISSUE_COMMENTS_OF_WEB = r"^/repos/acme/web/issues/comments$"
RELEASES_OF_ANY = r"^/repos/[^/]+/[^/]+/releases$"
FOREVER = 10**9


def partial_sync(
    config: dict[str, Any], state: dict[str, Any], streams: set[str] | None = None
) -> tuple[SyncResult, str]:
    """A sync expected to fail in part: its messages, and the error it ended with."""
    tap = TapGitHubActivity(config=config, validate_config=True)
    catalog = select(tap.catalog_dict, streams)
    tap = TapGitHubActivity(
        config=config, state=copy.deepcopy(state), catalog=catalog, validate_config=True
    )
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(PartialFailureError) as raised:
        tap.sync_all()
    assert raised.value.exit_code == PARTIAL_FAILURE_EXIT_CODE
    messages = [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    return SyncResult(messages, tap), str(raised.value)


def rows(results: list[SyncResult]) -> dict[str, dict[str, str]]:
    """The target's tables after upserting the syncs' records in order, by primary key."""
    tables: dict[str, dict[str, str]] = {}
    for result in results:
        for stream, records in result.records.items():
            keys = result.tap.streams[stream].primary_keys or ()
            table = tables.setdefault(stream, {})
            for record in records:
                key = json.dumps([record[k] for k in keys]) if keys else json.dumps(record)
                table[key] = json.dumps(record, sort_keys=True)
    return tables


def emitted(result: SyncResult, *, leave_out: set[tuple[str, str]]) -> dict[str, list[str]]:
    """Each stream's records, sorted, without those of the (stream, repository) left out."""
    return {
        stream: sorted(
            json.dumps(record, sort_keys=True)
            for record in records
            if (stream, f"{record.get('owner')}/{record.get('repo')}") not in leave_out
        )
        for stream, records in result.records.items()
    }


def partition(state: dict[str, Any], stream: str, repo_id: int) -> dict[str, Any] | None:
    """`stream`'s state for the repository `repo_id`, None when it has none."""
    for entry in state.get("bookmarks", {}).get(stream, {}).get("partitions", []):
        if entry["context"].get("repo_id") == repo_id:
            return {k: v for k, v in entry.items() if k != "context"}
    return None


def mutate(world: Any) -> None:
    rng = random.Random(11)  # noqa: S311 -- reproducible test data, not cryptography
    for change in MUTATIONS.values():
        change(world, rng)


def test_one_failing_family_is_left_for_the_next_run_and_the_rest_equals_a_clean_run(
    config, github, world, clock, caplog
):
    first = run_sync(config)
    mutate(world)
    fault = github.inject(Fault(ISSUE_COMMENTS_OF_WEB, status=500, times=FOREVER))
    with caplog.at_level(logging.WARNING, logger="tap_github_activity"):
        partial, error = partial_sync({**config, "retry_max_attempts": 6}, first.state)
    failing = [r for r in github.requests(ISSUE_COMMENTS_OF_WEB) if r.status == 500]
    assert len(failing) == 6  # retry_max_attempts
    fault.times = 0
    clean = run_sync(config, state=copy.deepcopy(first.state))

    # Every other repository and family: exactly a clean run's rows.
    web_issues = {("issues", "acme/web"), ("issue_comments", "acme/web")}
    assert emitted(partial, leave_out=web_issues) == emitted(clean, leave_out=web_issues)
    assert partial.records["issues"], "the web issues read before the failure are emitted"
    # The failed family's bookmarks did not move, the issues' included (their rows were read).
    web, api = (world.repo("acme", name).id for name in ("web", "api"))
    for stream in ("issues", "issue_comments"):
        assert partition(partial.state, stream, web) == partition(first.state, stream, web)
        assert partition(clean.state, stream, web) != partition(first.state, stream, web)
    for stream in ("issues", "issue_comments"):
        assert partition(partial.state, stream, api) == partition(clean.state, stream, api)

    # The summary: one self-contained ERROR line with repository, method, path, status, id.
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert lines[-1].startswith(
        "acme/web: issues, issue_comments (issues) not read: GET /repos/acme/web/issues/comments "
        "answered status 500 (X-GitHub-Request-Id SIM:FAULT): server error 500; still failing "
        "after 6 attempts and "
    )
    assert lines[-1].endswith(  # the seconds waited between: backoff with jitter
        " s of waiting (retry_max_attempts 6, retry_max_seconds 900); its bookmarks are kept, "
        "the next run reads it again"
    )
    assert all(r.exc_info is None for r in caplog.records)
    assert "1 repository stream families failed" in error

    # The next run, without the fault, catches up: the tables equal the clean chain's.
    catch_up = run_sync(config, state=copy.deepcopy(partial.state))
    assert rows([first, partial, catch_up]) == rows([first, clean])
    for stream in ("issues", "issue_comments"):
        assert partition(catch_up.state, stream, "web") == partition(clean.state, stream, "web")


def test_an_outage_of_one_endpoint_for_the_whole_run_loses_nothing(config, github, world, clock):
    first = run_sync(config)
    mutate(world)
    fault = github.inject(Fault(RELEASES_OF_ANY, status=503, times=FOREVER))
    partial, error = partial_sync(config, first.state)
    failed = partial.tap.failures.failed
    selected = sorted(r["full_name"] for r in partial.tap.selected_repositories())
    assert len(selected) == 4  # the three of the first sync and a new one
    assert sorted(failed) == [(name, "releases") for name in selected]
    for failure in failed.values():
        assert (failure.method, failure.status, failure.request_id) == ("GET", "503", "SIM:FAULT")
        assert failure.path == f"/repos/{failure.repository}/releases"
    assert "4 repository stream families failed" in error
    assert "releases" not in partial.records
    fault.times = 0
    clean = run_sync(config, state=copy.deepcopy(first.state))
    catch_up = run_sync(config, state=copy.deepcopy(partial.state))
    assert rows([first, partial, catch_up]) == rows([first, clean])


def test_a_fatal_failure_still_ends_the_run_at_once(config, github, world, clock):
    github.inject(Fault(ISSUE_COMMENTS_OF_WEB, status=401, times=FOREVER))
    with pytest.raises(AuthenticationError):
        run_sync(config)


PERMANENT = Fault(ISSUE_COMMENTS_OF_WEB, status=422, times=FOREVER)


@pytest.mark.parametrize(("fail", "code"), [(None, PARTIAL_FAILURE_EXIT_CODE), (False, 0)])
def test_the_command_line_exits_with_the_documented_code(tmp_path, github, fail, code):
    github.inject(
        Fault(
            PERMANENT.path,
            status=422,
            times=FOREVER,
            body=b'{"message": "Pagination is limited for this resource."}',
        )
    )
    config = {"auth_token": "ghp_alice", "api_url": github.api_url, "repositories": ["acme/*"]}
    if fail is not None:
        config["fail_on_repository_errors"] = fail
    result = run_cli(tmp_path, config)
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    summary = [line for line in errors(result.stderr) if line.startswith("acme/web: ")]
    assert len(summary) == 1
    for part in ("GET /repos/acme/web/issues/comments", "status 422", "SIM:FAULT", "issues"):
        assert part in summary[0]
    assert "Pagination is limited" in summary[0]
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    streams = {m["stream"] for m in records if m["type"] == "RECORD"}
    assert {"repositories", "releases", "pull_requests", "workflow_runs"} <= streams
    assert records[-1]["type"] == "STATE"


def test_a_repository_whose_statistics_fail_is_asked_again_next_run(config, github, world, clock):
    streams = {"repositories", "contributor_stats"}
    first = run_sync(config, streams=streams)
    mutate(world)
    fault = github.inject(Fault(r"^/repos/acme/web/stats/contributors$", status=500, times=FOREVER))
    partial, _ = partial_sync(config, first.state, streams=streams)
    assert list(partial.tap.failures.failed) == [("acme/web", "contributor_stats")]
    fault.times = 0
    clean = run_sync(config, state=copy.deepcopy(first.state), streams=streams)
    web = {("contributor_stats", "acme/web")}
    assert emitted(partial, leave_out=web) == emitted(clean, leave_out=web)
    catch_up = run_sync(config, state=copy.deepcopy(partial.state), streams=streams)
    assert rows([first, partial, catch_up]) == rows([first, clean])


def test_fail_on_repository_errors_must_be_a_boolean(config):
    with pytest.raises(ConfigError, match=r"in config\['fail_on_repository_errors'\]$"):
        TapGitHubActivity(config={**config, "fail_on_repository_errors": 1})
    assert TapGitHubActivity(config=config).settings.fail_on_repository_errors is True
