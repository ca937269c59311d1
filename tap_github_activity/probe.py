"""The change probe: one cheap GraphQL query per batch of repositories that tells which ones the
fetchers must read (pull requests, branch heads, statistics, issues, deployments).

Asked once per run, for what the selected streams need, as a run-wide fact of the feed; a
repository it does not see is read as without it. Details: docs/design-notes.md.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tap_github_activity.cost_check import QueryFamily, register
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.fetch.heads import (
    GLOB_CHARACTERS,
    HEAD_FRAGMENT,
    HEADS_PREFIX,
    REFS_PAGE_SIZE,
    Head,
    Newest,
    RepositoryChanges,
    head_from_ref,
)
from tap_github_activity.timestamps import parse_time

if TYPE_CHECKING:
    from tap_github_activity.client import GitHubClient

__all__ = ["BATCH_SIZE", "PROBE_STREAM", "ChangeProbe", "RepositoryChanges"]

# Repositories per query, at most: 100 pull request pages are 100 requests, 1 point.
BATCH_SIZE = 100
# Up to 149 connection requests round to 1 point.
ONE_POINT = 149
# Node ids GitHub takes in one `nodes(ids:)`.
NODES_PER_LIST = 100
# Each repository's `pullRequests`, `issues` and `deployments` (first: 1) and `refs` page are a
# request each, nothing nested; `nodes(ids:)` of open deployments asks no connection.
_CONNECTION = re.compile(r"\b(?:pullRequests|refs|issues|deployments)\(")
register(
    QueryFamily(
        "ChangeProbe",
        "change probe",
        lambda query, _variables: len(_CONNECTION.findall(query)),
        designed=BATCH_SIZE,
        smaller="batches of {size} repositories",
    )
)
# The name the request summary counts the probe under.
PROBE_STREAM = "change_probe"
PULL_STREAMS = ("pull_requests", "pull_request_reviews")
HEAD_STREAMS = ("commits", "commit_branches")

logger = logging.getLogger("tap_github_activity.probe")


@dataclass(frozen=True)
class _Plan:
    pulls: bool
    heads: bool
    patterns: tuple[str, ...] | None  # None: the default branch
    names: tuple[str, ...]  # the named branches, when no pattern has a glob character
    globbing: bool
    default_head: bool = False  # the default branch's head (contributor statistics)
    issues: bool = False  # the most recently updated issue
    deployments: bool = False  # the newest deployment, the open ones' latest statuses

    @property
    def needed(self) -> bool:
        return self.pulls or self.heads or self.default_head or self.issues or self.deployments

    @property
    def default_ref(self) -> bool:
        """Whether `defaultBranchRef` is asked."""
        return self.default_head or (self.heads and self.patterns is None)


class ChangeProbe:
    """The probe of one run: what the selected streams need, for the selected repositories."""

    def __init__(
        self,
        client: GitHubClient,
        *,
        pulls: bool,
        heads: bool,
        branches: tuple[str, ...] | None,
        statistics: bool = False,
        issues: bool = False,
        deployments: bool = False,
    ) -> None:
        self._client = client
        patterns = tuple(p.removeprefix(HEADS_PREFIX) for p in branches) if branches else None
        globbing = bool(patterns) and any(GLOB_CHARACTERS & set(p) for p in patterns or ())
        names = tuple(sorted(set(patterns))) if patterns and not globbing else ()
        self.plan = _Plan(pulls, heads, patterns, names, globbing, statistics, issues, deployments)

    @property
    def needed(self) -> bool:
        """Whether a selected stream uses the probe."""
        return self.plan.needed

    def ask(
        self,
        repositories: list[dict[str, Any]],
        open_deployments: Mapping[int, Sequence[str]] | None = None,
    ) -> dict[int, RepositoryChanges]:
        """Repository id -> what the probe saw of it (no entry: not seen). `open_deployments`:
        by repository id, the node ids of the deployments its state watches."""
        plan = self.plan
        if not plan.needed:
            return {}
        by_owner: dict[str, list[dict[str, Any]]] = {}
        for repository in repositories:
            by_owner.setdefault(repository["owner"]["login"].lower(), []).append(repository)
        changes: dict[int, RepositoryChanges] = {}
        queries = 0
        checks = self._client.ledger.cost_check
        for batch_of_owner in by_owner.values():
            offset = 0
            while offset < len(batch_of_owner):
                size = checks.size("ChangeProbe", _batch_size(plan))
                batch = batch_of_owner[offset : offset + size]
                offset += len(batch)
                queries += 1
                changes.update(self._ask_batch(plan, batch, open_deployments or {}))
        logger.info(
            "Change probe: %d of %d repositories seen, in %d queries",
            len(changes),
            sum(len(r) for r in by_owner.values()),
            queries,
        )
        return changes

    def _ask_batch(
        self,
        plan: _Plan,
        batch: list[dict[str, Any]],
        open_deployments: Mapping[int, Sequence[str]],
    ) -> dict[int, RepositoryChanges]:
        owner = batch[0]["owner"]["login"]
        variables: dict[str, Any] = {"owner": owner}
        declarations = ["$owner: String!"]
        for index, repository in enumerate(batch):
            declarations.append(f"$n{index}: String!")
            variables[f"n{index}"] = repository["name"]
        for index, name in enumerate(plan.names):
            declarations.append(f"$q{index}: String!")
            variables[f"q{index}"] = HEADS_PREFIX + name
        fields = _fields(plan)
        aliases = [
            f"  r{i}: repository(owner: $owner, name: $n{i}) {{ {fields} }}"
            for i in range(len(batch))
        ]
        watched = [i for r in batch for i in open_deployments.get(int(r["id"])) or ()]
        watched = watched if plan.deployments else []
        for index, start in enumerate(range(0, len(watched), NODES_PER_LIST)):
            declarations.append(f"$o{index}: [ID!]!")
            variables[f"o{index}"] = watched[start : start + NODES_PER_LIST]
            aliases.append(
                f"  o{index}: nodes(ids: $o{index}) "
                "{ ... on Deployment { id latestStatus { id } } }"
            )
        query = (
            f"query ChangeProbe({', '.join(declarations)}) {{\n  rateLimit {{ cost }}\n"
            + "\n".join(aliases)
            + "\n}\n"
            + (HEAD_FRAGMENT if plan.heads or plan.default_ref else "")
        )
        try:
            data = self._client.graphql(query, variables, stream=PROBE_STREAM, owner=owner)
        except NotAccessibleError as exc:
            logger.warning(
                "Change probe: GitHub refused the query for %d repositories of %s "
                "(%s); they are read without it",
                len(batch),
                owner,
                exc.message,
            )
            return {}
        latest_statuses = {
            node["id"]: (node.get("latestStatus") or {}).get("id")
            for index in range(math.ceil(len(watched) / NODES_PER_LIST))
            for node in data.get(f"o{index}") or []
            if node and "id" in node
        }
        changes = {}
        for index, repository in enumerate(batch):
            node = data.get(f"r{index}")
            if node is not None:
                changes[int(repository["id"])] = _changes(plan, node, latest_statuses)
        return changes


def _batch_size(plan: _Plan) -> int:
    """Repositories per 1-point query: each asks one connection for its pull requests, its
    newest issue and its newest deployment, and one for a refs page (branch patterns); heads by
    name or the default branch, and open deployments by id, are no connection."""
    connections = (
        int(plan.pulls)
        + int(plan.heads and plan.globbing)
        + int(plan.issues)
        + int(plan.deployments)
    )
    return min(BATCH_SIZE, ONE_POINT // connections) if connections else BATCH_SIZE


def _fields(plan: _Plan) -> str:
    parts = []
    if plan.pulls:
        parts.append(
            "pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) "
            "{ nodes { updatedAt } }"
        )
    if plan.issues:
        parts.append(
            "issues(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) "
            "{ nodes { updatedAt databaseId } }"
        )
    if plan.deployments:
        parts.append(
            "deployments(first: 1, orderBy: {field: CREATED_AT, direction: DESC}) "
            "{ nodes { createdAt databaseId } }"
        )
    if plan.default_ref:
        parts.append("defaultBranchRef { ...Head }")
    if plan.heads and plan.patterns is not None:
        if plan.globbing:
            parts.append(
                f'refs(refPrefix: "{HEADS_PREFIX}", first: {REFS_PAGE_SIZE}) '
                "{ pageInfo { hasNextPage } nodes { ...Head } }"
            )
        else:
            parts += [
                f"h{i}: ref(qualifiedName: $q{i}) {{ ...Head }}" for i in range(len(plan.names))
            ]
    return " ".join(parts)


def _changes(
    plan: _Plan, node: Mapping[str, Any], latest_statuses: Mapping[str, str | None]
) -> RepositoryChanges:
    newest = None
    if plan.pulls:
        pulls = [n for n in (node.get("pullRequests") or {}).get("nodes") or [] if n]
        if pulls:
            newest = parse_time(pulls[0]["updatedAt"])
    default = head_from_ref(node.get("defaultBranchRef")) if plan.default_ref else None
    heads: tuple[Head, ...] | None = None
    if plan.heads:
        if plan.patterns is None:
            heads = _present([default])
        elif plan.globbing:
            refs = node.get("refs") or {}
            if not (refs.get("pageInfo") or {}).get("hasNextPage"):
                heads = tuple(
                    h
                    for h in _present(head_from_ref(n) for n in refs.get("nodes") or [])
                    if any(fnmatch.fnmatchcase(h.name, p) for p in plan.patterns)
                )
        else:
            heads = _present(head_from_ref(node.get(f"h{i}")) for i in range(len(plan.names)))
    return RepositoryChanges(
        newest,
        heads,
        default_head=default.oid if default and plan.default_head else None,
        issues_asked=plan.issues,
        newest_issue=_newest(node.get("issues"), "updatedAt") if plan.issues else None,
        deployments_asked=plan.deployments,
        newest_deployment=(
            _newest(node.get("deployments"), "createdAt") if plan.deployments else None
        ),
        latest_statuses=latest_statuses if plan.deployments else {},
    )


def _newest(connection: Mapping[str, Any] | None, moment: str) -> Newest | None:
    """The first node of a `first: 1` connection (None: it has none)."""
    nodes = [n for n in (connection or {}).get("nodes") or [] if n]
    return Newest(str(nodes[0][moment]), int(nodes[0]["databaseId"])) if nodes else None


def _present(heads: Iterable[Head | None]) -> tuple[Head, ...]:
    return tuple(h for h in heads if h is not None)
