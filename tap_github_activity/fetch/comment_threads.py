"""A repository's issue and pull request comments through GraphQL, nested in pages of their
threads: the first sync's cheaper way when the threads hold many comments (fetch/issues.py
chooses it, and reads what changed during the walk from the REST listing later syncs use).

One query pages the issues and the pull requests side by side, each thread with its first 100
comments; a thread with more is read whole by follow-up queries, 100 threads a query. Threads
are paged in creation order, so an update moves none of them; GitHub's cursors may be positions
(it does not say), so each page after the first starts one thread (or comment) early and must
begin with the last one read: if it does not, something before it was deleted, a page may have
skipped one, and `ThreadsShifted` says so (the caller reads the REST listing instead).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_github_activity.cost_check import QueryFamily, aliases, register
from tap_github_activity.fetch import Request, repository_query
from tap_github_activity.fetch.pull_query import ACTOR_FRAGMENT, actor_login
from tap_github_activity.fetch.text import without_nul

__all__ = [
    "THREAD_BUDGET",
    "ThreadWalk",
    "ThreadsShifted",
    "cheaper_by_threads",
    "comment_record",
    "page_sizes",
    "thread_queries",
]

COMMENTS = "issue_comments"
# Cost (GitHub's rule, either reading): each connection page is one request and each thread's
# nested `comments` page one more, whatever its size; nothing nested in a comment is a
# connection. A query with both connections is 2 + I + P requests for pages of I issues and P
# pull requests: 147 threads for 1 point (149 requests); the first query also asks the newest
# update of each (2 requests: 145 threads). A connection's page is at most 100.
THREAD_BUDGET = 147
NEWEST_REQUESTS = 2
MAX_PAGE = 100
COMMENTS_PAGE_SIZE = 100
# Follow-up queries: one alias per thread whose comments overflow, one request each.
FOLLOW_UP_BATCH = 100
# The two connections: GraphQL field -> (variable prefix, holds pull requests).
CONNECTIONS = {"issues": ("issues", False), "pullRequests": ("pulls", True)}

# A thread's first comments (nodes: the simulator executes edges at twice the cost), and a
# page of comments with the cursors a next page is asked from.
_FIRST_COMMENTS = """
fragment FirstComments on IssueCommentConnection {
  pageInfo { hasNextPage }
  nodes { ...CommentFields }
}
"""
_COMMENT_PAGE = """
fragment CommentPage on IssueCommentConnection {
  pageInfo { hasNextPage }
  edges { cursor node { ...CommentFields } }
}
"""
_COMMENT_FIELDS = (
    """
