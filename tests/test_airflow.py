"""The example DAG's tests (tests/airflow/) run by the Airflow environment's pytest: Airflow needs
SQLAlchemy 2.1, which Meltano does not accept, so it lives in .airflow-venv/
(scripts/install-airflow, run by scripts/install) and cannot be imported here."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.project import ROOT

AIRFLOW_PYTEST = ROOT / ".airflow-venv" / "bin" / "pytest"


def run_airflow_tests(marker: str) -> None:
    """The Airflow tests selected by `marker`; their output is the failure message."""
    if not AIRFLOW_PYTEST.exists():
        pytest.fail(
            f"Not installed: {AIRFLOW_PYTEST}. Run scripts/install (or scripts/install-airflow).",
            pytrace=False,
        )
    # --confcutdir: tests/conftest.py imports the simulator, whose dependencies are not there.
    command = [str(AIRFLOW_PYTEST), "--confcutdir=tests/airflow", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, "-q", "--show-capture=no", "-m", marker, "tests/airflow"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-80:])
        pytest.fail(f"tests/airflow (-m {marker!r}) exited {result.returncode}:\n{output}")


def test_the_dag_parses_cheaply_and_renders_the_expected_commands():
    run_airflow_tests("not meltano")


@pytest.mark.meltano
def test_the_dag_loads_two_shards_with_their_own_state():
    run_airflow_tests("meltano")
