"""The Airflow tests run in the Airflow environment (.airflow-venv/, scripts/install-airflow),
started by tests/test_airflow.py; in any other environment there is nothing to collect here.

Airflow reads its configuration when it is first imported, so its home (a throw-away directory,
with a SQLite metadata database) and the DAG folder are set before anything imports it. The DAG
folder goes on sys.path, as Airflow 3 puts a bundle's root there for the DAGs it parses.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "orchestrate" / "airflow" / "dags"

if importlib.util.find_spec("airflow") is None:
    collect_ignore_glob = ["test_*.py"]
else:
    _home = Path(tempfile.mkdtemp(prefix="airflow-home-"))
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home / 'airflow.db'}",
        }
    )
    os.environ.pop("GITHUB_ACTIVITY_SHARDS", None)
    sys.path.insert(0, str(DAGS))


def pytest_configure(config: pytest.Config) -> None:
    """Airflow 3.3.2's in-process execution API imports starlette's test client, which warns
    that httpx is deprecated there (starlette 1.10); not ours to fix, so not an error here."""
    config.addinivalue_line(
        "filterwarnings",
        "ignore:Using `httpx` with `starlette.testclient` is deprecated",
    )
