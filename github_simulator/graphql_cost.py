"""GitHub's rate-limit score of a GraphQL query, with the two cases its documentation leaves open
switchable.

The documented rule ("Calculating a rate limit score"): every connection costs one request per
page that its enclosing connections could hand back, that is the product of the `first`/`last`
arguments of the connections around it (1 at the top); the requests are summed, divided by 100
and rounded to the nearest whole number, at least 1.

Not documented, and answered by `CostReading` (both expensive by default: the simulator models
GitHub's worst reading where the documentation is silent):

- `count_only_connections`: a connection asked without `first`/`last` (GitHub allows that when
  it selects only `totalCount` or `pageInfo`) counts one request like any other (expensive), or
  nothing (kind);
- `nodes_multiply`: what `nodes(ids: [...])` selects is counted once per id (expensive), as if
  the list were a connection page of that size, or once (kind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import graphql
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

__all__ = ["EXPENSIVE", "KIND", "READINGS", "CostReading", "connection_requests", "points"]


@dataclass
class CostReading:
    """How the two undocumented cases are scored (mutable: a world's reading is switched in
    place, see graphql_api.cost_reading)."""

    count_only_connections: bool = True
    nodes_multiply: bool = True

    @property
    def name(self) -> str:
        """'expensive', 'kind', or the two switches spelled out."""
        for name, reading in READINGS.items():
            if reading == self:
                return name
        return (
            f"count-only {'counted' if self.count_only_connections else 'free'}, "
            f"nodes(ids:) {'multiplied' if self.nodes_multiply else 'once'}"
        )


EXPENSIVE = CostReading(count_only_connections=True, nodes_multiply=True)
KIND = CostReading(count_only_connections=False, nodes_multiply=False)
READINGS = {"expensive": EXPENSIVE, "kind": KIND}


def points(requests: int) -> int:
    """The documented conversion: requests / 100, rounded to nearest (half up), at least 1."""
    return max(1, math.floor(requests / 100 + 0.5))


def _is_connection(named: GraphQLNamedType) -> bool:
    # GitHub's connections are the types named *Connection (Relay's convention, kept throughout).
    return named.name.endswith("Connection")


def connection_requests(
    schema: GraphQLSchema,
    document: graphql.DocumentNode,
    variables: dict[str, Any],
    reading: CostReading,
) -> int:
    """The requests GitHub counts for the document's (first) operation under `reading`."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))

    def argument(field: FieldNode, name: str) -> Any:
        for arg in field.arguments or ():
            if arg.name.value == name:
                return graphql.value_from_ast_untyped(arg.value, variables)
        return None

    def field_type(parent: GraphQLNamedType | None, name: str) -> GraphQLNamedType | None:
        fields = getattr(parent, "fields", None)
        if not fields or name not in fields:
            return None
        named: GraphQLNamedType = graphql.get_named_type(fields[name].type)
        return named

    def walk(
        selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None, multiplier: int
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                named = field_type(parent, selection.name.value)
                page = argument(selection, "first") or argument(selection, "last")
                ids = argument(selection, "ids")
                inner = multiplier
                if page is not None:
                    total += multiplier
                    inner = multiplier * int(page)
                elif named is not None and _is_connection(named):
                    # No page size: only totalCount / pageInfo can be asked of it.
                    total += multiplier if reading.count_only_connections else 0
                elif isinstance(ids, list) and reading.nodes_multiply:
                    inner = multiplier * max(len(ids), 1)
                total += walk(selection.selection_set, named, inner)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = schema.get_type(condition.name.value) if condition else parent
                total += walk(selection.selection_set, target, multiplier)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                target = schema.get_type(fragment.type_condition.name.value)
                total += walk(fragment.selection_set, target, multiplier)
        return total

    root = schema.get_root_type(operation.operation)
    return walk(operation.selection_set, root, 1)
