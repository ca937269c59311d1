"""README.md's generated tables (streams, settings) match the code."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.e2e.project import ROOT


def update_readme() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "update_readme", ROOT / "scripts" / "update_readme.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_are_current():
    readme = (ROOT / "README.md").read_text()
    assert update_readme().render(readme) == readme, (
        "README.md is out of date: run .venv/bin/python scripts/update_readme.py"
    )


def test_readme_lists_every_stream_and_setting():
    script = update_readme()
    readme = (ROOT / "README.md").read_text()
    assert script.streams_table() in readme
    assert "| auth_token |" in script.settings_table()
