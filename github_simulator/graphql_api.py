"""GitHub's GraphQL endpoint: queries are validated and executed against GitHub's own schema
(derived into github.graphql), and charged with GitHub's documented cost rule (graphql_cost.py;
the world's `cost_reading` says how the cases the documentation leaves open are scored).

Families extend it with `REPOSITORY_FIELDS[name] = build(request, repo)` (a value, or a resolver
`(info, **args)`) and `NODE_RESOLVERS[prefix] = lookup(request, node_id)` for `node`/`nodes`.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeGuard

import graphql
from graphql import (
    GraphQLError,
    GraphQLSchema,
)

from github_simulator.graphql_cost import EXPENSIVE, CostReading, connection_requests, points
from github_simulator.rest_core import can_see
from github_simulator.server import GRAPHQL_HANDLERS, HTTPError, Reply, Request
from github_simulator.world import Repo, World, iso

SDL_PATH = Path(__file__).with_name("github.graphql")

REPOSITORY_FIELDS: dict[str, Callable[[Request, Repo], Any]] = {}
NODE_RESOLVERS: dict[str, Callable[[Request, str], Any]] = {}


class NotFoundError(GraphQLError):
    """GitHub's NOT_FOUND: the field is null and the error carries type NOT_FOUND."""


def _lenient_int(value: Any) -> int:
    # GitHub's Int carries 64-bit database ids (workflow runs, jobs); graphql-core's stops at 2^31.
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphQLError(f"Int cannot represent non-integer value: {value!r}")
    return value


@functools.cache
def schema() -> GraphQLSchema:
    """GitHub's schema, built once per process (about a second)."""
    built = graphql.build_schema(SDL_PATH.read_text(), assume_valid=True, assume_valid_sdl=True)
    int_type = built.type_map["Int"]
    int_type.serialize = _lenient_int  # type: ignore[attr-defined,method-assign]
    return built


def connection(
    items: Sequence[Any],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    node: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """A GitHub connection over `items` (already in the requested order). `node` turns an item
    into its GraphQL object, for the items of the page only."""
    if (first is None) == (last is None) and not (first is None and last is None):
        raise GraphQLError("Pass either `first` or `last`, not both.")
    if first is None and last is None:
        raise GraphQLError("You must provide a `first` or `last` value to properly paginate.")
    for value in (first, last):
        if value is not None and not 0 <= value <= 100:
            raise GraphQLError(f"Requesting {value} records exceeds the `first` limit of 100.")
    start, end = 0, len(items)
    if after:
        start = _decode(after) + 1
    if before:
        end = _decode(before)
    window = [(index, items[index]) for index in range(start, min(end, len(items)))]
    if first is not None:
        has_next = len(window) > first
        window = window[:first]
        has_previous = start > 0
    else:
        assert last is not None
        has_previous = len(window) > last
        window = window[-last:] if last else []
        has_next = end < len(items)
    if node is not None:
        window = [(index, node(item)) for index, item in window]
    return {
        "totalCount": len(items),
        "nodes": [item for _, item in window],
        "edges": [{"node": item, "cursor": _encode(index)} for index, item in window],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": _encode(window[0][0]) if window else None,
            "endCursor": _encode(window[-1][0]) if window else None,
        },
    }


