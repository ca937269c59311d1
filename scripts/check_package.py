"""Build the sdist and wheel, check them, and install the wheel where nothing else is.

    .venv/bin/python scripts/check_package.py [--python python3.12] [--keep DIR]

CI runs it after the tests (.ci/run). It checks the metadata (`twine check --strict`), that the
wheel holds the package with every stream schema, LICENSE and NOTICE and nothing of the
repository's tests, simulator, benchmark or scripts, that the sdist leaves out local files, and
that the wheel installed in a new virtual environment answers `tap-github-activity --about`
with the version and the Python versions its metadata declares. Exit 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tap_github_activity"
NOT_IN_WHEEL = ("tests/", "github_simulator/", "bench/", "scripts/", "docs/")
NOT_IN_SDIST = (".meltano/", ".venv/", "output/", ".env", "tests/", "github_simulator/", "bench/")


def run(*command: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{done.stdout}{done.stderr}")
    return done.stdout


def wheel_metadata(wheel: Path) -> dict[str, list[str]]:
    """The wheel's METADATA fields (pyproject.toml as built), each with its values."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(name).decode())
    return {key: message.get_all(key) or [] for key in set(message.keys())}


def check_wheel(wheel: Path, project: dict[str, list[str]]) -> list[str]:
    names = zipfile.ZipFile(wheel).namelist()
    problems = [f"wheel holds {name}" for name in names if name.startswith(NOT_IN_WHEEL)]
    schemas = sorted((ROOT / PACKAGE / "schemas").glob("*.json"))
    expected = [f"{PACKAGE}/schemas/{path.name}" for path in schemas]
    expected.append(f"{PACKAGE}/py.typed")
    dist_info = f"{project['Name'][0].replace('-', '_')}-{project['Version'][0]}.dist-info"
    expected += [f"{dist_info}/licenses/LICENSE", f"{dist_info}/licenses/NOTICE"]
    problems += [f"wheel lacks {name}" for name in expected if name not in names]
    return problems


def check_sdist(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    problems = [f"sdist holds {name}" for name in names if name.startswith(NOT_IN_SDIST)]
    for name in ("LICENSE", "NOTICE", "README.md", "pyproject.toml", f"{PACKAGE}/tap.py"):
        if name not in names:
            problems.append(f"sdist lacks {name}")
    return problems


def check_installed(
    wheel: Path, python: str, work: Path, project: dict[str, list[str]]
) -> list[str]:
    venv = work / "venv"
    run(python, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    about = json.loads(run(venv / "bin" / "tap-github-activity", "--about", "--format", "json"))
    declared = [
        classifier.rsplit("::", 1)[1].strip()
        for classifier in project["Classifier"]
        if classifier.startswith("Programming Language :: Python :: 3.")
    ]
    problems = []
    if about.get("version") != project["Version"][0]:
        problems.append(f"--about says version {about.get('version')}")
    if about.get("supported_python_versions") != declared:
        problems.append(
            f"--about says Python {about.get('supported_python_versions')}, "
            f"pyproject.toml {declared}"
        )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter of the new venv")
    parser.add_argument("--keep", type=Path, help="build into this directory and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="check-package-") as scratch:
        work = Path(scratch)
        dist = args.keep or work / "dist"
        run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, ROOT)
        wheel = next(dist.glob("*.whl"))
        sdist = next(dist.glob("*.tar.gz"))
        project = wheel_metadata(wheel)
        run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
        problems = check_wheel(wheel, project) + check_sdist(sdist)
        problems += check_installed(wheel, args.python, work, project)
        files = len(zipfile.ZipFile(wheel).namelist())
        print(
            f"{wheel.name}: {wheel.stat().st_size:,} bytes, {files} files; "
            f"{sdist.name}: {sdist.stat().st_size:,} bytes; installed with {args.python}"
        )
    for problem in problems:
        print(f"check_package: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
