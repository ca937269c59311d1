"""The shard file of the github_activity DAG: read, checked, and turned into Meltano commands.

It imports nothing of Airflow: the DAG, its tests and the plugin generator share it. Run as a
script, it writes the Meltano plugins the shards need:

    python orchestrate/airflow/dags/github_activity_shards.py [SHARD_FILE]
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXTRACTOR = "tap-github-activity"
# Where the generated plugins go, relative to the Meltano project; meltano.yml's include_paths
# names it.
PLUGINS_FILE = "orchestrate/airflow/shards.meltano.yml"
DEFAULT_SHARD_FILE = Path(__file__).resolve().parents[1] / "shards.yml"
SHARD_FILE_VARIABLE = "GITHUB_ACTIVITY_SHARDS"

# Settings whose values are secrets: only ever read from the worker's environment or an Airflow
# connection at run time, never written in the shard file.
SECRET_SETTINGS = frozenset({"auth_token", "auth_tokens", "private_key"})
CONNECTION_FIELDS = ("password", "login", "host", "schema")
SHARD_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
TOP_LEVEL = frozenset(
    {"meltano", "loader", "transformer", "schedule", "pool", "max_parallel_shards", "shards"}
)
SHARD_KEYS = frozenset({"name", "settings", "credentials"})


class ShardFileError(ValueError):
    """A shard file that cannot be used; the message is one line naming the file and the key."""


def env_name(plugin: str, setting: str) -> str:
    """The environment variable Meltano reads `setting` of `plugin` from."""
    return re.sub(r"[^A-Za-z0-9]", "_", f"{plugin}_{setting}").upper()


def env_value(value: Any) -> str:
    """A setting's value as Meltano parses it from an environment variable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class Secret:
    """Where a secret setting's value comes from when the shard runs."""

    setting: str
    env: str | None = None
    connection: str | None = None
    field: str = "password"

    def source(self) -> dict[str, str]:
        """The reference, as shown in the DAG's rendered arguments (never the value)."""
        if self.env is not None:
            return {"env": self.env}
        return {"connection": str(self.connection), "field": self.field}


@dataclass(frozen=True)
class Shard:
    """One slice of the extraction: its own extractor, state and credentials."""

    name: str
    settings: Mapping[str, Any]
    secrets: tuple[Secret, ...]

    @property
    def plugin(self) -> str:
        """The shard's own extractor (`inherit_from` the tap): meltano/meltano#8763."""
        return f"{EXTRACTOR}--{self.name}"


@dataclass(frozen=True)
class ShardFile:
    """The whole file: where Meltano is, what to run, and the shards."""

    path: Path
    project: Path
    meltano: str
    loader: str
    transformer: str | None
    schedule: str | None
    pool: str
    max_parallel_shards: int
    shards: tuple[Shard, ...]

    def command(self, shard: Shard) -> list[str]:
        """The shard's `meltano run` command line."""
        return [
            self.meltano,
            "--log-format=json",
            "run",
            f"--state-id-suffix={shard.name}",
            shard.plugin,
            self.loader,
        ]

    def transform_command(self) -> list[str]:
        """The transformer's run after every shard, when one is set."""
        return [self.meltano, "--log-format=json", "run", str(self.transformer)]

    def task_arguments(self, shard: Shard) -> dict[str, Any]:
        """What the shard's mapped task receives: the command, the settings as environment
        variables, and where each secret comes from (names only)."""
        return {
            "shard": shard.name,
            "plugin": shard.plugin,
            "command": self.command(shard),
            "env": {
                env_name(shard.plugin, key): env_value(value)
                for key, value in sorted(shard.settings.items())
            },
            "secrets": {
                env_name(shard.plugin, secret.setting): secret.source() for secret in shard.secrets
            },
        }

    def plugins_yaml(self) -> str:
        """The Meltano plugins of the shards, as PLUGINS_FILE holds them."""
        extractors = [{"name": s.plugin, "inherit_from": EXTRACTOR} for s in self.shards]
        header = (
            f"# Generated from {self.path.name} by orchestrate/airflow/dags/"
            "github_activity_shards.py: one extractor per shard.\n"
        )
        return header + yaml.safe_dump({"plugins": {"extractors": extractors}}, sort_keys=False)


def _fail(path: Path, where: str, problem: str) -> ShardFileError:
    return ShardFileError(f"{path}: {where}: {problem}")


def _secret(path: Path, where: str, setting: str, source: Any) -> Secret:
    keys = set(source) if isinstance(source, dict) else set()
    if keys == {"env"}:
        return Secret(setting, env=str(source["env"]))
    if "connection" in keys and keys <= {"connection", "field"}:
        field = str(source.get("field", "password"))
        if field not in CONNECTION_FIELDS and not field.startswith("extra."):
            known = ", ".join(CONNECTION_FIELDS)
            raise _fail(path, where, f"field {field!r} is not one of {known}, extra.KEY")
        return Secret(setting, connection=str(source["connection"]), field=field)
    raise _fail(path, where, "give {env: VARIABLE} or {connection: ID, field: password}")


