"""The files derived from GitHub's API descriptions by scripts/derive_github_api.py."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "github-api"
SCRIPT = ROOT / "scripts" / "derive_github_api.py"
GRAPHQL_SDL = ROOT / "github_simulator" / "github.graphql"

# The query the derive script checks its output with (scripts/ is not a package).
SAMPLE_QUERY = runpy.run_path(str(SCRIPT), run_name="derive_github_api")["SAMPLE_QUERY"]


@pytest.fixture(scope="module")
def github_schema() -> GraphQLSchema:
    # GitHub's schema fails graphql-core's own schema checks (see the reference README).
    return build_schema(
        GRAPHQL_SDL.read_text(encoding="utf-8"), assume_valid=True, assume_valid_sdl=True
    )


def test_derived_files_are_current() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"no GitHub API reference data at {SHARED} (a user's clone lacks it)")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--shared", str(SHARED)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"derived files are out of date; run scripts/derive_github_api.py\n"
        f"{result.stdout}{result.stderr}"
    )


def test_simulator_graphql_schema_validates_queries(github_schema: GraphQLSchema) -> None:
    assert validate(github_schema, parse(SAMPLE_QUERY)) == []
    assert github_schema.mutation_type is None
    invalid = parse('query { repository(owner: "a", name: "b") { notAField } }')
    errors = validate(github_schema, invalid)
    assert [error.message for error in errors] == [
        "Cannot query field 'notAField' on type 'Repository'."
    ]
