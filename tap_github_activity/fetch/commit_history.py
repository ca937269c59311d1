"""The commit history walk behind commits and commit_branches (GraphQL): the selected branches'
heads, per-branch bookmarks, and the walk from each moved head down to the history an earlier
run read (`git rev-list new ^old`); why and how: docs/design-notes.md."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tap_github_activity.cost_check import QueryFamily, aliases, register
from tap_github_activity.fetch import Request, repository_query
from tap_github_activity.fetch.ancestry import Ancestry, compare_alias, from_graphql, rest_ancestry
from tap_github_activity.fetch.heads import (
    GLOB_CHARACTERS,
    HEAD_FRAGMENT,
    HEADS_PREFIX,
    REFS_PAGE_SIZE,
    Head,
    head_from_ref,
)
from tap_github_activity.timestamps import format_time, parse_time

__all__ = [
    "BranchWalk",
    "log_walks",
    "new_bookmarks",
    "plan",
    "read_heads",
    "walk",
]

HISTORY_PAGE_SIZE = 100
BRANCHES_PER_QUERY = 5

logger = logging.getLogger(__name__)


DEFAULT_HEAD_QUERY = (
    """
query CommitHeads($owner: String!, $name: String!) {
  rateLimit { cost }
  repository(owner: $owner, name: $name) { defaultBranchRef { ...Head } }
}
"""
    + HEAD_FRAGMENT
)

BRANCH_LIST_QUERY = (
    """
