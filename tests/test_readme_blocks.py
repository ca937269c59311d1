"""The README's commands and queries work as printed.

Every `sh` block of README.md runs, in order, from the repository root (the first is
`scripts/demo`, which makes `output/demo.duckdb`), unless the comment line above it says
`<!-- readme-test: skip (why) -->`. Every `sql` block of README.md and docs/ runs on the demo's
DuckDB file and on PostgreSQL loaded by the real Meltano pipeline (with no password set: the
project's default is what trust authentication takes). The `yaml` snippet for other Meltano
projects matches this project's extractor.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pytest
import yaml

from github_simulator import GitHubSimulator
from tests.e2e.destinations import POSTGRES, destination
from tests.e2e.project import (
    FOREIGN_PREFIXES,
    ROOT,
    MeltanoProject,
    require_installed,
    run_in_root,
)
from tests.e2e.simulated import realtime_world, tap_settings

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"(?:^<!-- readme-test: (?P<note>.*?) -->\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.M | re.S
)


@dataclass(frozen=True)
class Block:
    document: str
    lang: str
    body: str
    note: str | None

    def __str__(self) -> str:
        return f"{self.document}: {self.body.strip().splitlines()[0][:80]}"


def blocks(lang: str, documents: list[Path] = DOCUMENTS) -> list[Block]:
    found = []
    for path in documents:
        for match in FENCE.finditer(path.read_text()):
            if match["lang"] == lang:
                found.append(Block(path.name, lang, match["body"], match["note"]))
    return found


def queries() -> list[str]:
    """Every statement of every SQL block."""
    return [
        query.strip() for block in blocks("sql") for query in block.body.split(";") if query.strip()
    ]


def test_every_shell_block_is_run_or_says_why_not():
    shell = blocks("sh", [ROOT / "README.md"])
    assert shell, "README.md has no sh block"
    for block in shell:
        if block.note is not None:
            assert re.fullmatch(r"skip \(.+\)", block.note), f"{block}: {block.note!r}"
    assert "scripts/demo" in shell[0].body, "the first command a reader meets is the demo"


@pytest.mark.meltano
def test_readme_commands_and_queries_run_on_the_demo_database():
    require_installed("target-duckdb", "dbt-duckdb")
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
    ran = []
    for block in blocks("sh", [ROOT / "README.md"]):
        if block.note is not None:
            continue
        ran.append(run_in_root(["/bin/bash", "-euo", "pipefail", "-c", block.body], env))
    assert len(ran) >= 3
    assert "full_name" in ran[1]  # the DuckDB one-liner printed its table

    with contextlib.closing(
        duckdb.connect(str(ROOT / "output" / "demo.duckdb"), read_only=True)
    ) as db:
        for query in queries():
            assert db.sql(query).fetchall(), f"no rows on the demo database:\n{query}"


@pytest.mark.meltano
def test_readme_queries_run_on_postgres_loaded_without_a_password(tmp_path: Path):
    require_installed("target-postgres", "dbt-postgres")
    _, world = realtime_world()
    with GitHubSimulator(world) as github, destination("postgres", tmp_path) as postgres:
        settings = postgres.env()
        assert "TARGET_POSTGRES_PASSWORD" not in settings
        project = MeltanoProject(
            tmp_path / "meltano",
            {**tap_settings(github.api_url), **settings, **postgres.transformer_env()},
        )
        project.run("run", "tap-github-activity", "target-postgres", "dbt-postgres:build")
        database = settings["TARGET_POSTGRES_DATABASE"]
        with psycopg.connect(dbname=database, **POSTGRES) as connection:
            for query in queries():
                assert connection.execute(query).fetchall(), f"no rows on PostgreSQL:\n{query}"


def test_snippet_for_other_projects_matches_this_projects_extractor():
    (snippet,) = [block for block in blocks("yaml") if block.note == "meltano.yml extractor"]
    shown = yaml.safe_load(snippet.body)[0]
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = next(
        p for p in project["plugins"]["extractors"] if p["name"] == "tap-github-activity"
    )
    for key, value in shown.items():
        if key != "pip_url":
            assert extractor[key] == value, key


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_the_documents_resolve():
    for path in DOCUMENTS:
        text = path.read_text()
        for target, fragment in re.findall(r"\]\(([^):#]*)(?:#([^)]*))?\)", text):
            linked = (path.parent / target).resolve() if target else path
            assert linked.exists(), f"{path.name}: {target}"
            if fragment:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
                assert fragment in {anchor(h) for h in headings}, f"{path.name}: #{fragment}"
