"""The commit history walk behind commits and commit_branches (GraphQL).

The selected branches and their heads, the bookmarks kept per branch, and the walk from each
moved head down to the history an earlier run read: ``CommitHistoryStream``, the base of both
streams (streams/commits.py), which turn the walked commits into their rows.

Which branches
--------------
``commit_branches`` setting: branch names or glob patterns (``*`` for all), default each
repository's default branch. The selected heads come from the run's change probe
(tap_github_activity/probe.py: one query for up to 50 repositories): ``defaultBranchRef`` by
default, ``ref(qualifiedName:)`` aliases for plain names, and a ``refs(refPrefix:
"refs/heads/", first: 100)`` page when a pattern must be matched. A repository the probe did not
see, or with more branches than one page, has its heads read by one small query of its own
(refs pages for patterns).

Bookmarks and the walk
----------------------
State, per repository (singer-sdk's partition) and per stream: ``branches: {name: {"head": oid,
"committed_at": head's committer date}}``. A branch whose head did not move costs nothing more.
A moved branch is walked from its new head through ``history`` (``git log`` order: newest
committer date first, a commit never before its children), 100 commits a page with each
commit's parent oids, until no commit that is new can follow: the walk keeps the set of commits
known to be reachable from the previous head (marked when the previous head or one of its
descendants is met, and passed on to parents) and the parents of new commits it has yet to meet;
it stops when every one of those is known. This is ``git rev-list new ^old``, so:

* commits of a long-lived branch merged today are emitted although their dates are older than
  the bookmark: they are not reachable from the previous head (date filters would lose them);
* the cost of such a merge is the walk down to its oldest new commit in that order: every
  commit dated after it is listed (1 point per 100), not just the new ones;
* whether the previous head is still an ancestor of the new one is GitHub's answer, not a date
  guess (tap_github_activity/ancestry.py): the branch's ``compare`` rides in the walk's first
  query (no extra point). A fast-forward stops after exactly ``behindBy`` new commits, however
  old their committer dates; a force-push stops at the merge base (one REST compare, 1 point)
  and emits what the new history brings; a branch reset to an older commit emits nothing.

``start_date`` filters the rows (``history(since:)`` on a branch's first walk; later walks are
bounded by the previous head, never by a date). Empty repositories (no default branch) give no
rows. docs/incremental.md has what a run is guaranteed to catch.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.ancestry import Ancestry, compare_alias, from_graphql, rest_ancestry
from tap_github_activity.clock import format_timestamp, parse_timestamp
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.streams.children import RepositoryChildStream, full_name

__all__ = [
    "GLOB_CHARACTERS",
    "HEADS_PREFIX",
    "HEAD_FRAGMENT",
    "REFS_PAGE_SIZE",
    "BranchWalk",
    "CommitHistoryStream",
    "Head",
    "head_from_ref",
]

HISTORY_PAGE_SIZE = 100
REFS_PAGE_SIZE = 100
BRANCHES_PER_QUERY = 5
HEADS_PREFIX = "refs/heads/"
GLOB_CHARACTERS = frozenset("*?[")

HEAD_FRAGMENT = "fragment Head on Ref { name target { oid ... on Commit { committedDate } } }"

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


@dataclass(frozen=True)
class Head:
    """A selected branch and the commit it points at."""

    name: str
    oid: str
    committed_at: str

    def bookmark(self) -> dict[str, str]:
        """What state keeps for the branch."""
        return {"head": self.oid, "committed_at": self.committed_at}


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
                if self.since is None or parse_timestamp(node["committedDate"]) >= self.since:
                    self.new.append(oid)
                    fresh.append(node)
            if not self.pending or (exact_count and self.met_new == expected):
                self.done = True
                break
        return fresh


class CommitHistoryStream(RepositoryChildStream):
    """Reads selected branches' heads and walks their history from the bookmarks in state."""

    replication_key = None

    # -- settings --------------------------------------------------------------------------

    @property
    def branch_patterns(self) -> list[str] | None:
        """`commit_branches` without "refs/heads/"; None: the default branch."""
        patterns = self.config.get("commit_branches")
        if not patterns:
            return None
        return [p.removeprefix(HEADS_PREFIX) for p in patterns]

    @property
    def since(self) -> datetime | None:
        """start_date: the oldest commit date any walk reads."""
        return self.github_tap.settings.start_date

    # -- heads ------------------------------------------------------------------------------

    def _graphql(
        self,
        context: Context,
        query: str,
        variables: dict[str, Any],
    ) -> dict[str, Any]:
        data = self.client.graphql(
            query,
            {"owner": context["owner"], "name": context["repo"], **variables},
            stream=self.name,
            owner=context["owner"],
        )
        repository = data.get("repository")
        if repository is None:
            raise NotAccessibleError(
                "graphql repository " + full_name(context), 404, "Could not resolve to a Repository"
            )
        return repository  # type: ignore[no-any-return]

    @override
    def partition_inputs(self, context: Context) -> dict[str, Any]:
        return {"changes": self.github_tap.change_probe.changes(context["repo_id"])}

    def read_heads(self, context: Context) -> list[Head]:
        """The selected branches and their heads (none for an empty repository): the change
        probe's, else asked."""
        changes = self.inputs(context).get("changes")
        if changes is not None and changes.heads is not None:
            return list(changes.heads)
        patterns = self.branch_patterns
        if patterns is None:
            ref = self._graphql(context, DEFAULT_HEAD_QUERY, {}).get("defaultBranchRef")
            return [head for head in [head_from_ref(ref)] if head]
        if not any(GLOB_CHARACTERS & set(p) for p in patterns):
            return self._named_heads(context, sorted(set(patterns)))
        heads: list[Head] = []
        after: str | None = None
        while True:
            refs = self._graphql(context, BRANCH_LIST_QUERY, {"after": after})["refs"]
            heads += [
                head
                for node in refs["nodes"]
                if (head := head_from_ref(node))
                and any(fnmatch.fnmatchcase(head.name, p) for p in patterns)
            ]
            if not refs["pageInfo"]["hasNextPage"]:
                return heads
            after = refs["pageInfo"]["endCursor"]

    def _named_heads(self, context: Context, names: list[str]) -> list[Head]:
        declarations = "".join(f", $n{i}: String!" for i in range(len(names)))
        aliases = " ".join(
            f"n{i}: ref(qualifiedName: $n{i}) {{ ...Head }}" for i in range(len(names))
        )
        query = (
            f"query CommitNamedHeads($owner: String!, $name: String!{declarations}) "
            f"{{ rateLimit {{ cost }} repository(owner: $owner, name: $name) "
            f"{{ {aliases} }} }}\n{HEAD_FRAGMENT}"
        )
        repository = self._graphql(
            context, query, {f"n{i}": HEADS_PREFIX + name for i, name in enumerate(names)}
        )
        return [head for i in range(len(names)) if (head := head_from_ref(repository.get(f"n{i}")))]

    # -- walking ----------------------------------------------------------------------------

    def plan(
        self,
        heads: list[Head],
        bookmarks: Mapping[str, Mapping[str, str]],
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
            walks.append(BranchWalk(head, previous, known, self.since))
        return walks

    def walk(
        self,
        context: Context,
        walks: list[BranchWalk],
    ) -> Iterator[tuple[BranchWalk, dict[str, Any]]]:
        """(walk, commit node) for each commit new on a walked branch, in history order per
        branch; up to BRANCHES_PER_QUERY branches share one query."""
        active = [w for w in walks if not w.done]
        while active:
            batch = active[:BRANCHES_PER_QUERY]
            query, variables = self._history_query(batch)
            repository = self._graphql(context, query, variables)
            for index, walk in enumerate(batch):
                if walk.needs_ancestry:
                    self._settle(context, walk, repository.get(f"c{index}"))
                    if walk.done:
                        continue
                target = repository.get(f"b{index}")
                if not target or "history" not in target:
                    self.logger.warning(
                        "%s: %s branch %s: head %s could not be read; it is walked again next run",
                        self.name,
                        full_name(context),
                        walk.head.name,
                        walk.head.oid,
                    )
                    walk.lost = walk.done = True
                    continue
                history = target["history"]
                walk.pages += 1
                for node in walk.take(history["nodes"]):
                    yield walk, node
                if not walk.done:
                    if history["pageInfo"]["hasNextPage"]:
                        walk.cursor = history["pageInfo"]["endCursor"]
                    else:
                        walk.done = True
            active = [w for w in walks if not w.done]

    def _settle(self, context: Context, walk: BranchWalk, ref: Mapping[str, Any] | None) -> None:
        """GitHub's comparison of the walk's heads: GraphQL's when it answers for this head,
        else REST's (a force-push's merge base, or a ref that moved again meanwhile)."""
        previous = (walk.previous or {})["head"]
        ancestry = from_graphql(ref, walk.head.oid) or rest_ancestry(
            self.client,
            context["owner"],
            context["repo"],
            previous,
            walk.head.oid,
            stream=self.name,
        )
        if ancestry.status in ("diverged", "unknown"):
            self.logger.warning(
                "%s: %s branch %s: %s since %s; %s",
                self.name,
                full_name(context),
                walk.head.name,
                "force-pushed" if ancestry.status == "diverged" else "moved",
                previous,
                f"read down to the merge base {ancestry.merge_base}"
                if ancestry.status == "diverged"
                else "GitHub no longer knows that commit: read down to the other known heads",
            )
        walk.settle(ancestry)

    def node_fields(self) -> str:
        """Fields asked for each commit beyond WALK_FIELDS."""
        return ""

    def _history_query(self, batch: list[BranchWalk]) -> tuple[str, dict[str, Any]]:
        declarations, aliases = [], []
        variables: dict[str, Any] = {}
        since = self.since
        for index, walk in enumerate(batch):
            declarations.append(f"$h{index}: GitObjectID!, $a{index}: String")
            variables[f"h{index}"] = walk.head.oid
            variables[f"a{index}"] = walk.cursor
            # A first walk lets GitHub filter by date; later walks must see older commits
            # (a merged old branch) and stop at start_date themselves.
            bound = ", since: $since" if since is not None and walk.previous is None else ""
            aliases.append(
                f"b{index}: object(oid: $h{index}) {{ ... on Commit {{ history("
                f"first: {HISTORY_PAGE_SIZE}, after: $a{index}{bound}) "
                f"{{ ...Page }} }} }}"
            )
            if walk.needs_ancestry:
                declarations.append(f"$r{index}: String!, $p{index}: String!")
                variables[f"r{index}"] = HEADS_PREFIX + walk.head.name
                variables[f"p{index}"] = (walk.previous or {})["head"]
                aliases.append(compare_alias(f"c{index}", f"r{index}", f"p{index}"))
        if since is not None and any(w.previous is None for w in batch):
            declarations.append("$since: GitTimestamp")
            variables["since"] = format_timestamp(since)
        query = (
            f"query CommitHistory($owner: String!, $name: String!, "
            f"{', '.join(declarations)}) {{ rateLimit {{ cost }} "
            f"repository(owner: $owner, name: $name) {{ {' '.join(aliases)} }} }}\n"
            f"fragment Page on CommitHistoryConnection {{ pageInfo {{ hasNextPage "
            f"endCursor }} nodes {{ {WALK_FIELDS} {self.node_fields()} }} }}"
        )
        return query, variables

    def new_bookmarks(
        self, heads: list[Head], bookmarks: Mapping[str, Any], walks: list[BranchWalk]
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
        self, context: Context, heads: list[Head], walks: list[BranchWalk], emitted: int
    ) -> None:
        """One line per repository: what moved and what the walk cost."""
        self.logger.info(
            "%s: %s: %d branch(es) selected, %d moved, %d history page(s), %d row(s)",
            self.name,
            full_name(context),
            len(heads),
            len(walks),
            sum(w.pages for w in walks),
            emitted,
        )


def head_from_ref(ref: Mapping[str, Any] | None) -> Head | None:
    """The branch and commit of a `...Head` ref (None: no ref, or not a commit)."""
    target = (ref or {}).get("target") or {}
    if not ref or "committedDate" not in target:
        return None  # no branch, or a ref that does not point at a commit
    return Head(ref["name"], target["oid"], target["committedDate"])
