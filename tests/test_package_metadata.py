"""The package's metadata says one thing everywhere: licence, notices, Python versions, version.
(Building and installing the package is scripts/check_package.py's job, run by CI.)"""

from __future__ import annotations

import re
from importlib.metadata import metadata

from tap_github_activity.tap import TapGitHubActivity
from tests.e2e.project import ROOT

# pyproject.toml as installed (scripts/install installs the package before the tests run).
PROJECT = metadata("tap-github-activity")


def declared_pythons() -> list[str]:
    return [
        classifier.rsplit("::", 1)[1].strip()
        for classifier in PROJECT.get_all("Classifier") or []
        if classifier.startswith("Programming Language :: Python :: 3.")
    ]


def test_python_versions_are_said_once_and_alike():
    versions = declared_pythons()
    first, last = versions[0], versions[-1]
    minor = [int(v.split(".")[1]) for v in versions]
    assert minor == list(range(minor[0], minor[-1] + 1)), versions
    assert PROJECT["Requires-Python"] == f"<3.{minor[-1] + 1},>={first}"
    assert TapGitHubActivity.get_supported_python_versions() == versions
    readme = (ROOT / "README.md").read_text()
    said = set(re.findall(r"Python (3\.\d+) to (3\.\d+)", readme))
    assert said == {(first, last)}, said


def test_licence_and_notices():
    assert PROJECT["License-Expression"] == "Apache-2.0"
    assert set(PROJECT.get_all("License-File") or []) == {"LICENSE", "NOTICE"}
    licence = (ROOT / "LICENSE").read_text()
    assert licence.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    notice = (ROOT / "NOTICE").read_text()
    derived = ["tap_github_activity/schemas/*.json", "github_simulator/rest_shapes.json"]
    derived.append("github_simulator/github.graphql")
    for path in derived:
        assert path in notice, path
    assert notice.count("Permission is hereby granted") == 2  # both MIT notices, in full


def test_changelog_has_this_version_and_unreleased_changes():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## Unreleased" in changelog
    assert re.search(rf"^## {re.escape(PROJECT['Version'])} - \d{{4}}-\d\d-\d\d$", changelog, re.M)