fragment CommentFields on IssueComment {
  id
  fullDatabaseId
  authorAssociation
  body
  createdAt
  updatedAt
  url
  author { ...ActorFields }
}
"""
    + ACTOR_FRAGMENT
)
_NEWEST = """
    newestIssue: issues(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes { updatedAt }
    }
    newestPull: pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes { updatedAt }
    }"""


def threads_query(fields: tuple[str, ...], *, newest: bool) -> str:
    """A page of each of `fields` (issues, pullRequests), each thread with its first comments;
    with `newest`, the newest update of each connection too."""
    params = "".join(
        f", ${CONNECTIONS[f][0]}: Int!, ${CONNECTIONS[f][0]}After: String" for f in fields
    )
    pages = "".join(
        f"""
    {f}(first: ${CONNECTIONS[f][0]}, after: ${CONNECTIONS[f][0]}After,
        orderBy: {{field: CREATED_AT, direction: ASC}}) {{
      totalCount
      pageInfo {{ hasNextPage }}
      edges {{
        cursor
        node {{ id number comments(first: {COMMENTS_PAGE_SIZE}) {{ ...FirstComments }} }}
      }}
    }}"""
        for f in fields
    )
    return (
        f"query CommentThreads($owner: String!, $name: String!{params}) {{\n"
        "  rateLimit { cost }\n"
        f"  repository(owner: $owner, name: $name) {{{_NEWEST if newest else ''}{pages}\n"
        "  }\n}\n" + _FIRST_COMMENTS + _COMMENT_FIELDS
    )


def _threads_requests(query: str, variables: Mapping[str, Any]) -> int:
    newest = NEWEST_REQUESTS if "newestIssue" in query else 0
    return newest + sum(
        1 + int(variables[prefix]) for prefix, _ in CONNECTIONS.values() if prefix in variables
    )


register(
    QueryFamily(
        "CommentThreads",
        "comment threads page",
        _threads_requests,
        designed=THREAD_BUDGET,
        smaller="pages of {size} comment threads",
    )
)


def follow_up_query(kinds: list[bool]) -> str:
    """A page of comments of one thread per alias ($n<i> its number, $c<i> the cursor, none
    for its first page); `kinds` says which threads are pull requests."""
    params = "".join(f", $n{i}: Int!, $c{i}: String" for i in range(len(kinds)))
    fields = "".join(
        f"    t{i}: {'pullRequest' if is_pull else 'issue'}(number: $n{i}) {{\n"
        f"      comments(first: {COMMENTS_PAGE_SIZE}, after: $c{i}) {{ ...CommentPage }}\n"
        "    }\n"
        for i, is_pull in enumerate(kinds)
    )
    return (
        f"query CommentThreadPages($owner: String!, $name: String!{params}) {{\n"
        "  rateLimit { cost }\n"
        f"  repository(owner: $owner, name: $name) {{\n{fields}  }}\n}}\n"
        + _COMMENT_PAGE
        + _COMMENT_FIELDS
    )


register(
    QueryFamily(
        "CommentThreadPages",
        "comment thread follow-up",
        lambda _query, variables: aliases(variables, "n"),
    )
)


class ThreadsShifted(Exception):  # noqa: N818 -- a condition, not a failure
    """A page did not begin with the last thread or comment read: something before it went
    away, and the page may have skipped one."""


# -- planning ----------------------------------------------------------------------------------


def page_sizes(needs: Mapping[str, int], budget: int) -> dict[str, int]:
    """Page sizes of the open connections (field -> threads still expected, the repeated one
    included) within `budget` threads: the larger need first, the other the rest."""
    if len(needs) == 1:
        return dict.fromkeys(needs, max(2, min(MAX_PAGE, budget)))
    larger, smaller = sorted(needs, key=lambda f: (-needs[f], f))
    first = max(2, min(MAX_PAGE, needs[larger], budget - 2))
    return {larger: first, smaller: max(2, min(MAX_PAGE, budget - first))}


def thread_queries(issues: int, pulls: int, budget: int) -> int:
    """The queries the walk sends for `issues` and `pulls` threads (none overflowing)."""
    remaining = {"issues": issues, "pullRequests": pulls}
    repeat = dict.fromkeys(remaining, 0)
    open_, queries, spare = set(remaining), 0, budget - NEWEST_REQUESTS
    while open_:
        queries += 1
        for name, size in page_sizes({f: remaining[f] + repeat[f] for f in open_}, spare).items():
            read = size - repeat[name]
            if remaining[name] <= read:
                open_.discard(name)
            else:
                remaining[name] -= read
                repeat[name] = 1
        spare = budget
    return queries


def cheaper_by_threads(threads: Mapping[int, tuple[bool, int]], budget: int) -> bool:
    """Whether reading the comments nested in their threads costs fewer points than the REST
    listing (100 a page), given every thread: number -> (is a pull request, comments). The
    threads way costs its queries, the follow-ups and one REST page after the walk."""
    total = sum(count for _, count in threads.values())
    pulls = sum(is_pull for is_pull, _ in threads.values())
    queries = thread_queries(len(threads) - pulls, pulls, budget)
    # A thread of more comments than the nested page is read again by follow-up pages, each
    # after the first repeating one comment.
    pages = sum(
        1 + math.ceil((count - COMMENTS_PAGE_SIZE) / (COMMENTS_PAGE_SIZE - 1))
        for _, count in threads.values()
        if count > COMMENTS_PAGE_SIZE
    )
    follow_ups = math.ceil(pages / FOLLOW_UP_BATCH)
    return queries + follow_ups + 1 < max(1, math.ceil(total / 100))


# -- records -----------------------------------------------------------------------------------


def comment_record(
    node: Mapping[str, Any], number: int, is_pull: bool, *, include_bodies: bool
) -> dict[str, Any]:
    """The issue_comments record of one IssueComment node: the REST listing's record, field
    for field (GraphQL names a bot without REST's `[bot]`; ids are GitHub's BigInt strings)."""
    author = node.get("author") or {}
    record = {
        "id": int(node["fullDatabaseId"]),
        "node_id": node["id"],
        "author_login": actor_login(author),
        "author_id": author.get("databaseId"),
        "author_association": node["authorAssociation"],
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "html_url": node["url"],
        "body": node["body"] if include_bodies else None,
        "issue_number": number,
        "is_pull_request": is_pull,
    }
    return without_nul(record)  # type: ignore[no-any-return]


# -- the walk ----------------------------------------------------------------------------------


@dataclass
class _Connection:
    field: str
    need: int  # threads still expected (for page sizes only)
    read: int = 0
    after: str | None = None
    repeat: str | None = None  # the thread the next page must begin with
    done: bool = False


@dataclass
class _Overflow:
    """A thread whose comments are read by follow-up queries, from its first one."""

    number: int
    is_pull: bool
    after: str | None = None
    repeat: str | None = None  # the comment the next page must begin with


@dataclass
class ThreadWalk:
    """One repository's comments by threads. After `comments()`: `bound`, an updatedAt GitHub
    gave before the walk began (every later change is at or after it; None without threads),
    `recent`, the (id, updated_at) of the comments read at or after it, and `kinds`, each
    thread's number -> whether it is a pull request."""

    request: Request
    issues: int  # threads expected (page sizes only)
    pulls: int
    bound: str | None = None
    recent: set[tuple[int, str]] = field(default_factory=set)
    kinds: dict[int, bool] = field(default_factory=dict)

    def comments(self) -> Iterator[dict[str, Any]]:
        """Every comment of every thread, as records; raises ThreadsShifted."""
        connections = [_Connection("issues", self.issues), _Connection("pullRequests", self.pulls)]
        seen: set[str] = set()
        overflowing: list[_Overflow] = []
        budget = self.request.client.ledger.cost_check.size("CommentThreads", THREAD_BUDGET)
        first = True
        while open_ := [c for c in connections if not c.done]:
            needs = {c.field: c.need + (1 if c.repeat else 0) for c in open_}
            sizes = page_sizes(needs, budget - (NEWEST_REQUESTS if first else 0))
            variables: dict[str, Any] = {}
            for c in open_:
                prefix = CONNECTIONS[c.field][0]
                variables[prefix], variables[f"{prefix}After"] = sizes[c.field], c.after
            query = threads_query(tuple(c.field for c in open_), newest=first)
            data = repository_query(self.request, query, variables, stream=COMMENTS)
            if first:
                newest = [
                    n["updatedAt"]
                    for key in ("newestIssue", "newestPull")
                    for n in (data.get(key) or {}).get("nodes") or []
                    if n
                ]
                self.bound = max(newest) if newest else None
                first = False
            for c in open_:
                page = data[c.field]
                yield from self._page(c, page, seen, overflowing)
        yield from self._follow_ups(overflowing)

    def _page(
        self,
        connection: _Connection,
        page: Mapping[str, Any],
        seen: set[str],
        overflowing: list[_Overflow],
    ) -> Iterator[dict[str, Any]]:
        edges = [e for e in page.get("edges") or [] if e and e.get("node")]
        is_pull = CONNECTIONS[connection.field][1]
        _check_start(edges, connection.repeat, seen)
        for edge in edges:
            node = edge["node"]
            if node["id"] in seen:
                continue
            seen.add(node["id"])
            connection.read += 1
            number = int(node["number"])
            self.kinds[number] = is_pull
            thread = node["comments"]
            if (thread.get("pageInfo") or {}).get("hasNextPage"):
                # Read whole by follow-ups, whose pages carry the cursors to go on from.
                overflowing.append(_Overflow(number, is_pull))
            else:
                yield from self._records(thread.get("nodes") or [], number, is_pull)
        connection.need = max(int(page.get("totalCount") or 0) - connection.read, 0)
        more = _continuation(page)
        if more is None:
            connection.done = True
        else:
            connection.after, connection.repeat = more

    def _records(
        self,
        nodes: list[dict[str, Any] | None],
        number: int,
        is_pull: bool,
        skip: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        include_bodies = self.request.settings.include_bodies
        for node in nodes:
            if not node or node["id"] == skip:
                continue
            record = comment_record(node, number, is_pull, include_bodies=include_bodies)
            if self.bound is None or record["updated_at"] >= self.bound:
                # GitHub's timestamps (YYYY-MM-DDTHH:MM:SSZ) order as strings.
                self.recent.add((record["id"], record["updated_at"]))
            yield record

    def _follow_ups(self, overflowing: list[_Overflow]) -> Iterator[dict[str, Any]]:
        while overflowing:
            batch, overflowing = overflowing[:FOLLOW_UP_BATCH], overflowing[FOLLOW_UP_BATCH:]
            variables: dict[str, Any] = {}
            for i, thread in enumerate(batch):
                variables[f"n{i}"], variables[f"c{i}"] = thread.number, thread.after
            query = follow_up_query([t.is_pull for t in batch])
            data = repository_query(self.request, query, variables, stream=COMMENTS)
            for i, thread in enumerate(batch):
                found = (data.get(f"t{i}") or {}).get("comments")
                if found is None:  # the thread went away meanwhile, with its comments
                    continue
                edges = [e for e in found.get("edges") or [] if e and e.get("node")]
                _check_start(edges, thread.repeat, set())
                nodes = [e["node"] for e in edges]
                yield from self._records(nodes, thread.number, thread.is_pull, thread.repeat)
                more = _continuation(found)
                if more is not None:
                    overflowing.append(_Overflow(thread.number, thread.is_pull, *more))


def _continuation(connection: Mapping[str, Any]) -> tuple[str, str] | None:
    """(cursor, node id) to ask the next page from, one item early, or None at the end."""
    edges = [e for e in connection.get("edges") or [] if e and e.get("node")]
    if not (connection.get("pageInfo") or {}).get("hasNextPage") or not edges:
        return None
    if len(edges) == 1:
        raise ThreadsShifted("a page of one cannot be asked again one item early")
    return edges[-2]["cursor"], edges[-1]["node"]["id"]


def _check_start(edges: list[dict[str, Any]], repeat: str | None, seen: set[str]) -> None:
    """A page asked one item early begins with that item (or, when items were added before
    it, with one already read); anything else means items before it went away."""
    if repeat is None:
        return
    head = edges[0]["node"]["id"] if edges else None
    if head != repeat and head not in seen:
        raise ThreadsShifted(f"the page after {repeat} began with {head}")
