"""Every row the new fetchers emit is exactly its stream's schema (tap_github_activity/schemas),
after a first sync and after a day of changes."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from jsonschema import Draft7Validator

from github_simulator.truth import MUTATIONS
from tap_github_activity import schemas
from tests.fetching import deployments_fetcher, fetch_all, issues_fetcher, rng
from tests.test_record_schemas import date_time_problems, strict

FETCHERS = {"issues": issues_fetcher, "deployments": deployments_fetcher}


def schema_of(stream: str) -> dict:
    return json.loads(resources.files(schemas).joinpath(f"{stream}.json").read_text())


@pytest.mark.parametrize("family", sorted(FETCHERS))
def test_every_row_is_exactly_its_schema(github, world, clock, family):
    fetcher = FETCHERS[family](github)
    first = fetch_all(github, fetcher)
    clock.advance(3600)
    MUTATIONS[family](world, rng(3))
    second = fetch_all(github, fetcher, first.bookmarks)
    found = []
    for result in (first, second):
        for stream, rows in result.rows.items():
            schema = schema_of(stream)
            validator = Draft7Validator(strict(schema))
            for fetched in rows:
                # The stream layer adds event_uuid, the tags and the rest of the context.
                added = {"event_uuid": "6f1d3c1e-5b7a-5d2e-9a41-7c0e8b2f4d10", "tags": ["a"]}
                row = {**fetched, **added, "default_branch": "main"}
                found += [f"{stream}: {e.message}" for e in validator.iter_errors(row)]
                found += date_time_problems(row, schema, stream)
                missing = set(schema["properties"]) - set(row)
                found += [f"{stream}: no {name}" for name in sorted(missing)]
    assert found == []
    assert set(first.rows) == set(fetcher.streams)