def _shard(path: Path, index: int, raw: Any) -> Shard:
    where = f"shards[{index}]"
    if not isinstance(raw, dict):
        raise _fail(path, where, "a shard is a mapping with name, settings and credentials")
    unknown = sorted(set(raw) - SHARD_KEYS)
    if unknown:
        raise _fail(path, where, f"unknown key {unknown[0]!r} (known: name, settings, credentials)")
    name = str(raw.get("name", ""))
    if not SHARD_NAME.fullmatch(name):
        raise _fail(path, f"{where}.name", f"{name!r} is not lower-case letters, digits, - and _")
    settings = raw.get("settings") or {}
    credentials = raw.get("credentials") or {}
    if not isinstance(settings, dict) or not isinstance(credentials, dict):
        raise _fail(path, where, "settings and credentials are mappings of setting to value")
    for setting in sorted(SECRET_SETTINGS & set(settings)):
        raise _fail(
            path,
            f"{where}.settings.{setting}",
            "a secret: move it to credentials as {env: VARIABLE} or {connection: ID}",
        )
    twice = sorted(set(settings) & set(credentials))
    if twice:
        raise _fail(path, f"{where}", f"{twice[0]} is under both settings and credentials")
    secrets = tuple(
        _secret(path, f"{where}.credentials.{setting}", setting, source)
        for setting, source in credentials.items()
    )
    if not secrets:
        raise _fail(path, f"{where}.credentials", "no credentials: name where each comes from")
    return Shard(name, dict(settings), secrets)


def load(path: Path, *, project: Path | None = None) -> ShardFile:
    """Read and check the shard file at `path`. Relative paths in it are relative to the file."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ShardFileError(
            f"{path}: cannot read the shard file: {exc}".replace("\n", " ")
        ) from None
    if not isinstance(raw, dict):
        raise _fail(path, "top level", "a mapping with meltano, loader and shards")
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise _fail(path, unknown[0], f"unknown key (known: {', '.join(sorted(TOP_LEVEL))})")
    meltano = raw.get("meltano") or {}
    if not isinstance(meltano, dict) or not set(meltano) <= {"project", "executable"}:
        raise _fail(path, "meltano", "a mapping of project and executable")
    root = project or (path.parent / str(meltano.get("project", "."))).resolve()
    executable = str(meltano.get("executable", "meltano"))
    if "/" in executable:
        executable = str((root / executable).resolve())
    shards = raw.get("shards")
    if not isinstance(shards, list) or not shards:
        raise _fail(path, "shards", "a list of at least one shard")
    parsed = tuple(_shard(path, index, shard) for index, shard in enumerate(shards))
    seen: dict[str, str] = {}
    for shard in parsed:
        prefix = env_name(shard.plugin, "")
        if prefix in seen:
            raise _fail(
                path, "shards", f"{seen[prefix]!r} and {shard.name!r} share environment variables"
            )
        seen[prefix] = shard.name
    parallel = raw.get("max_parallel_shards", 1)
    if not isinstance(parallel, int) or parallel < 1:
        raise _fail(path, "max_parallel_shards", f"{parallel!r} is not a positive whole number")
    return ShardFile(
        path=path,
        project=root,
        meltano=executable,
        loader=str(raw.get("loader", "target-postgres")),
        transformer=raw.get("transformer") or None,
        schedule=raw.get("schedule", "@daily"),
        pool=str(raw.get("pool", "default_pool")),
        max_parallel_shards=parallel,
        shards=parsed,
    )


def shard_file_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The shard file the DAG reads: GITHUB_ACTIVITY_SHARDS, else shards.yml beside dags/."""
    configured = environ.get(SHARD_FILE_VARIABLE)
    return Path(configured) if configured else DEFAULT_SHARD_FILE


def declared_plugins(project: Path, kind: str) -> set[str]:
    """Names of the Meltano project's plugins of `kind` ("extractors", "loaders"): meltano.yml
    and the files its include_paths patterns match (how Meltano itself finds them)."""
    main = yaml.safe_load((project / "meltano.yml").read_text()) or {}
    files = [main]
    for pattern in main.get("include_paths") or []:
        files += [yaml.safe_load(p.read_text()) or {} for p in sorted(project.glob(pattern))]
    return {
        plugin["name"]
        for content in files
        for plugin in (content.get("plugins") or {}).get(kind) or []
    }


def missing_plugin_message(project: Path, extractor: str, loader: str) -> str | None:
    """Why the shard's run cannot start (running it again would not help), or None when the
    project declares its extractor and loader."""
    if extractor not in declared_plugins(project, "extractors"):
        return (
            f"The Meltano project {project} declares no extractor {extractor}. Generate the "
            f"shards' plugins with `python orchestrate/airflow/dags/github_activity_shards.py` "
            f"(it writes {PLUGINS_FILE}, which meltano.yml's include_paths must match), or "
            f"declare it in meltano.yml with inherit_from: {EXTRACTOR}."
        )
    if loader not in declared_plugins(project, "loaders"):
        return (
            f"The Meltano project {project} declares no loader {loader}: set the shard file's "
            "loader to one of meltano.yml's loaders."
        )
    return None


def resolve_secrets(
    secrets: Mapping[str, Mapping[str, str]],
    environ: Mapping[str, str],
    connection_field: Callable[[str, str], str | None],
) -> dict[str, str]:
    """The secret environment variables of a shard's run, read where the shard file says.
    Raises KeyError with a readable message when one is not there."""
    values = {}
    for variable, source in secrets.items():
        if "env" in source:
            value = environ.get(source["env"])
            where = f"environment variable {source['env']}"
        else:
            value = connection_field(source["connection"], source["field"])
            where = f"field {source['field']} of Airflow connection {source['connection']}"
        if not value:
            raise KeyError(f"{variable} comes from the {where}, which is not set or empty")
        values[variable] = value
    return values


def main(argv: list[str]) -> int:
    """Write the plugins of the shard file (argument, else the default) into the project."""
    path = Path(argv[0]) if argv else shard_file_path()
    try:
        shards = load(path)
    except ShardFileError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    target = shards.project / PLUGINS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(shards.plugins_yaml())
    names = ", ".join(s.plugin for s in shards.shards)
    sys.stdout.write(f"{target}: {names}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