def _encode(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _decode(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError):
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.") from None


def cost_reading(world: World) -> CostReading:
    """The world's reading of the cases GitHub's cost documentation leaves open (expensive
    unless switched: `cost_reading(world).count_only_connections = False`)."""
    return world.family("graphql_cost_reading", CostReading)


def query_cost(
    document: graphql.DocumentNode,
    variables: dict[str, Any],
    reading: CostReading = EXPENSIVE,
) -> int:
    """GitHub's rule (github_simulator/graphql_cost.py): one request per connection page,
    nested connections multiplied by their parents' page sizes; the sum divided by 100,
    rounded, at least 1."""
    return points(connection_requests(schema(), document, variables, reading))


def repository_node(request: Request, repo: Repo) -> dict[str, Any]:
    """The Repository object: core fields plus every family's fields."""
    node: dict[str, Any] = {
        "__typename": "Repository",
        "id": repo.node_id,
        "databaseId": repo.id,
        "name": repo.name,
        "nameWithOwner": repo.full_name,
        "owner": {
            "__typename": repo.owner.type,
            "login": repo.owner.login,
            "id": repo.owner.node_id,
        },
        "isPrivate": repo.private,
        "isFork": repo.fork,
        "isArchived": repo.archived,
        "createdAt": iso(repo.created_at),
        "updatedAt": iso(repo.updated_at),
        "pushedAt": iso(repo.pushed_at),
        "url": f"https://github.test/{repo.full_name}",
    }
    for name, build in REPOSITORY_FIELDS.items():
        node[name] = build(request, repo)
    return node


def _root(request: Request, cost: int) -> dict[str, Any]:
    world = request.world

    def rate_limit(info: Any, **args: Any) -> dict[str, Any]:
        limit = int(request.rate.get("x-ratelimit-limit", 5000))
        used = int(request.rate.get("x-ratelimit-used", 0)) + cost
        reset = float(request.rate.get("x-ratelimit-reset", world.clock.now() + 3600))
        return {
            "cost": cost,
            "limit": limit,
            "remaining": max(limit - used, 0),
            "used": used,
            "resetAt": iso(datetime.fromtimestamp(reset, tz=timezone.utc)),
            "nodeCount": 0,
        }

    def repository(info: Any, owner: str, name: str, **args: Any) -> Any:
        repo = world.repo(owner, name)
        if repo is None or not can_see(request, repo):
            raise NotFoundError(
                f"Could not resolve to a Repository with the name '{owner}/{name}'."
            )
        return repository_node(request, repo)

    def node(info: Any, id: str) -> Any:
        prefix = id.split("_", 1)[0] + "_"
        if prefix == "R_":
            for repo in world.repos.values():
                if repo.node_id == id and can_see(request, repo):
                    return repository_node(request, repo)
        elif prefix in NODE_RESOLVERS:
            found = NODE_RESOLVERS[prefix](request, id)
            if found is not None:
                return found
        raise NotFoundError(f"Could not resolve to a node with the global id of '{id}'")

    def nodes(info: Any, ids: list[str]) -> list[Any]:
        found = []
        for node_id in ids:
            try:
                found.append(node(info, node_id))
            except NotFoundError:
                found.append(None)
        return found

    viewer_login = request.caller.token.login if request.caller.token else "app-bot"
    return {
        "rateLimit": rate_limit,
        "repository": repository,
        "node": node,
        "nodes": nodes,
        "viewer": {"login": viewer_login, "__typename": "User"},
    }


@functools.lru_cache(maxsize=256)
def _checked(source: str) -> tuple[graphql.DocumentNode, list[dict[str, Any]]]:
    """A query parsed and validated against the schema, and its errors. Clients send the same
    few query texts again and again: checked once each (a tenth of the benchmark simulator's
    CPU time)."""
    try:
        document = graphql.parse(source)
    except GraphQLError as exc:
        return graphql.DocumentNode(definitions=()), [{"message": exc.message}]
    return document, [e.formatted for e in graphql.validate(schema(), document)]


def _synchronous(_value: Any) -> TypeGuard[Awaitable[Any]]:
    """Every resolver here is synchronous: graphql-core need not ask of each value."""
    return False


def execute(request: Request) -> Any:
    """POST /graphql."""
    body = request.body or {}
    source, variables = body.get("query"), body.get("variables") or {}
    if not isinstance(source, str):
        raise HTTPError(400, "Problems parsing JSON")
    document, errors = _checked(source)
    if errors:
        return Reply({"errors": errors}, headers={"x-sim-points": "1"})
    cost = query_cost(document, variables, cost_reading(request.world))
    result = graphql.execute(
        schema(),
        document,
        root_value=_root(request, cost),
        variable_values=variables,
        context_value=request,
        is_awaitable=_synchronous,
    )
    assert isinstance(result, graphql.ExecutionResult)  # every resolver is synchronous
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [_format(error) for error in result.errors]
    return Reply(payload, headers={"x-sim-points": str(cost)})


def _format(error: GraphQLError) -> dict[str, Any]:
    formatted = dict(error.formatted)
    if isinstance(error.original_error, NotFoundError) or isinstance(error, NotFoundError):
        formatted["type"] = "NOT_FOUND"
    elif error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        # A bug in a resolver must fail the test, not pass as a GraphQL error.
        raise error.original_error
    return formatted


GRAPHQL_HANDLERS.append(execute)
