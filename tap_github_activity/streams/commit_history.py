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
* the cost of such a merge is the walk down to where the merged branch forked: every commit
  dated after the fork point is listed (1 point per 100), not just the new ones;
* a force-push (the previous head is no longer an ancestor) is detected by date: in ``git log``
  order the previous head comes before any commit older than itself, so meeting a commit more
  than ``FORCE_PUSH_WINDOW`` older than the previous head, before meeting any known commit,
  means the previous head is gone. The walk then stops there and what it read is emitted (the
  rebased commits carry new committer dates). Commits older than that window which a force-push
  brings onto a branch are not emitted for it.

``start_date`` bounds every walk (``history(since:)`` on a branch's first walk; later walks stop
at the first commit older than it). Empty repositories (no default branch) give no rows.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.cost_check import QueryFamily, aliases, register
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.streams.children import RepositoryChildStream, full_name

__all__ = [
    "FORCE_PUSH_WINDOW",
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
# git keeps no push times: a force-push is told from clock skew by this margin (see above).
FORCE_PUSH_WINDOW = timedelta(days=1)
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


# A branch's history page is one request, and each of its commits' parents one more.
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


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _git_timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    force_pushed: bool = False
    lost: bool = False  # the head could not be read (deleted meanwhile)
    pending: set[str] = field(default_factory=set)  # parents of new commits not met yet
    new: list[str] = field(default_factory=list)
    pages: int = 0

    @property
    def floor(self) -> datetime | None:
        """Before any known commit is met, a new commit older than this means force-push."""
        if self.previous is None:
            return None
        return _parse_time(self.previous["committed_at"]) - FORCE_PUSH_WINDOW

    def take(self, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The commits of one history page that are new on this branch; marks the walk done as
        soon as nothing new can follow."""
        fresh: list[dict[str, Any]] = []
        floor = self.floor
        for node in nodes:
            oid = node["oid"]
            parents = [parent["oid"] for parent in node["parents"]["nodes"]]
            committed = _parse_time(node["committedDate"])
            if self.since is not None and committed < self.since:
                self.done = True  # everything after is older still
                break
            if oid in self.known:
                self.reached_known = True
                self.known.update(parents)
                self.pending.difference_update(parents)
            elif not self.reached_known and floor is not None and committed < floor:
                self.force_pushed = True
                self.done = True
                break
            else:
                self.pending.discard(oid)
                self.pending.update(p for p in parents if p not in self.known)
                self.new.append(oid)
                fresh.append(node)
            if not self.pending:
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
            batch = active[
                : self.client.ledger.cost_check.size("CommitHistory", BRANCHES_PER_QUERY)
            ]
            query, variables = self._history_query(batch)
            repository = self._graphql(context, query, variables)
            for index, walk in enumerate(batch):
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
        for walk in walks:
            if walk.force_pushed:
                self.logger.warning(
                    "%s: %s branch %s: the previous head %s is no longer in its history "
                    "(force-push?): read back to %s only",
                    self.name,
                    full_name(context),
                    walk.head.name,
                    (walk.previous or {}).get("head"),
                    _git_timestamp(walk.floor) if walk.floor else "-",
                )

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
        if since is not None and any(w.previous is None for w in batch):
            declarations.append("$since: GitTimestamp")
            variables["since"] = _git_timestamp(since)
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
