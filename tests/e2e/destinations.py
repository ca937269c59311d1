"""What each loader wrote, read back as rows per stream.

A destination gives the environment variables that point its loader at a test's own file,
directory or database, and reads the rows back after a run. `upserts` says whether the loader
keeps one row per key (DuckDB, PostgreSQL) or appends every record (JSON Lines: then the rows are
the latest record per key, and each run's output is checked for duplicates on its own).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

__all__ = ["DESTINATIONS", "Destination", "destination"]

SCHEMA = "github"
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


class Destination:
    """Base: one loader and where a test makes it write."""

    loader: ClassVar[str]
    upserts: ClassVar[bool] = True
    # target-duckdb writes empty strings as NULL; comparisons treat "" as None there.
    empty_string_is_null: ClassVar[bool] = False

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.runs: list[dict[str, list[dict[str, Any]]]] = []

    def env(self) -> dict[str, str]:
        """Settings of the loader, as Meltano environment variables."""
        raise NotImplementedError

    def after_run(self) -> None:
        """Called after every `meltano run` (finished, failed or killed)."""

    def rows(self, stream: str, schema: str = SCHEMA) -> list[dict[str, Any]]:
        """The rows the destination holds for `stream` (a table of `schema`) now."""
        raise NotImplementedError

    def transformer_env(self) -> dict[str, str]:
        """Settings of the dbt transformer that reads this destination."""
        raise NotImplementedError

    def query(self, text: str) -> list[tuple[Any, ...]]:
        """The rows of a SQL query run on the destination."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the destination made (database, files)."""


class Jsonl(Destination):
    """target-jsonl appends one file per stream; each run's files are moved to their own
    directory, and the table is the latest record per key over all runs."""

    loader = "target-jsonl"
    upserts = False

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.output = workdir / "jsonl"
        self.keys: dict[str, tuple[str, ...]] = {}

    def env(self) -> dict[str, str]:
        return {
            "TARGET_JSONL_DESTINATION_PATH": str(self.output),
            "TARGET_JSONL_DO_TIMESTAMP_FILE": "false",
        }

    def after_run(self) -> None:
        run: dict[str, list[dict[str, Any]]] = {}
        target = self.workdir / f"jsonl-run-{len(self.runs) + 1}"
        target.mkdir()
        for path in sorted(self.output.glob("*.jsonl")) if self.output.exists() else []:
            run[path.stem] = [
                json.loads(line) for line in path.read_text().splitlines() if line.strip()
            ]
            shutil.move(path, target / path.name)
        self.runs.append(run)

    def run_rows(self, stream: str) -> Iterator[list[dict[str, Any]]]:
        """The records of `stream` in each run's output."""
        for run in self.runs:
            yield run.get(stream, [])

    def rows(self, stream: str, schema: str = SCHEMA) -> list[dict[str, Any]]:
        # Order matters: a later run's record replaces an earlier one with the same key.
        return [row for records in self.run_rows(stream) for row in records]


class DuckDB(Destination):
    """target-duckdb upserts by key into one DuckDB file."""

    loader = "target-duckdb"
    empty_string_is_null = True

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.path = workdir / "activity.duckdb"

    def env(self) -> dict[str, str]:
        return {
            "TARGET_DUCKDB_FILEPATH": str(self.path),
            "TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA": SCHEMA,
        }

    def transformer_env(self) -> dict[str, str]:
        return {"DBT_DUCKDB_PATH": str(self.path)}

    def query(self, text: str) -> list[tuple[Any, ...]]:
        with closing(duckdb.connect(str(self.path), read_only=True)) as connection:
            return connection.execute(text).fetchall()

    def rows(self, stream: str, schema: str = SCHEMA) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        # Closed before the next run: the loader needs the file's write lock.
        with closing(duckdb.connect(str(self.path), read_only=True)) as connection:
            found = connection.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [schema, stream],
            ).fetchone()
            if not found or not found[0]:
                return []
            table = f'{schema}."{stream}"'  # a stream or model name of this project
            cursor = connection.execute(f"SELECT * FROM {table}")  # noqa: S608 -- no user input
            columns = [column[0] for column in cursor.description or []]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


class Postgres(Destination):
    """meltanolabs-target-postgres upserts streams with keys; each test gets a new database on
    127.0.0.1:5432 (user postgres), dropped at the end."""

    loader = "target-postgres"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.database = f"tga_e2e_{uuid.uuid4().hex[:12]}"
        try:
            with self._admin() as connection:
                connection.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                )
        except psycopg.OperationalError as exc:
            pytest.fail(
                f"PostgreSQL is needed on {POSTGRES['host']}:{POSTGRES['port']} "
                f"(user {POSTGRES['user']}, trust authentication): {exc}",
                pytrace=False,
            )

    @contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(
            dbname="postgres", autocommit=True, connect_timeout=10, **POSTGRES
        ) as connection:
            yield connection

    def env(self) -> dict[str, str]:
        # No password: meltano.yml's empty default is what trust authentication needs.
        return {
            "TARGET_POSTGRES_HOST": str(POSTGRES["host"]),
            "TARGET_POSTGRES_PORT": str(POSTGRES["port"]),
            "TARGET_POSTGRES_USER": str(POSTGRES["user"]),
            "TARGET_POSTGRES_DATABASE": self.database,
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": SCHEMA,
        }

    def transformer_env(self) -> dict[str, str]:
        return {
            "DBT_POSTGRES_HOST": str(POSTGRES["host"]),
            "DBT_POSTGRES_PORT": str(POSTGRES["port"]),
            "DBT_POSTGRES_USER": str(POSTGRES["user"]),
            "DBT_POSTGRES_DBNAME": self.database,
        }

    def query(self, text: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(dbname=self.database, **POSTGRES) as connection:
            return list(connection.execute(text))  # type: ignore[arg-type]  # README's SQL

    def rows(self, stream: str, schema: str = SCHEMA) -> list[dict[str, Any]]:
        with psycopg.connect(dbname=self.database, row_factory=dict_row, **POSTGRES) as conn:
            columns = {
                row["column_name"]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s",
                    (schema, stream),
                )
            }
            if not columns:
                return []
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(stream)
            )
            if "_sdc_deleted_at" in columns:
                # Rows an ACTIVATE_VERSION marked deleted are not part of the table's content.
                query += sql.SQL(" WHERE _sdc_deleted_at IS NULL")
            return list(conn.execute(query))

    def close(self) -> None:
        with self._admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.database)
                )
            )


DESTINATIONS: dict[str, type[Destination]] = {
    "jsonl": Jsonl,
    "duckdb": DuckDB,
    "postgres": Postgres,
}


@contextmanager
def destination(kind: str, workdir: Path) -> Iterator[Destination]:
    """A destination of `kind` ("jsonl", "duckdb", "postgres"), released afterwards."""
    made = DESTINATIONS[kind](workdir)
    try:
        yield made
    finally:
        made.close()
