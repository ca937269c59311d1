"""The Meltano project: meltano.yml and .env.example in step with the tap's settings, and
`meltano run tap-github-activity target-jsonl` extracting the simulator's repositories."""

from __future__ import annotations

import copy
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from github_simulator import GitHubSimulator
from github_simulator.truth import EXPECTED
from tap_github_activity.settings import CONFIG_SCHEMA
from tap_github_activity.tap import TapGitHubActivity
from tests.e2e.destinations import destination
from tests.e2e.project import ROOT, MeltanoProject, require_installed
from tests.e2e.simulated import realtime_world, tap_settings

# JSON schema type -> Meltano setting kind
KINDS = {
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def meltano_yml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return loaded


def plugin(kind: str, name: str) -> dict[str, Any]:
    return next(p for p in meltano_yml()["plugins"][kind] if p["name"] == name)


def expected_setting(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    json_type = next(t for t in types if t != "null")
    setting = {
        "name": name,
        "kind": "date_iso8601" if schema.get("format") == "date-time" else KINDS[json_type],
        "label": schema["title"],
        "description": schema["description"],
    }
    if schema.get("secret"):
        setting["sensitive"] = True
    return setting


def tap_settings_schema() -> dict[str, Any]:
    """The tap's settings as `--about` lists them: ours, then singer-sdk's (stream maps,
    flattening, batches). singer-sdk appends its own to the schema in place when a tap validates
    its config, so whether CONFIG_SCHEMA already holds them depends on what ran before."""
    schema = copy.deepcopy(CONFIG_SCHEMA)
    TapGitHubActivity.append_builtin_config(schema)
    return schema


def test_meltano_yml_declares_every_setting_of_the_tap():
    extractor = plugin("extractors", "tap-github-activity")
    expected = [
        expected_setting(name, schema)
        for name, schema in tap_settings_schema()["properties"].items()
    ]
    assert extractor["settings"] == expected, (
        "meltano.yml's tap-github-activity settings differ from the tap's; they should read:\n"
        + textwrap.indent(yaml.safe_dump(expected, sort_keys=False, width=100), "    ")
    )
    assert extractor["settings_group_validation"] == [
        ["auth_token"],
        ["auth_tokens"],
        ["app_id", "private_key"],
    ]
    assert {"catalog", "discover", "state", "about", "stream-maps"} <= set(
        extractor["capabilities"]
    )


def test_loaders_are_pinned_and_write_into_output():
    pins = {
        name: plugin("loaders", name)["pip_url"]
        for name in ("target-duckdb", "target-postgres", "target-jsonl")
    }
    assert pins == {
        "target-duckdb": "target-duckdb==0.8.0 duckdb==1.0.0",
        "target-postgres": "meltanolabs-target-postgres==0.8.1",
        "target-jsonl": "target-jsonl==0.1.4",
    }
    assert plugin("loaders", "target-duckdb")["config"]["filepath"].startswith("output/")
    # Trust authentication needs no password, but the loader fails without one being set.
    assert plugin("loaders", "target-postgres")["config"]["password"] == ""
    assert plugin("loaders", "target-jsonl")["config"]["destination_path"] == "output"


def test_env_example_names_only_declared_settings():
    declared = {
        f"{p['name']}_{s['name']}".upper().replace("-", "_")
        for kind in ("extractors", "loaders")
        for p in meltano_yml()["plugins"][kind]
        for s in p.get("settings", [])
    }
    names = re.findall(
        r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE
    )
    assert names, ".env.example names no variable"
    assert set(names) <= declared, f"not declared in meltano.yml: {set(names) - declared}"
    assert "TAP_GITHUB_ACTIVITY_AUTH_TOKEN" in names


@pytest.mark.meltano
def test_meltano_run_extracts_the_simulators_repositories(tmp_path: Path):
    require_installed("target-jsonl")
    _, world = realtime_world()
    with GitHubSimulator(world) as github, destination("jsonl", tmp_path) as jsonl:
        project = MeltanoProject(
            tmp_path / "meltano", {**tap_settings(github.api_url), **jsonl.env()}
        )
        run = project.run("run", "tap-github-activity", "target-jsonl")
        jsonl.after_run()
        names = sorted(row["full_name"] for row in jsonl.rows("repositories"))
        assert names == sorted(
            fields["full_name"] for fields in EXPECTED["repositories"](world).values()
        )
        assert "GitHub requests this run" in run.log  # the run summary
        assert "repositories" in project.state("target-jsonl")["bookmarks"]
