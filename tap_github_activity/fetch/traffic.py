"""Repository traffic: views and clones per day, top referrers and paths as dated snapshots.

GitHub serves traffic only to credentials with write access (see the README). A repository is
read once per `traffic_interval_hours`, at its own slot of the interval (a stable hash of its
id), so that each run reads its share of the repositories: an endpoint is asked when no read
of it happened since the repository's last slot. GitHub serves 14 days, so the next read
completes the day a read saw in part. Each endpoint is asked with the ETag of its last answer;
the snapshot lists only on the same UTC day (or when empty), since a new day needs its own
snapshot rows even when the list did not change: the ETag of a list that is not empty is kept
only when the repository's next slot is on the same day. A repository that refuses is not
asked for the other endpoints.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from tap_github_activity.conditional import STATE_KEY, Conditional
from tap_github_activity.fetch import Item, Keep, Request, Row

__all__ = ["READ_AT", "TRAFFIC_STREAMS", "fetch_traffic", "traffic_due"]

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
# State key: when the endpoint was last read (the run's start, seconds since the epoch).
READ_AT = "read_at"
HOUR = 3600


def fetch_traffic(request: Request) -> Iterator[Item]:
    """Each wanted endpoint's rows, then its ETag; a refusal (NotAccessibleError) ends it."""
    repository = request.repository
    interval = request.settings.traffic_interval_hours * HOUR
    for stream, (endpoint, items_key) in ENDPOINTS.items():
        state = request.state.get(stream)
        if not request.wants(stream) or not traffic_due(
            state, repository.repo_id, request.started, interval
        ):
            continue
        read = {READ_AT: int(request.started)}
        # The earliest the next read can be: the next run, or the repository's next slot.
        next_read = (
            _last_slot(repository.repo_id, request.started, interval) + interval
            if interval
            else request.started
        )
        conditional = Conditional(request.client, state, scope=repository.path)
        path = f"/repos/{repository.owner}/{repository.name}/traffic/{endpoint}"
        if items_key is not None:
            params = {"per": "day"}
            page = conditional.get(path, stream=stream, owner=repository.owner, params=params)
            # Not modified: the rows loaded last time are still current.
            for entry in [] if page.not_modified else (page.data or {}).get(items_key) or []:
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
            # Not modified: today's snapshot is loaded already, or the list is still empty.
            if not page.not_modified:
                entries = page.data or []
                for entry in entries:
                    named = {"referrer": entry["referrer"]} if stream == REFERRERS else _path(entry)
                    yield Row(stream, {"snapshot_date": request.today, **named, **_counts(entry)})
                if not entries:
                    conditional.note(path, empty=True)
                elif _day(next_read) != request.today:
                    conditional.forget(path)  # the next read is another day's: no use for it
        kept = conditional.state()
        yield Keep(stream, {STATE_KEY: kept[STATE_KEY] or None, **read})


def traffic_due(state: Mapping[str, Any] | None, repo_id: int, now: float, interval: int) -> bool:
    """Whether a traffic endpoint is read now: always with no interval (0) or no read yet,
    else when no read happened since the repository's last slot (its offset in the interval
    a hash of its id: runs each read their share of the repositories)."""
    read_at = (state or {}).get(READ_AT)
    if interval <= 0 or read_at is None:
        return True
    return int(read_at) < _last_slot(repo_id, now, interval)


def _last_slot(repo_id: int, now: float, interval: int) -> int:
    """The repository's latest slot at or before `now` (whole seconds, as `read_at` is kept)."""
    moment = int(now)
    offset = zlib.crc32(str(repo_id).encode()) % interval
    return moment - (moment - offset) % interval


def _day(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).date().isoformat()


def _counts(entry: dict[str, Any], **first: Any) -> dict[str, Any]:
    return {**first, "count": entry["count"], "uniques": entry["uniques"]}


def _path(entry: dict[str, Any]) -> dict[str, Any]:
    return {"path": entry["path"], "title": entry.get("title")}
