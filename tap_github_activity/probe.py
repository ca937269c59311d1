"""The change probe: one cheap GraphQL query per batch of repositories that tells which ones the
GraphQL streams must read.

For every selected repository it asks the newest pull request update
(`pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC})`) and the heads of the
branches the commits streams read (`defaultBranchRef`; `ref(qualifiedName:)` aliases for named
`commit_branches`; one `refs(refPrefix: "refs/heads/", first: 100)` page for patterns), as
aliases `r0: repository(owner:, name:) {...}` of one query per owner and up to `BATCH_SIZE`
repositories. GitHub charges one request per connection page, the sum divided by 100 and
rounded: 100 repositories' pull request pages cost 1 point (74 with a refs page each), where
asking each repository costs 1 point per repository.

It runs once per run, only for what the selected streams need (pull_requests /
pull_request_reviews; commits / commit_branches): in the background from when the first
repository's streams start (`start`), so it overlaps the requests of the streams before them,
and a stream that needs it waits for it (`changes`). Then:

- pull_requests and pull_request_reviews skip a repository (no request) whose newest update is
  not after their bookmarks, or that has no pull request;
- commits and commit_branches take the heads from the probe (no heads query) and walk only
  branches whose head moved.

A repository the probe does not see (GraphQL NOT_FOUND, a batch GitHub refused) has no entry:
its streams read it as without the probe, and meet the error themselves. A repository changed
after the probe waits for the next run (its bookmark did not move past the change).
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tap_github_activity.cost_check import QueryFamily, register
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.prefetch import POOL
from tap_github_activity.streams.commit_history import (
    GLOB_CHARACTERS,
    HEAD_FRAGMENT,
    HEADS_PREFIX,
    REFS_PAGE_SIZE,
    Head,
    head_from_ref,
)

if TYPE_CHECKING:
    from tap_github_activity.tap import TapGitHubActivity

__all__ = ["BATCH_SIZE", "PROBE_STREAM", "ChangeProbe", "RepositoryChanges"]

# Repositories per query, at most: 100 pull request pages are 100 requests, 1 point.
BATCH_SIZE = 100
# Up to 149 connection requests round to 1 point.
ONE_POINT = 149
# Each repository's `pullRequests(first: 1)` and `refs` page are a request each, nothing nested.
_CONNECTION = re.compile(r"\b(?:pullRequests|refs)\(")
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
class RepositoryChanges:
    """What the probe saw of one repository."""

    # The newest pull request update; None when the repository has none (or it was not asked).
    newest_pull_update: datetime | None
    # The selected branches' heads; None when not asked, or when the branches did not fit one
    # refs page (the stream lists them itself).
    heads: tuple[Head, ...] | None


@dataclass(frozen=True)
class _Plan:
    pulls: bool
    heads: bool
    patterns: tuple[str, ...] | None  # None: the default branch
    names: tuple[str, ...]  # the named branches, when no pattern has a glob character
    globbing: bool


class ChangeProbe:
    """Asks once per run (thread-safe), on first use."""

    def __init__(self, tap: TapGitHubActivity) -> None:
        self._tap = tap
        self._lock = threading.Lock()
        self._answer: Future[dict[int, RepositoryChanges]] | None = None

    def start(self) -> None:
        """Ask in the background (once), if a selected stream uses the probe."""
        with self._lock:
            if self._answer is None and (self._plan().pulls or self._plan().heads):
                self._answer = POOL.submit(self._ask)

    def changes(self, repo_id: int) -> RepositoryChanges | None:
        """What the probe saw of a repository; None when it did not see it. Waits for the
        answer (asked now if not started); the probe's error, if any, is raised here."""
        with self._lock:
            if self._answer is None:
                self._answer = POOL.submit(self._ask)
            answer = self._answer
        return answer.result().get(repo_id)

    # -- the query ------------------------------------------------------------------------------

    def _plan(self) -> _Plan:
        streams = self._tap.streams
        selected = {name for name, stream in streams.items() if stream.selected}
        patterns: tuple[str, ...] | None = None
        configured = self._tap.config.get("commit_branches")
        if configured:
            patterns = tuple(p.removeprefix(HEADS_PREFIX) for p in configured)
        globbing = bool(patterns) and any(GLOB_CHARACTERS & set(p) for p in patterns or ())
        names = tuple(sorted(set(patterns))) if patterns and not globbing else ()
        return _Plan(
            pulls=bool(selected & set(PULL_STREAMS)),
            heads=bool(selected & set(HEAD_STREAMS)),
            patterns=patterns,
            names=names,
            globbing=globbing,
        )

    def _ask(self) -> dict[int, RepositoryChanges]:
        plan = self._plan()
        if not (plan.pulls or plan.heads):
            return {}
        by_owner: dict[str, list[dict[str, Any]]] = {}
        for repository in self._tap.selected_repositories():
            by_owner.setdefault(repository["owner"]["login"].lower(), []).append(repository)
        changes: dict[int, RepositoryChanges] = {}
        queries = 0
        checks = self._tap.client.ledger.cost_check
        for repositories in by_owner.values():
            offset = 0
            while offset < len(repositories):
                size = checks.size("ChangeProbe", _batch_size(plan))
                batch = repositories[offset : offset + size]
                offset += len(batch)
                queries += 1
                changes.update(self._ask_batch(plan, batch))
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
        aliases = "\n".join(
            f"  r{i}: repository(owner: $owner, name: $n{i}) {{ {fields} }}"
            for i in range(len(batch))
        )
        query = (
            f"query ChangeProbe({', '.join(declarations)}) {{\n  rateLimit {{ cost }}\n"
            f"{aliases}\n}}\n" + (HEAD_FRAGMENT if plan.heads else "")
        )
        try:
            data = self._tap.client.graphql(query, variables, stream=PROBE_STREAM, owner=owner)
        except NotAccessibleError as exc:
            logger.warning(
                "Change probe: GitHub refused the query for %d repositories of %s "
                "(%s); they are read without it",
                len(batch),
                owner,
                exc.message,
            )
            return {}
        changes = {}
        for index, repository in enumerate(batch):
            node = data.get(f"r{index}")
            if node is not None:
                changes[int(repository["id"])] = _changes(plan, node)
        return changes


