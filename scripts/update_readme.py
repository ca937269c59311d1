"""Regenerate README.md's generated tables, so they cannot drift from the code.

- Between ``<!-- settings:start -->`` and ``<!-- settings:end -->``: the settings table of
  ``tap-github-activity --about --format markdown``.
- Between ``<!-- streams:start -->`` and ``<!-- streams:end -->``: one row per stream the tap
  discovers, with its primary key, bookmark (replication key) and parent stream.

Run ``.venv/bin/python scripts/update_readme.py`` to rewrite README.md, ``--check`` to only
report whether it is current (exit 1 when it is not).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from tap_github_activity.tap import TapGitHubActivity

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TAP = Path(sys.executable).with_name("tap-github-activity")


def settings_table() -> str:
    """The Settings table of the tap's own `--about` markdown."""
    about = subprocess.run(
        [str(TAP), "--about", "--format", "markdown"], check=True, capture_output=True, text=True
    ).stdout
    section = about.split("## Settings", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return "\n".join(rows)


def streams_table() -> str:
    """One row per discovered stream, in the tap's order (discovery reads no API, so any
    token will do)."""
    tap = TapGitHubActivity(config={"auth_token": "unused"}, validate_config=False)
    rows = [
        "| Stream | Primary key | Bookmark | Parent | Holds | An incremental run catches |",
        "|:-------|:------------|:---------|:-------|:------|:---------------------------|",
    ]
    for name, stream in tap.streams.items():
        key = ", ".join(f"`{k}`" for k in stream.primary_keys or ())
        bookmark = f"`{stream.replication_key}`" if stream.replication_key else "full table"
        parent = stream.parent_stream_type
        parent_name = f"`{parent.name}`" if parent else ""
        paragraphs = (type(stream).__doc__ or "").strip().split("\n\n")
        summary = _cell(paragraphs[0])
        # The docstring's "Incremental:" paragraph (docs/incremental.md has the details).
        caught = next((p for p in paragraphs if p.strip().startswith("Incremental:")), "")
        caught = _cell(caught.strip().removeprefix("Incremental:"))
        rows.append(f"| `{name}` | {key} | {bookmark} | {parent_name} | {summary} | {caught} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    """Docstring prose as one table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def replace_between(text: str, marker: str, content: str) -> str:
    """`text` with the lines between the marker's start and end comments set to `content`."""
    pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.DOTALL)
    if not pattern.search(text):
        msg = f"README.md has no <!-- {marker}:start --> ... <!-- {marker}:end --> markers"
        raise SystemExit(msg)
    return pattern.sub(lambda m: m.group(1) + content + "\n" + m.group(2), text)


def render(text: str) -> str:
    """The README with both generated tables brought up to date."""
    text = replace_between(text, "streams", streams_table())
    return replace_between(text, "settings", settings_table())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="only report whether README.md is current (exit 1 if not)",
    )
    arguments = parser.parse_args()
    current = README.read_text()
    updated = render(current)
    if arguments.check:
        if updated != current:
            sys.stderr.write("README.md is out of date: run scripts/update_readme.py\n")
            return 1
        return 0
    if updated != current:
        README.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
