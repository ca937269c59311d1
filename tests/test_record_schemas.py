"""Every record of every stream is exactly what its schema declares: no property the schema lacks,
every value of its declared type, every date-time an ISO 8601 string. The streams build their
records that way, so singer-sdk's per-record type conformance is turned off (base.py); this is
the test that makes that safe."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from jsonschema import Draft7Validator

from github_simulator import World
from github_simulator.truth import MUTATIONS
from tests.conftest import SyncResult, run_sync


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with additionalProperties false on every object that lists its properties."""
    copy = dict(schema)
    if "properties" in copy:
        copy["properties"] = {name: strict(sub) for name, sub in copy["properties"].items()}
        copy.setdefault("additionalProperties", False)
    if isinstance(copy.get("items"), dict):
        copy["items"] = strict(copy["items"])
    for key in ("anyOf", "oneOf"):
        if key in copy:
            copy[key] = [strict(sub) for sub in copy[key]]
    return copy


def date_time_problems(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Values of date-time properties that are not ISO 8601 strings (jsonschema checks formats
    only with an optional package)."""
    if value is None:
        return []
    if schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return [f"{path}: {value!r} is not a date-time"]
        return []
    problems = []
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            problems += date_time_problems(value.get(name), sub, f"{path}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            problems += date_time_problems(item, schema["items"], f"{path}[{index}]")
    return problems


def problems(result: SyncResult) -> list[str]:
    schemas = {m["stream"]: m["schema"] for m in result.messages if m["type"] == "SCHEMA"}
    found = []
    for stream, records in result.records.items():
        validator = Draft7Validator(strict(schemas[stream]))
        for record in records:
            found += [f"{stream}: {error.message}" for error in validator.iter_errors(record)]
            found += [
                f"{stream}{problem}" for problem in date_time_problems(record, schemas[stream], "")
            ]
    return found


def test_every_record_is_exactly_its_schema(config, world: World):
    first = run_sync(
        {
            **config,
            "workflow_runs_earlier_attempts": True,
            "workflow_jobs_runner_details": True,
            "include_emails": True,
        }
    )
    for name, mutation in MUTATIONS.items():
        mutation(world, random.Random(f"schemas:{name}"))  # noqa: S311 -- test data
    second = run_sync(config, state=first.state)

    assert len(first.records) == 17
    assert problems(first) + problems(second) == []