query CommitBranchList($owner: String!, $name: String!, $after: String) {
  rateLimit { cost }
  repository(owner: $owner, name: $name) {
    refs(refPrefix: "refs/heads/", first: %d, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { ...Head }
    }
  }
}
"""  # noqa: UP031 -- braces of GraphQL make format() unreadable
    % REFS_PAGE_SIZE
    + HEAD_FRAGMENT
)

# Every walk needs each commit's oid, date and parents; `commits` adds the record's fields.
WALK_FIELDS = "oid committedDate parents(first: 100) { totalCount nodes { oid } }"

# A branch's history page is one request, and each of its commits' parents one more; the
# comparison with the previous head (ancestry.py: a ref and its `compare`) is no connection.
register(
    QueryFamily(
        "CommitHistory",
        "commit history",
        lambda _query, variables: aliases(variables, "h") * (1 + HISTORY_PAGE_SIZE),
        designed=BRANCHES_PER_QUERY,
        smaller="{size} branch(es) a query",
    )
)
register(QueryFamily("CommitHeads", "default branch head", lambda _query, _variables: 0))
register(QueryFamily("CommitNamedHeads", "branch heads", lambda _query, _variables: 0))
register(QueryFamily("CommitBranchList", "branch list", lambda _query, _variables: 1))


@dataclass
class BranchWalk:
    """One branch's walk from its head down to the history an earlier run read."""

    head: Head
    previous: Mapping[str, str] | None  # the branch's bookmark, None on its first walk
    known: set[str]  # commits whose history was read before (grows down the walk)
    since: datetime | None  # start_date
    cursor: str | None = None
    done: bool = False
    reached_known: bool = False
    lost: bool = False  # the head could not be read (deleted meanwhile)
    ancestry: Ancestry | None = None  # GitHub's comparison with the previous head
    pending: set[str] = field(default_factory=set)  # parents of new commits not met yet
    new: list[str] = field(default_factory=list)
    met_new: int = 0  # new commits met, start_date or not
    pages: int = 0

    @property
    def needs_ancestry(self) -> bool:
        """A moved branch read before, not compared yet."""
        return self.previous is not None and self.ancestry is None

    def settle(self, ancestry: Ancestry) -> None:
        """Bound the walk by GitHub's comparison, before its first page is taken."""
        self.ancestry = ancestry
        if ancestry.nothing_new:
            self.done = True
        if (base := ancestry.stop_at()) is not None:
            self.known.add(base)

    def take(self, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The commits of one history page that are new on this branch (and not before
        start_date); marks the walk done as soon as nothing new can follow."""
        fresh: list[dict[str, Any]] = []
        expected = self.ancestry.new_commits if self.ancestry else None
        exact_count = self.ancestry is not None and self.ancestry.status == "fast-forward"
        for node in nodes:
            oid = node["oid"]
            parents = [parent["oid"] for parent in node["parents"]["nodes"]]
            if oid in self.known:
                self.reached_known = True
                self.known.update(parents)
                self.pending.difference_update(parents)
            else:
                self.pending.discard(oid)
                self.pending.update(p for p in parents if p not in self.known)
                self.met_new += 1
                if self.since is None or parse_time(node["committedDate"]) >= self.since:
                    self.new.append(oid)
                    fresh.append(node)
            if not self.pending or (exact_count and self.met_new == expected):
                self.done = True
                break
        return fresh


def graphql(request: Request, stream: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The repository object of one query."""
    return repository_query(request, query, variables, stream=stream)


def branch_patterns(patterns: tuple[str, ...] | None) -> list[str] | None:
    """`commit_branches` without "refs/heads/"; None: the default branch."""
    if not patterns:
        return None
    return [p.removeprefix(HEADS_PREFIX) for p in patterns]


def read_heads(request: Request, stream: str) -> list[Head]:
    """The selected branches and their heads (none for an empty repository): the change
    probe's, else asked."""
    changes = request.changes()
    if changes is not None and changes.heads is not None:
        return list(changes.heads)
    patterns = branch_patterns(request.settings.commit_branches)
    if patterns is None:
        ref = graphql(request, stream, DEFAULT_HEAD_QUERY, {}).get("defaultBranchRef")
        return [head for head in [head_from_ref(ref)] if head]
    if not any(GLOB_CHARACTERS & set(p) for p in patterns):
        return _named_heads(request, stream, sorted(set(patterns)))
    heads: list[Head] = []
    after: str | None = None
    while True:
        refs = graphql(request, stream, BRANCH_LIST_QUERY, {"after": after})["refs"]
        heads += [
            head
            for node in refs["nodes"]
            if (head := head_from_ref(node))
            and any(fnmatch.fnmatchcase(head.name, p) for p in patterns)
        ]
        if not refs["pageInfo"]["hasNextPage"]:
            return heads
        after = refs["pageInfo"]["endCursor"]


def _named_heads(request: Request, stream: str, names: list[str]) -> list[Head]:
    declarations = "".join(f", $n{i}: String!" for i in range(len(names)))
    aliases = " ".join(f"n{i}: ref(qualifiedName: $n{i}) {{ ...Head }}" for i in range(len(names)))
    query = (
        f"query CommitNamedHeads($owner: String!, $name: String!{declarations}) "
        f"{{ rateLimit {{ cost }} repository(owner: $owner, name: $name) "
        f"{{ {aliases} }} }}\n{HEAD_FRAGMENT}"
    )
    repository = graphql(
        request, stream, query, {f"n{i}": HEADS_PREFIX + name for i, name in enumerate(names)}
    )
    return [head for i in range(len(names)) if (head := head_from_ref(repository.get(f"n{i}")))]


def plan(
    heads: list[Head],
    bookmarks: Mapping[str, Mapping[str, str]],
    since: datetime | None,
    *,
    known_heads: set[str] | None = None,
) -> list[BranchWalk]:
    """A walk for each branch that moved since its bookmark."""
    walks = []
    for head in heads:
        previous = bookmarks.get(head.name)
        if previous and previous.get("head") == head.oid:
            continue
        known = set(known_heads or ())
        if previous:
            known.add(previous["head"])
        walks.append(BranchWalk(head, previous, known, since))
    return walks


def walk(
    request: Request,
    stream: str,
    walks: list[BranchWalk],
    node_fields: str = "",
) -> Iterator[tuple[BranchWalk, dict[str, Any]]]:
    """(walk, commit node) for each commit new on a walked branch, in history order per
    branch; up to BRANCHES_PER_QUERY branches share one query."""
    name = request.repository.full_name
    active = [w for w in walks if not w.done]
    while active:
        batch = active[: request.client.ledger.cost_check.size("CommitHistory", BRANCHES_PER_QUERY)]
        query, variables = _history_query(batch, request.settings.start_date, node_fields)
        repository = graphql(request, stream, query, variables)
        for index, branch in enumerate(batch):
            if branch.needs_ancestry:
                _settle(request, stream, branch, repository.get(f"c{index}"))
                if branch.done:
                    continue
            target = repository.get(f"b{index}")
            if not target or "history" not in target:
                logger.warning(
                    "%s: %s branch %s: head %s could not be read; it is walked again next run",
                    stream,
                    name,
                    branch.head.name,
                    branch.head.oid,
                )
                branch.lost = branch.done = True
                continue
            history = target["history"]
            branch.pages += 1
            for node in branch.take(history["nodes"]):
                yield branch, node
            if not branch.done:
                if history["pageInfo"]["hasNextPage"]:
                    branch.cursor = history["pageInfo"]["endCursor"]
                else:
                    branch.done = True
        active = [w for w in walks if not w.done]


def _settle(
    request: Request, stream: str, branch: BranchWalk, ref: Mapping[str, Any] | None
) -> None:
    """GitHub's comparison of the walk's heads: GraphQL's when it answers for this head, else
    REST's (a force-push's merge base, or a ref that moved again meanwhile)."""
    repository = request.repository
    previous = (branch.previous or {})["head"]
    ancestry = from_graphql(ref, branch.head.oid) or rest_ancestry(
        request.client, repository.owner, repository.name, previous, branch.head.oid, stream=stream
    )
    if ancestry.status in ("diverged", "unknown"):
        logger.warning(
            "%s: %s branch %s: %s since %s; %s",
            stream,
            repository.full_name,
            branch.head.name,
            "force-pushed" if ancestry.status == "diverged" else "moved",
            previous,
            f"read down to the merge base {ancestry.merge_base}"
            if ancestry.status == "diverged"
            else "GitHub no longer knows that commit: read down to the other known heads",
        )
    branch.settle(ancestry)


def _history_query(
    batch: list[BranchWalk], since: datetime | None, node_fields: str
) -> tuple[str, dict[str, Any]]:
    declarations, aliases = [], []
    variables: dict[str, Any] = {}
    for index, branch in enumerate(batch):
        declarations.append(f"$h{index}: GitObjectID!, $a{index}: String")
        variables[f"h{index}"] = branch.head.oid
        variables[f"a{index}"] = branch.cursor
        # A first walk lets GitHub filter by date; later walks are bounded by the previous
        # head (GitHub's comparison), never by a date.
        bound = ", since: $since" if since is not None and branch.previous is None else ""
        aliases.append(
            f"b{index}: object(oid: $h{index}) {{ ... on Commit {{ history("
            f"first: {HISTORY_PAGE_SIZE}, after: $a{index}{bound}) "
            f"{{ ...Page }} }} }}"
        )
        if branch.needs_ancestry:
            declarations.append(f"$r{index}: String!, $p{index}: String!")
            variables[f"r{index}"] = HEADS_PREFIX + branch.head.name
            variables[f"p{index}"] = (branch.previous or {})["head"]
            aliases.append(compare_alias(f"c{index}", f"r{index}", f"p{index}"))
    if since is not None and any(w.previous is None for w in batch):
        declarations.append("$since: GitTimestamp")
        variables["since"] = format_time(since)
    query = (
        f"query CommitHistory($owner: String!, $name: String!, "
        f"{', '.join(declarations)}) {{ rateLimit {{ cost }} "
        f"repository(owner: $owner, name: $name) {{ {' '.join(aliases)} }} }}\n"
        f"fragment Page on CommitHistoryConnection {{ pageInfo {{ hasNextPage "
        f"endCursor }} nodes {{ {WALK_FIELDS} {node_fields} }} }}"
    )
    return query, variables


def new_bookmarks(
    heads: list[Head], bookmarks: Mapping[str, Any], walks: list[BranchWalk]
) -> dict[str, Any]:
    """Bookmarks after the run: walked heads advance, lost ones stay, gone branches go."""
    lost = {w.head.name for w in walks if w.lost}
    result: dict[str, Any] = {}
    for head in heads:
        if head.name not in lost:
            result[head.name] = head.bookmark()
        elif head.name in bookmarks:
            result[head.name] = bookmarks[head.name]
    return result


def log_walks(
    request: Request, stream: str, heads: list[Head], walks: list[BranchWalk], emitted: int
) -> None:
    """One DEBUG line per repository: what moved and what the walk cost."""
    logger.debug(
        "%s: %s: %d branch(es) selected, %d moved, %d history page(s), %d row(s)",
        stream,
        request.repository.full_name,
        len(heads),
        len(walks),
        sum(w.pages for w in walks),
        emitted,
    )
