"""The github_activity DAG as Airflow parses it: a cheap import, exactly the expected command per
shard, the shard file's checks, the exit-code table, and where plugins and secrets come from."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import github_activity
import github_activity_shards
import pytest
import yaml
from airflow.dag_processing.dagbag import BundleDagBag
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from tests.airflow.conftest import DAGS, ROOT

SAMPLE = ROOT / "orchestrate" / "airflow" / "shards.yml"

# Parses the DAG folder as Airflow 3 parses a bundle (its root on sys.path), in a fresh
# interpreter once Airflow itself is imported, with the network, databases and subprocesses
# refused: what a DAG processor pays on every parse.
IMPORT_GUARD = textwrap.dedent(
    """
    import json, socket, sqlite3, subprocess, sys
    from airflow.dag_processing.dagbag import BundleDagBag
    from pathlib import Path
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    calls = []

    def refuse(what):
        def refused(*args, **kwargs):
            calls.append(what)
            raise RuntimeError(what + " while importing the DAG")
        return refused

    socket.socket.connect = refuse("socket connect")
    socket.create_connection = refuse("socket connection")
    socket.getaddrinfo = refuse("name lookup")
    sqlite3.connect = refuse("sqlite connection")
    subprocess.Popen.__init__ = refuse("subprocess")
    event.listen(Pool, "connect", refuse("database connection"))
    bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]))
    print(json.dumps({"errors": bag.import_errors, "dags": sorted(bag.dags), "calls": calls}))
    """
)


def parse_dag() -> Any:
    bag = BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)
    assert bag.import_errors == {}
    return bag.dags["github_activity"]


def test_the_dag_imports_without_network_database_or_subprocess():
    parsed = subprocess.run(
        [sys.executable, "-c", IMPORT_GUARD, str(DAGS)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(parsed.stdout.splitlines()[-1])
    assert result == {"errors": {}, "dags": ["github_activity"], "calls": []}


def test_one_mapped_task_per_sample_shard_with_exactly_these_commands():
    dag = parse_dag()
    assert set(dag.task_dict) == {"extract_load"}  # no transformer in the sample
    task = dag.task_dict["extract_load"]
    assert (task.pool, task.max_active_tis_per_dagrun) == ("default_pool", 1)
    assert (task.retries, task.retry_delay.total_seconds()) == (2, 360)
    meltano = str(ROOT / ".venv" / "bin" / "meltano")
    assert task.op_kwargs_expand_input.value["shard"] == [
        {
            "shard": "acme",
            "plugin": "tap-github-activity--acme",
            "command": [
                meltano,
                "--log-format=json",
                "run",
                "--state-id-suffix=acme",
                "tap-github-activity--acme",
                "target-postgres",
            ],
            "env": {
                "TAP_GITHUB_ACTIVITY__ACME_ORGANIZATIONS": '["acme"]',
                "TAP_GITHUB_ACTIVITY__ACME_START_DATE": "2025-01-01",
            },
            "secrets": {"TAP_GITHUB_ACTIVITY__ACME_AUTH_TOKEN": {"env": "GITHUB_TOKEN_ACME"}},
        },
        {
            "shard": "globex",
            "plugin": "tap-github-activity--globex",
            "command": [
                meltano,
                "--log-format=json",
                "run",
                "--state-id-suffix=globex",
                "tap-github-activity--globex",
                "target-postgres",
            ],
            "env": {
                "TAP_GITHUB_ACTIVITY__GLOBEX_APP_ID": "123456",
                "TAP_GITHUB_ACTIVITY__GLOBEX_INSTALLATION_ID": "7654321",
                "TAP_GITHUB_ACTIVITY__GLOBEX_ORGANIZATIONS": '["globex"]',
            },
            "secrets": {
                "TAP_GITHUB_ACTIVITY__GLOBEX_PRIVATE_KEY": {
                    "connection": "github_app_globex",
                    "field": "password",
                }
            },
        },
    ]


def write_shards(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shards.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_loader_transformer_and_parallelism_come_from_the_shard_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = write_shards(
        tmp_path,
        """
        meltano: {project: ., executable: meltano}
        loader: target-duckdb
        transformer: dbt-postgres:build
        pool: github_app
        max_parallel_shards: 3
        shards:
          - name: a
            credentials: {auth_token: {env: TOKEN_A}}
        """,
    )
    monkeypatch.setenv("GITHUB_ACTIVITY_SHARDS", str(path))
    dag = parse_dag()
    assert set(dag.task_dict) == {"extract_load", "transform"}
    task = dag.task_dict["extract_load"]
    assert (task.pool, task.max_active_tis_per_dagrun) == ("github_app", 3)
    assert task.op_kwargs_expand_input.value["shard"][0]["command"] == [
        "meltano",
        "--log-format=json",
        "run",
        "--state-id-suffix=a",
        "tap-github-activity--a",
        "target-duckdb",
    ]
    assert dag.task_dict["transform"].upstream_task_ids == {"extract_load"}
    shards = github_activity_shards.load(path)
    assert shards.transform_command() == [
        "meltano",
        "--log-format=json",
        "run",
        "dbt-postgres:build",
    ]


@pytest.mark.parametrize(
    ("shard", "message"),
    [
        (
            "{name: a, settings: {auth_token: ghp_x}, credentials: {app_id: {env: A}}}",
            "shards[0].settings.auth_token: a secret: move it to credentials",
        ),
        ("{name: A b, credentials: {auth_token: {env: T}}}", "shards[0].name: 'A b' is not"),
        ("{name: a, credentials: {auth_token: ghp_x}}", "shards[0].credentials.auth_token: give"),
        (
            "{name: a, credentials: {private_key: {connection: c, field: secret}}}",
            "field 'secret' is not one of",
        ),
        ("{name: a, settings: {organizations: [a]}}", "shards[0].credentials: no credentials"),
        ("{name: a, token: x, credentials: {auth_token: {env: T}}}", "unknown key 'token'"),
    ],
)
def test_a_bad_shard_is_one_line_naming_the_key(tmp_path: Path, shard: str, message: str):
    path = write_shards(tmp_path, f"meltano: {{project: .}}\nshards:\n  - {shard}\n")
    module = github_activity_shards
    with pytest.raises(module.ShardFileError) as raised:
        module.load(path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{path}: ")
    assert "\n" not in str(raised.value)


def test_a_misspelt_meltano_key_is_refused(tmp_path: Path):
    path = write_shards(tmp_path, "meltano: {excutable: meltano}\nshards: []\n")
    with pytest.raises(github_activity_shards.ShardFileError, match="meltano: a mapping of"):
        github_activity_shards.load(path)


def test_two_shard_names_that_meltano_reads_from_the_same_variables_are_refused(tmp_path: Path):
    path = write_shards(
        tmp_path,
        """
        shards:
          - {name: my-org, credentials: {auth_token: {env: A}}}
          - {name: my_org, credentials: {auth_token: {env: B}}}
        """,
    )
    module = github_activity_shards
    with pytest.raises(module.ShardFileError, match="'my-org' and 'my_org' share environment"):
        module.load(path)


def test_the_generated_plugins_are_what_meltano_yml_includes(tmp_path: Path):
    module = github_activity_shards
    patterns = yaml.safe_load((ROOT / "meltano.yml").read_text())["include_paths"]
    assert any(fnmatch.fnmatch(f"./{module.PLUGINS_FILE}", p) for p in patterns), patterns

    project = tmp_path / "project"
    project.mkdir()
    (project / "meltano.yml").write_text(
        yaml.safe_dump(
            {
                "include_paths": patterns,
                "plugins": {"extractors": [{"name": "x"}], "loaders": [{"name": "target-x"}]},
            }
        )
    )
    path = write_shards(
        tmp_path,
        """
        meltano: {project: project}
        shards:
          - {name: acme, credentials: {auth_token: {env: A}}}
        """,
    )
    assert module.missing_plugin_message(project, "tap-github-activity--acme", "target-x") == (
        f"The Meltano project {project} declares no extractor tap-github-activity--acme. "
        "Generate the shards' plugins with `python orchestrate/airflow/dags/"
        "github_activity_shards.py` (it writes orchestrate/airflow/shards.meltano.yml, which "
        "meltano.yml's include_paths must match), or declare it in meltano.yml with "
        "inherit_from: tap-github-activity."
    )
    assert module.main([str(path)]) == 0
    assert module.missing_plugin_message(project, "tap-github-activity--acme", "target-x") is None
    assert module.missing_plugin_message(project, "tap-github-activity--acme", "target-y") == (
        f"The Meltano project {project} declares no loader target-y: set the shard file's "
        "loader to one of meltano.yml's loaders."
    )
    assert yaml.safe_load((project / module.PLUGINS_FILE).read_text()) == {
        "plugins": {
            "extractors": [
                {"name": "tap-github-activity--acme", "inherit_from": "tap-github-activity"}
            ]
        }
    }


def test_secrets_are_read_where_the_shard_file_says_or_name_what_is_missing():
    module = github_activity_shards
    secrets = {
        "TAP_GITHUB_ACTIVITY__A_AUTH_TOKEN": {"env": "TOKEN_A"},
        "TAP_GITHUB_ACTIVITY__A_PRIVATE_KEY": {"connection": "app", "field": "password"},
    }
    fields = {("app", "password"): "-----BEGIN KEY-----"}
    assert module.resolve_secrets(
        secrets, {"TOKEN_A": "ghp_a"}, lambda conn, field: fields.get((conn, field))
    ) == {
        "TAP_GITHUB_ACTIVITY__A_AUTH_TOKEN": "ghp_a",
        "TAP_GITHUB_ACTIVITY__A_PRIVATE_KEY": "-----BEGIN KEY-----",
    }
    with pytest.raises(KeyError) as raised:
        module.resolve_secrets(secrets, {}, lambda conn, field: fields.get((conn, field)))
    assert raised.value.args[0] == (
        "TAP_GITHUB_ACTIVITY__A_AUTH_TOKEN comes from the environment variable TOKEN_A, "
        "which is not set or empty"
    )
    with pytest.raises(KeyError, match="field password of Airflow connection app"):
        module.resolve_secrets(secrets, {"TOKEN_A": "ghp_a"}, lambda conn, field: None)


# Meltano's own log event when the tap of a `meltano run` fails (meltano 4.4.1, --log-format=json).
BLOCK_FAILED = (
    '{"set_number": 0, "block_type": "ExtractLoadBlocks", "success": false, "err": "Extractor '
    'failed", "exit_codes": {"extractors": 1}, "duration_seconds": 3.362, "event": "Block run '
    'completed", "level": "error", "timestamp": "2026-12-06T16:30:18.017870Z"}'
)


def test_exit_codes_decide_between_success_retry_and_failure():
    module = github_activity
    outcome = module.Outcome
    assert module.TAP_EXIT_CODES == {0: outcome.SUCCESS, 1: outcome.RETRY}
    exit_codes: dict[str, int] = {}
    module.log_line(BLOCK_FAILED, exit_codes)
    assert exit_codes == {"extractors": 1}
    assert module.outcome(1, exit_codes) is outcome.RETRY
    assert module.outcome(0, {}) is outcome.SUCCESS
    # The loader failed after the tap succeeded, and a tap code this table does not know yet.
    assert module.outcome(1, {"extractors": 0, "loaders": 1}) is outcome.RETRY
    assert module.outcome(1, {"extractors": 77}) is outcome.RETRY
    assert module.outcome(1, {}) is outcome.RETRY


def test_a_meltano_run_is_logged_readably_and_its_exit_codes_decide(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    # A stand-in for `meltano --log-format=json run`: a plugin's line, then the failed block.
    fake_meltano = [
        sys.executable,
        "-c",
        "import sys; "
        'print(\'{"string_id": "tap-github-activity--a", "event": "GET /user/repos: 502"}\'); '
        f"print({BLOCK_FAILED!r}); sys.exit(1)",
    ]
    caplog.set_level("INFO")
    result = github_activity.run_meltano(fake_meltano, tmp_path, {})
    assert result is github_activity.Outcome.RETRY
    assert "tap-github-activity--a GET /user/repos: 502" in caplog.messages
    assert "meltano exited 1, plugins {'extractors': 1}: retry" in caplog.messages
    with pytest.raises(AirflowException, match="shard a failed; retried") as retried:
        github_activity.raise_for(result, "shard a")
    assert not isinstance(retried.value, AirflowFailException)
    with pytest.raises(AirflowFailException, match="shard a failed; not retried"):
        github_activity.raise_for(github_activity.Outcome.FAIL, "shard a")
    github_activity.raise_for(github_activity.Outcome.SUCCESS, "shard a")
