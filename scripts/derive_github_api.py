"""Derive the project's GitHub API files from GitHub's published descriptions.

Reads ``../shared/github-api/`` (GitHub's REST OpenAPI subset and GraphQL SDL) and writes, keeping
GitHub's structure but none of its prose:

- ``github_simulator/github.graphql``: the GraphQL schema reachable from ``Query``;
- ``github_simulator/rest_shapes.json``: the success-response JSON schema of every REST operation;
- ``tap_github_activity/schemas/<stream>.json``: the schema of every stream listed in ``SOURCES``.

Run ``.venv/bin/python scripts/derive_github_api.py`` to write them, ``--check`` to only list the
files that are out of date (exit 1 when any is).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    GraphQLSchema,
    NamedTypeNode,
    Node,
    TypeDefinitionNode,
    build_schema,
    parse,
    print_ast,
    print_schema,
    validate,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "github-api"
GRAPHQL_OUT = Path("github_simulator/github.graphql")
SHAPES_OUT = Path("github_simulator/rest_shapes.json")
SCHEMAS_OUT = Path("tap_github_activity/schemas")

ROOT_TYPE = "Query"
SAMPLE_QUERY = """
query {
  rateLimit { cost remaining resetAt }
  repository(owner: "a", name: "b") {
    databaseId
    pullRequests(first: 10, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes { number additions reviews(first: 5) { nodes { databaseId state submittedAt } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

SUCCESS_STATUS = {"get": "200", "post": "201"}
COMBINATORS = ("allOf", "anyOf", "oneOf")
SHAPE_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "enum",
        "properties",
        "items",
        "required",
        "additionalProperties",
        *COMBINATORS,
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
    }
)
STREAM_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "enum",
        "properties",
        "items",
        "additionalProperties",
        *COMBINATORS,
    }
)


@dataclass(frozen=True)
class Source:
    """Where a stream's record fields come from.

    ``fields`` names a mapping (record field -> dotted path into the payload) in ``module``;
    ``operation`` is the REST operation whose success response is the payload; ``items`` points
    from that response to one payload of a listing ("items", "workflow_runs.items"); ``child``
    adds the repository context; ``extra`` adds JSON-schema properties of computed fields;
    ``keys`` are the fields that are never null.
    """

    module: str
    fields: str
    operation: str
    items: str | None = None
    child: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = ("id",)


NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
STRINGS = {"type": ["array", "null"], "items": {"type": "string"}}
# GraphQL's DeploymentStatusState, lower-cased (REST's enum lacks `waiting`).
STATUS_STATE = {
    "type": ["string", "null"],
    "enum": [
        "error",
        "failure",
        "inactive",
        "in_progress",
        "pending",
        "queued",
        "success",
        "waiting",
        None,
    ],
}
# The stream layer's event uuid (the repository context comes with `child`).
EVENT_UUID = {"event_uuid": {"type": ["string", "null"], "format": "uuid"}}
# The tags setting, on every record (streams/base.py TAGS).
TAGS = {"tags": {"type": ["array", "null"], "items": {"type": ["string"]}}}

SOURCES: dict[str, Source] = {
    "repositories": Source(
        module="tap_github_activity.streams.repositories",
        fields="REPOSITORY_FIELDS",
        operation="GET /repos/{owner}/{repo}",
        items=None,
        child=False,
        extra=TAGS,
    ),
    "issues": Source(
        module="tap_github_activity.fetch.issues",
        fields="ISSUE_FIELDS",
        operation="GET /repos/{owner}/{repo}/issues",
        items="items",
        child=True,
        extra={**EVENT_UUID, "labels": STRINGS, "assignees": STRINGS},
        keys=("id", "updated_at"),
    ),
    "issue_comments": Source(
        module="tap_github_activity.fetch.issues",
        fields="COMMENT_FIELDS",
        operation="GET /repos/{owner}/{repo}/issues/comments",
        items="items",
        child=True,
        extra={
            **EVENT_UUID,
            "issue_number": {"type": "integer"},
            "is_pull_request": {"type": ["boolean", "null"]},
        },
        keys=("id", "updated_at"),
    ),
    # Read from GraphQL: the fields are the same values under their REST names.
    "deployments": Source(
        module="tap_github_activity.fetch.deployments",
        fields="DEPLOYMENT_FIELDS",
        operation="GET /repos/{owner}/{repo}/deployments",
        items="items",
        child=True,
        extra={
            **EVENT_UUID,
            "latest_status_state": STATUS_STATE,
            "latest_status_at": NULLABLE_TIME,
        },
    ),
    "deployment_statuses": Source(
        module="tap_github_activity.fetch.deployments",
        fields="STATUS_FIELDS",
        operation="GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        items="items",
        child=True,
        # GraphQL gives statuses no database id: the key is GitHub's node id.
        extra={
            **EVENT_UUID,
            "id": {"type": "string"},
            "deployment_id": {"type": "integer"},
            "state": STATUS_STATE,
        },
        keys=(),
    ),
}


class DeriveError(Exception):
    """GitHub's description does not have what the project asks of it."""


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


# GraphQL


def type_name(node: Node) -> str:
    while not isinstance(node, NamedTypeNode):
        node = node.type  # type: ignore[attr-defined]
    return node.name.value


def referenced_names(node: Node) -> Iterator[str]:
    """Type and directive names a definition refers to (directives prefixed with '@')."""
    for directive in getattr(node, "directives", None) or ():
        yield "@" + directive.name.value
    for named in getattr(node, "interfaces", None) or ():
        yield named.name.value
    for named in getattr(node, "types", None) or ():
        yield named.name.value
    members = (*(getattr(node, "fields", None) or ()), *(getattr(node, "arguments", None) or ()))
    for member in members:
        if hasattr(member, "type"):
            yield type_name(member.type)
        yield from referenced_names(member)
    for value in getattr(node, "values", None) or ():
        yield from referenced_names(value)


def definition_key(definition: Node) -> str | None:
    if isinstance(definition, DirectiveDefinitionNode):
        return "@" + definition.name.value
    if isinstance(definition, TypeDefinitionNode):
        return definition.name.value
    return None


def implementations(definitions: Mapping[str, Node]) -> dict[str, list[str]]:
    """Interface name -> the object and interface types implementing it."""
    implementers: dict[str, list[str]] = {}
    for name, definition in definitions.items():
        for interface in getattr(definition, "interfaces", None) or ():
            implementers.setdefault(interface.name.value, []).append(name)
    return implementers


def reachable(definitions: Mapping[str, Node], root: str) -> set[str]:
    """Names reachable from ``root``, counting a reachable interface's implementations."""
    implementers = implementations(definitions)
    seen: set[str] = set()
    pending = [root]
    while pending:
        name = pending.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        pending.extend(referenced_names(definitions[name]))
        pending.extend(implementers.get(name, ()))
    return seen


def without_prose(node: Any) -> Any:
    """The node without descriptions and deprecation reasons (unchanged nodes are shared)."""
    if isinstance(node, tuple):
        items = tuple(without_prose(item) for item in node)
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not isinstance(node, Node):
        return node
    if isinstance(node, DirectiveNode) and node.name.value == "deprecated":
        return replace(node, arguments=())
    changes = {"description": None} if getattr(node, "description", None) is not None else {}
    for key in node.keys:
        if key in ("loc", "description"):
            continue
        value = getattr(node, key)
        stripped = without_prose(value)
        if stripped is not value:
            changes[key] = stripped
    return replace(node, **changes) if changes else node


def build_github_schema(sdl: str) -> GraphQLSchema:
    """GitHub's SDL fails graphql-core's schema checks (duplicate fields, deprecated
    implementations of interface fields that are not), so skip them; ``validate`` skips them too."""
    return build_schema(sdl, assume_valid=True, assume_valid_sdl=True)


def query_schema_sdl(sdl: str) -> str:
    """GitHub's schema reduced to what ``Query`` reaches, without prose."""
    document = parse(sdl, no_location=True)
    definitions = {
        key: definition
        for definition in document.definitions
        if (key := definition_key(definition)) is not None
    }
    if ROOT_TYPE not in definitions:
        raise DeriveError(f"the GraphQL schema has no {ROOT_TYPE} type")
    keep = reachable(definitions, ROOT_TYPE)
    kept = tuple(
        without_prose(definition)
        for definition in document.definitions
        if definition_key(definition) in keep
    )
    return print_schema(build_github_schema(print_ast(DocumentNode(definitions=kept)))) + "\n"


def check_query_schema(sdl: str) -> None:
    schema = build_github_schema(sdl)
    if schema.mutation_type is not None or schema.subscription_type is not None:
        raise DeriveError("the reduced GraphQL schema still has mutation or subscription roots")
    errors = validate(schema, parse(SAMPLE_QUERY))
    if errors:
        raise DeriveError(f"the sample query does not validate: {errors}")


# REST response shapes


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 ``nullable: true`` as JSON Schema."""
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        result = {**schema, "type": [*types, *(["null"] if "null" not in types else [])]}
        if "enum" in schema and None not in schema["enum"]:
            result["enum"] = [*schema["enum"], None]
        return result
    if list(schema) == ["anyOf"]:
        return {"anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def json_schema(
    schema: Mapping[str, Any], keywords: frozenset[str] = SHAPE_KEYWORDS
) -> dict[str, Any]:
    """An OpenAPI 3.0 schema as Draft 7 JSON Schema, keeping only ``keywords``."""
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in keywords:
            continue
        if key == "properties":
            result[key] = {name: json_schema(sub, keywords) for name, sub in value.items()}
        elif key in COMBINATORS:
            result[key] = [json_schema(sub, keywords) for sub in value]
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            result[key] = json_schema(value, keywords)
        else:
            result[key] = value
    return nullable(result) if schema.get("nullable") is True else result


def operations(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """("METHOD /path", success response schema) of every GET and POST operation."""
    for path, item in spec["paths"].items():
        for method, status in SUCCESS_STATUS.items():
            if method not in item:
                continue
            response = item[method]["responses"].get(status)
            if response is None:
                raise DeriveError(f"{method.upper()} {path} has no {status} response")
            yield f"{method.upper()} {path}", response["content"]["application/json"]["schema"]


# Stream schemas


def alternatives(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The schema and, depth first, the branches of its combinators."""
    yield schema
    for key in COMBINATORS:
        for branch in schema.get(key, ()):
            yield from alternatives(branch)


def step(schema: Mapping[str, Any], part: str, *, items: bool) -> Mapping[str, Any] | None:
    for candidate in alternatives(schema):
        if items and part == "items" and isinstance(candidate.get("items"), Mapping):
            return candidate["items"]  # type: ignore[no-any-return]
        properties = candidate.get("properties", {})
        if part in properties:
            return properties[part]  # type: ignore[no-any-return]
    return None


def resolve(schema: Mapping[str, Any], path: str, *, items: bool = False) -> Mapping[str, Any]:
    """The schema at a dotted path; ``items`` lets "items" step into an array."""
    current = schema
    for depth, part in enumerate(path.split(".")):
        if not items and any(alt.get("type") == "array" for alt in alternatives(current)):
            crossed = ".".join(path.split(".")[:depth])
            raise DeriveError(f"{path!r} goes through the array at {crossed!r}")
        found = step(current, part, items=items)
        if found is None:
            raise DeriveError(f"{path!r} has no {part!r}")
        current = found
    return current


def merged(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A schema whose only content is ``allOf`` of one schema, as that schema."""
    rest = {key: value for key, value in schema.items() if key != "allOf"}
    branches = schema.get("allOf", [])
    if len(branches) == 1 and set(rest) <= {"nullable", "description", "title"}:
        return {**branches[0], **rest}
    return dict(schema)


def loosened(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every nested property (of objects and of array items) accepting null."""
    result = dict(schema)
    if "properties" in result:
        result["properties"] = {name: allow_null(sub) for name, sub in result["properties"].items()}
    if isinstance(result.get("items"), dict):
        result["items"] = loosened(result["items"])
    return result


def allow_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema and every nested property also accepting null."""
    result = loosened(schema)
    types = result.get("type", [])
    if "null" in (types if isinstance(types, list) else [types]):
        return result
    return nullable(result)


def record_property(schema: Mapping[str, Any], *, key: bool) -> dict[str, Any]:
    prop = json_schema(merged(schema), STREAM_KEYWORDS)
    return prop if key else allow_null(prop)


def stream_schema(name: str, source: Source, responses: Mapping[str, Any]) -> dict[str, Any]:
    """A stream's JSON schema from GitHub's (OpenAPI) schemas of the success responses."""
    fields: Mapping[str, str] = getattr(importlib.import_module(source.module), source.fields)
    payload = responses.get(source.operation)
    if payload is None:
        raise DeriveError(f"{name}: no operation {source.operation!r} in the REST description")
    if source.items:
        try:
            payload = resolve(payload, source.items, items=True)
        except DeriveError as exc:
            raise DeriveError(f"{name}: items pointer {exc}") from exc
    properties: dict[str, Any] = {}
    problems = []
    for field_name, path in fields.items():
        try:
            properties[field_name] = record_property(
                resolve(payload, path), key=field_name in source.keys
            )
        except DeriveError as exc:
            problems.append(f"{name}.{field_name}: {exc}")
    for added in (context_properties(source), source.extra):
        twice = sorted(added.keys() & properties.keys())
        problems.extend(f"{name}.{duplicate}: defined twice" for duplicate in twice)
        properties.update(added)
    if problems:
        raise DeriveError("\n".join(problems))
    return {"type": "object", "properties": properties}


def context_properties(source: Source) -> dict[str, Any]:
    if not source.child:
        return {}
    from tap_github_activity.streams.base import REPOSITORY_CONTEXT  # noqa: PLC0415

    return dict(REPOSITORY_CONTEXT.to_dict()["properties"])


# Driver


def derive(shared: Path) -> dict[Path, str]:
    """Every derived file's path (relative to the repository) and content."""
    spec = json.loads((shared / "rest-subset.json").read_text(encoding="utf-8"))
    sdl = query_schema_sdl((shared / "schema.graphql").read_text(encoding="utf-8"))
    check_query_schema(sdl)
    responses = dict(operations(spec))
    shapes = {operation: json_schema(schema) for operation, schema in responses.items()}
    outputs = {GRAPHQL_OUT: sdl, SHAPES_OUT: dump_json(shapes)}
    problems = []
    for name, source in sorted(SOURCES.items()):
        try:
            schema = stream_schema(name, source, responses)
            outputs[SCHEMAS_OUT / f"{name}.json"] = dump_json(schema)
        except DeriveError as exc:
            problems.append(str(exc))
    if problems:
        raise DeriveError("\n".join(problems))
    return outputs


def stale(outputs: Mapping[Path, str]) -> list[Path]:
    def current(path: Path) -> str | None:
        target = ROOT / path
        return target.read_text(encoding="utf-8") if target.exists() else None

    return [path for path, text in outputs.items() if current(path) != text]


def write(outputs: Mapping[Path, str], paths: Iterable[Path]) -> None:
    for path in paths:
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(outputs[path], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing the files that would change",
    )
    parser.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help=f"GitHub API reference directory (default {DEFAULT_SHARED})",
    )
    args = parser.parse_args(argv)
    if not args.shared.is_dir():
        print(f"error: no GitHub API reference directory at {args.shared}", file=sys.stderr)
        return 2
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        outputs = derive(args.shared)
    except DeriveError as exc:
        print(f"warning: GitHub's description does not match the project:\n{exc}", file=sys.stderr)
        return 2
    changed = stale(outputs)
    if args.check:
        for path in changed:
            print(f"out of date: {path}")
        return 1 if changed else 0
    write(outputs, changed)
    for path, text in sorted(outputs.items()):
        state = "written" if path in changed else "unchanged"
        print(f"{path}: {len(text.encode()):,} bytes ({state})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
