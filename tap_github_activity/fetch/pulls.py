"""Pull requests and their reviews: one GraphQL walk per repository feeds both streams.

Pages of pull requests, newest update first, down to the oldest bookmark of the wanted streams;
reviews beyond a pull request's nested page by follow-up queries. A repository the change probe
saw unchanged costs no request. Rows come once the walk is complete, so a walk that fails
half-way gives no row and moves no bookmark.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from tap_github_activity.fetch import Advance, Item, Request, Row, repository_query
from tap_github_activity.fetch.pull_query import (
    FOLLOW_UP_BATCH,
    LIST_PAGE_SIZE,
    PAGE_QUERY,
    PAGE_SIZES,
    Pull,
    follow_up_query,
    pull_request_record,
    review_records,
)
from tap_github_activity.timestamps import format_time, parse_time

__all__ = ["PULLS", "REVIEWS", "fetch_pulls", "signpost"]

PULLS = "pull_requests"
REVIEWS = "pull_request_reviews"
ROWS = {PULLS: lambda pull: [pull_request_record(pull)], REVIEWS: review_records}

logger = logging.getLogger(__name__)


def signpost(now: float) -> str:
    """The bookmark's cap: one second before the walk starts. GitHub's timestamps have whole
    seconds, so a pull request updated later in that second could share the updatedAt of one
    the walk saw; rows are emitted only when strictly newer than the bookmark."""
    return format_time(datetime.fromtimestamp(math.floor(now) - 1, tz=timezone.utc))


def fetch_pulls(request: Request) -> Iterator[Item]:
    """The wanted streams' rows newer than their own bookmarks, then each one's new bookmark."""
    since = {stream: request.start.get(stream) for stream in ROWS if request.wants(stream)}
    if not since:
        return
    bookmarks = [b for b in since.values() if b is not None]
    oldest = min(bookmarks) if len(bookmarks) == len(since) else None
    changes = request.changes()
    if changes is not None:
        newest_seen = changes.newest_pull_update
        if newest_seen is None or (oldest is not None and newest_seen <= oldest):
            return  # the probe saw nothing newer than every bookmark, or no pull request
    rows: list[Row] = []
    newest: datetime | None = None
    for pull in _pulls(request, oldest):
        updated = parse_time(pull.updated_at)
        newest = updated if newest is None else max(newest, updated)
        for stream, start in since.items():
            if start is None or updated > start:
                rows += [Row(stream, record) for record in ROWS[stream](pull)]
    yield from rows
    if newest is not None:
        for stream, start in since.items():
            if start is None or newest > start:
                # Also for a stream without rows (no reviews): it moves on.
                yield Advance(stream, format_time(newest))


def _pulls(request: Request, since: datetime | None) -> Iterator[Pull]:
    """Pull requests updated after `since`, newest first, each with all its reviews."""
    cursor = None
    # A pull request updated during the walk moves to the front and shifts the later pages by
    # one: the next page then repeats the last one read. (The moved one is newer than the
    # bookmark this walk leaves, so the next run reads it.)
    seen: set[str] = set()
    while True:
        data = _query(request, PAGE_QUERY, {"cursor": cursor, **PAGE_SIZES})
        pull_requests = data["pullRequests"]
        page, reached_bookmark = [], False
        for node in pull_requests["nodes"]:
            if node is None or node["id"] in seen:
                continue
            if since is not None and parse_time(node["updatedAt"]) <= since:
                reached_bookmark = True
                break
            seen.add(node["id"])
            page.append(node)
        yield from _complete(request, page)
        info = pull_requests["pageInfo"]
        if reached_bookmark or not info["hasNextPage"]:
            return
        cursor = info["endCursor"]


def _complete(request: Request, nodes: list[dict[str, Any]]) -> list[Pull]:
    """The page's pull requests with every review: overflowing ones paged by follow-ups."""
    pulls = []
    remaining: dict[int, str] = {}  # index in pulls -> reviews cursor
    for index, node in enumerate(nodes):
        pull = Pull(node)
        reviews = node.get("reviews") or {}
        pull.add_reviews(reviews.get("nodes") or [])
        if (reviews.get("pageInfo") or {}).get("hasNextPage"):
            remaining[index] = reviews["pageInfo"]["endCursor"]
        for name in ("labels", "reviewRequests"):
            listed = node.get(name) or {}
            if listed.get("totalCount", 0) > len(listed.get("nodes") or []):
                logger.warning(
                    "%s: %s #%s has %s %s; the first %d are kept",
                    PULLS,
                    request.repository.full_name,
                    node["number"],
                    listed["totalCount"],
                    name,
                    LIST_PAGE_SIZE,
                )
        pulls.append(pull)
    while remaining:
        batch = list(remaining.items())[:FOLLOW_UP_BATCH]
        variables: dict[str, Any] = {}
        for alias, (index, cursor) in enumerate(batch):
            variables[f"n{alias}"] = pulls[index].node["number"]
            variables[f"c{alias}"] = cursor
        data = _query(request, follow_up_query(len(batch)), variables)
        for alias, (index, _) in enumerate(batch):
            reviews = (data.get(f"p{alias}") or {}).get("reviews")
            if reviews is None:  # the pull request went away meanwhile
                del remaining[index]
                continue
            pulls[index].add_reviews(reviews.get("nodes") or [])
            if reviews["pageInfo"]["hasNextPage"]:
                remaining[index] = reviews["pageInfo"]["endCursor"]
            else:
                del remaining[index]
    return pulls


def _query(request: Request, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    # One walk, counted under pull_requests when it is wanted.
    stream = PULLS if request.wants(PULLS) else REVIEWS
    return repository_query(request, query, variables, stream=stream)
