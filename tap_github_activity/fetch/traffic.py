"""Repository traffic: views and clones per day, top referrers and paths as dated snapshots.

GitHub serves traffic only to credentials with write access (see the README). Each endpoint is
asked with the ETag of its last answer; the snapshot lists only on the same UTC day (or when
empty), since a new day needs its own snapshot rows even when the list did not change. A
repository that refuses is not asked for the other endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tap_github_activity.conditional import Conditional
from tap_github_activity.fetch import Item, Keep, Request, Row

__all__ = ["TRAFFIC_STREAMS", "fetch_traffic"]

VIEWS = "traffic_views"
CLONES = "traffic_clones"
REFERRERS = "traffic_referrers"
PATHS = "traffic_paths"
# Stream -> (endpoint, the answer's list key for daily counts, or None for a snapshot list).
ENDPOINTS: dict[str, tuple[str, str | None]] = {
    VIEWS: ("views", "views"),
    CLONES: ("clones", "clones"),
    REFERRERS: ("popular/referrers", None),
    PATHS: ("popular/paths", None),
}
TRAFFIC_STREAMS = tuple(ENDPOINTS)


def fetch_traffic(request: Request) -> Iterator[Item]:
    """Each wanted endpoint's rows, then its ETag; a refusal (NotAccessibleError) ends it."""
    repository = request.repository
    for stream, (endpoint, items_key) in ENDPOINTS.items():
        if not request.wants(stream):
            continue
        conditional = Conditional(request.client, request.state.get(stream))
        path = f"/repos/{repository.owner}/{repository.name}/traffic/{endpoint}"
        if items_key is not None:
            params = {"per": "day"}
            page = conditional.get(path, stream=stream, owner=repository.owner, params=params)
            if page.not_modified:
                continue  # the rows loaded last time are still current
            for entry in (page.data or {}).get(items_key) or []:
                yield Row(stream, _counts(entry, timestamp=entry["timestamp"]))
        else:
            page = conditional.get(
                path,
                stream=stream,
                owner=repository.owner,
                # A new day needs its own snapshot rows, even of an unchanged list.
                reusable=lambda entry: (
                    entry.get("date") == request.today or bool(entry.get("empty"))
                ),
                date=request.today,
            )
            if page.not_modified:
                continue  # today's snapshot is loaded already, or the list is still empty
            entries = page.data or []
            for entry in entries:
                named = {"referrer": entry["referrer"]} if stream == REFERRERS else _path(entry)
                yield Row(stream, {"snapshot_date": request.today, **named, **_counts(entry)})
            conditional.note(path, empty=not entries)
        if page.etag:
            yield Keep(stream, conditional.state())


def _counts(entry: dict[str, Any], **first: Any) -> dict[str, Any]:
    return {**first, "count": entry["count"], "uniques": entry["uniques"]}


def _path(entry: dict[str, Any]) -> dict[str, Any]:
    return {"path": entry["path"], "title": entry.get("title")}
