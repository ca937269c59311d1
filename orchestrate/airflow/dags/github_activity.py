"""GitHub activity into the warehouse, one mapped task per shard of the shard file.

Each shard runs `meltano run --state-id-suffix=<shard> tap-github-activity--<shard> <loader>`:
its own extractor (inherit_from the tap; two runs of one plugin name at once collide on its
catalog file, meltano/meltano#8763), its own state, its own credentials, read at run time from
the worker's environment or an Airflow connection. Importing this module reads the shard file
and nothing else: no network, no database. See README.md, "Running from Airflow".
"""

from __future__ import annotations

import enum
import json
import logging
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Connection, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from airflow.sdk.log import mask_secret
from github_activity_shards import (
    load,
    missing_plugin_message,
    resolve_secrets,
    shard_file_path,
)

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    SUCCESS = "success"
    RETRY = "retry"  # the task fails and Airflow runs it again, up to RETRIES times
    FAIL = "fail"  # the task fails now, no retry: running it again cannot help


# The tap's exit code -> what the shard's task does. `meltano run` itself exits 1 whenever a
# plugin fails; the tap's own code is read from Meltano's "Block run completed" log event. The
# tap's codes today: 0 success, 1 failure (of any kind, a bad setting included). A failed run
# keeps the bookmarks of what it finished (README, "Interrupted and failed runs"), so a retry
# resumes where it stopped. A code not listed here (a tap killed by a signal, a code newer than
# this table) retries; so does a failure of the loader or of Meltano itself.
TAP_EXIT_CODES: dict[int, Outcome] = {
    0: Outcome.SUCCESS,
    1: Outcome.RETRY,
}
RETRIES = 2
# A killed `meltano run` leaves its pipeline marked running for 5 minutes, refusing another.
RETRY_DELAY = timedelta(minutes=6)

# Meltano's JSON log fields that say nothing a reader of the task log needs.
_NOISE = frozenset(
    {"event", "level", "timestamp", "run_id", "_logger", "_name", "stdio", "consumer"}
    | {"producer", "cmd_type", "job_name", "name", "string_id"}
)


def outcome(returncode: int, exit_codes: dict[str, int]) -> Outcome:
    """What a finished `meltano run` means for its task (see TAP_EXIT_CODES)."""
    if returncode == 0:
        return Outcome.SUCCESS
    tap_code = exit_codes.get("extractors", 0)
    return TAP_EXIT_CODES.get(tap_code, Outcome.RETRY) if tap_code else Outcome.RETRY


def log_line(line: str, exit_codes: dict[str, int]) -> None:
    """One line of Meltano's JSON log into the task log, readable; `exit_codes` collects the
    plugins' exit codes Meltano reports."""
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        log.info("%s", line.rstrip())
        return
    exit_codes.update(event.get("exit_codes") or {})
    details = " ".join(f"{k}={v}" for k, v in event.items() if k not in _NOISE)
    source = event.get("string_id") or "meltano"
    log.info("%s %s%s", source, event.get("event", ""), f" ({details})" if details else "")


def run_meltano(command: list[str], project: Path, env: dict[str, str]) -> Outcome:
    """Run a Meltano command in `project`, its log into the task log; its outcome."""
    log.info("Running %s in %s", " ".join(command), project)
    exit_codes: dict[str, int] = {}
    with subprocess.Popen(  # noqa: S603 -- the command line is the shard file's, not input
        command,
        cwd=project,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        for line in process.stdout or ():
            log_line(line, exit_codes)
    result = outcome(process.returncode, exit_codes)
    log.info("meltano exited %s, plugins %s: %s", process.returncode, exit_codes, result.value)
    return result


def connection_field(conn_id: str, field: str) -> str | None:
    """A field of an Airflow connection: password, login, host, schema or extra.KEY."""
    connection = Connection.get(conn_id)
    if field.startswith("extra."):
        value = connection.extra_dejson.get(field.removeprefix("extra."))
    else:
        value = getattr(connection, field)
    return None if value is None else str(value)


def raise_for(result: Outcome, what: str) -> None:
    if result is Outcome.FAIL:
        raise AirflowFailException(f"{what} failed; not retried (see TAP_EXIT_CODES)")
    if result is Outcome.RETRY:
        raise AirflowException(f"{what} failed; retried (see TAP_EXIT_CODES)")


SHARDS = load(shard_file_path())


@dag(
    dag_id="github_activity",
    schedule=SHARDS.schedule,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY},
    tags=["meltano", "github"],
    doc_md=__doc__,
)
def github_activity() -> None:
    @task(map_index_template="{{ shard_name }}")
    def extract_load(shard: dict[str, Any]) -> None:
        """One shard's `meltano run`, with its settings and secrets as environment variables."""
        get_current_context()["shard_name"] = shard["shard"]
        missing = missing_plugin_message(SHARDS.project, shard["plugin"], SHARDS.loader)
        if missing:
            raise AirflowFailException(missing)
        try:
            secrets = resolve_secrets(shard["secrets"], os.environ, connection_field)
        except KeyError as exc:
            raise AirflowFailException(f"shard {shard['shard']}: {exc.args[0]}") from None
        for value in secrets.values():
            mask_secret(value)
        result = run_meltano(shard["command"], SHARDS.project, {**shard["env"], **secrets})
        raise_for(result, f"shard {shard['shard']}")

    shards = extract_load.override(
        pool=SHARDS.pool, max_active_tis_per_dagrun=SHARDS.max_parallel_shards
    ).expand(shard=[SHARDS.task_arguments(shard) for shard in SHARDS.shards])

    if SHARDS.transformer:

        @task
        def transform() -> None:
            """The transformer once every shard has loaded."""
            result = run_meltano(SHARDS.transform_command(), SHARDS.project, {})
            raise_for(result, SHARDS.transformer or "transform")

        shards >> transform()


github_activity()