def _batch_size(plan: _Plan) -> int:
    """Repositories per 1-point query: each asks one connection for its pull requests and one
    for a refs page (branch patterns); heads by name or the default branch are no connection."""
    connections = int(plan.pulls) + int(plan.heads and plan.globbing)
    return min(BATCH_SIZE, ONE_POINT // connections) if connections else BATCH_SIZE


def _fields(plan: _Plan) -> str:
    parts = []
    if plan.pulls:
        parts.append(
            "pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) "
            "{ nodes { updatedAt } }"
        )
    if plan.heads:
        if plan.patterns is None:
            parts.append("defaultBranchRef { ...Head }")
        elif plan.globbing:
            parts.append(
                f'refs(refPrefix: "{HEADS_PREFIX}", first: {REFS_PAGE_SIZE}) '
                "{ pageInfo { hasNextPage } nodes { ...Head } }"
            )
        else:
            parts += [
                f"h{i}: ref(qualifiedName: $q{i}) {{ ...Head }}" for i in range(len(plan.names))
            ]
    return " ".join(parts)


def _changes(plan: _Plan, node: Mapping[str, Any]) -> RepositoryChanges:
    newest = None
    if plan.pulls:
        pulls = [n for n in (node.get("pullRequests") or {}).get("nodes") or [] if n]
        if pulls:
            newest = _parse_time(pulls[0]["updatedAt"])
    heads: tuple[Head, ...] | None = None
    if plan.heads:
        if plan.patterns is None:
            heads = _present([head_from_ref(node.get("defaultBranchRef"))])
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
    return RepositoryChanges(newest, heads)


def _present(heads: Iterable[Head | None]) -> tuple[Head, ...]:
    return tuple(h for h in heads if h is not None)


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
