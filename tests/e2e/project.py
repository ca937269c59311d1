"""The repository's Meltano project, run by the real CLI with a test's settings.

Each test gets its own copy of the project: the repository's meltano.yml in a temporary
directory whose `.meltano/extractors` and `.meltano/loaders` link to the plugins `meltano install`
put in the repository (scripts/test installs them before pytest starts). Meltano's run files,
logs and system database (where it keeps state) stay in the copy, so tests never read or change
a developer's own runs, nor each other's: Meltano cannot run the same plugin twice at once in
one project (meltano/meltano issue 8763). Every setting comes from environment variables.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "FOREIGN_PREFIXES",
    "ROOT",
    "MeltanoProject",
    "Run",
    "require_installed",
    "run_in_root",
    "state_id",
]

ROOT = Path(__file__).resolve().parents[2]
MELTANO = Path(sys.executable).with_name("meltano")
EXTRACTOR = "tap-github-activity"

# plugin -> its executable inside the project's .meltano/ directory
EXECUTABLES = {
    EXTRACTOR: "extractors/tap-github-activity/venv/bin/tap-github-activity",
    "target-jsonl": "loaders/target-jsonl/venv/bin/target-jsonl",
    "target-duckdb": "loaders/target-duckdb/venv/bin/target-duckdb",
    "target-postgres": "loaders/target-postgres/venv/bin/target-postgres",
    "target-posthog": "loaders/target-posthog/venv/bin/target-posthog",
    "dbt-duckdb": "transformers/dbt-duckdb/venv/bin/dbt",
    "dbt-postgres": "transformers/dbt-postgres/venv/bin/dbt",
}

# Variables of the caller's shell that would change the runs' settings.
FOREIGN_PREFIXES = (
    "TAP_GITHUB_ACTIVITY_",
    "TARGET_JSONL_",
    "TARGET_DUCKDB_",
    "TARGET_POSTGRES_",
    "TARGET_POSTHOG_",
    "DBT_",
    "MELTANO_",
)


def require_installed(*plugins: str) -> None:
    """Fail (not skip) with the fix when `meltano install` has not been run."""
    missing = [
        name
        for name in (EXTRACTOR, *plugins)
        if not (ROOT / ".meltano" / EXECUTABLES[name]).exists()
    ]
    if not MELTANO.exists():
        missing.insert(0, f"meltano itself ({MELTANO})")
    if missing:
        pytest.fail(
            f"Not installed: {', '.join(missing)}. Run scripts/test, which installs the "
            "package with its test extras and runs `meltano install` before pytest "
            "(or run `.venv/bin/meltano install` once).",
            pytrace=False,
        )


def run_in_root(command: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run a command of the repository (a script, a README block) from its root, as a user
    would; fail the test with the end of its output unless it succeeds. Returns stdout."""
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)[:200]} exited {done.returncode}:\n"
            f"{done.stdout[-2000:]}{done.stderr[-4000:]}",
            pytrace=False,
        )
    return done.stdout


def state_id(loader: str) -> str:
    """The state id `meltano run` uses in the default environment."""
    return f"dev:{EXTRACTOR}-to-{loader}"


@dataclass
class Run:
    """One finished `meltano` command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    log: str

    def tail(self, lines: int = 40) -> str:
        """The end of the command's log, for failure messages."""
        return "\n".join(self.log.splitlines()[-lines:])


class MeltanoProject:
    """`meltano` commands in the repository's project, configured by `settings` (environment
    variable -> value) and isolated in `workdir`."""

    def __init__(self, workdir: Path, settings: dict[str, str]) -> None:
        self.workdir = workdir
        self.root = workdir / "project"
        (self.root / ".meltano").mkdir(parents=True)
        shutil.copy(ROOT / "meltano.yml", self.root / "meltano.yml")
        for kind in ("extractors", "loaders", "transformers"):
            (self.root / ".meltano" / kind).symlink_to(ROOT / ".meltano" / kind)
        # The dbt project, without what dbt writes into it (target/, logs/).
        shutil.copytree(
            ROOT / "transform",
            self.root / "transform",
            ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
        )
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(FOREIGN_PREFIXES)
        }
        self.env.update(
            {
                "MELTANO_PROJECT_ROOT": str(self.root),
                "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
                "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "MELTANO_CLI_LOG_FORMAT": "uncolored",
                **settings,
            }
        )
        self.commands = 0

    def command(self, *args: str) -> list[str]:
        """The full command line of `meltano ARGS`."""
        return [str(MELTANO), *args]

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> Run:
        """Run `meltano ARGS` to the end; with `check`, a non-zero exit fails the test."""
        process, log_path = self.start(*args, stdout=subprocess.PIPE)
        try:
            stdout, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(process)
            pytest.fail(
                f"`meltano {' '.join(args)}` ran longer than {timeout} s:\n"
                f"{_tail(log_path.read_text())}",
                pytrace=False,
            )
        run = Run(args, process.returncode, stdout.decode(), log_path.read_text())
        if check and run.returncode != 0:
            pytest.fail(
                f"`meltano {' '.join(args)}` exited {run.returncode}:\n{run.tail()}", pytrace=False
            )
        return run

    def start(
        self,
        *args: str,
        stdout: int | None = None,
    ) -> tuple[subprocess.Popen[bytes], Path]:
        """Start `meltano ARGS` in its own process group (so the tap and the target it starts
        can be killed with it); stderr, where Meltano logs, goes to a file."""
        self.commands += 1
        log_path = self.workdir / f"meltano-{self.commands:02d}-{args[0]}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                self.command(*args),
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else log,
                stderr=log,
                start_new_session=True,
            )
        return process, log_path

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the command's whole process group: meltano, the tap and the target."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def state(self, loader: str) -> dict[str, Any]:
        """The Singer state Meltano keeps for the extractor-to-`loader` pipeline."""
        run = self.run("state", "get", state_id(loader))
        state: dict[str, Any] = json.loads(run.stdout)["singer_state"]
        return state


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])
