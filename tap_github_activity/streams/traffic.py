"""Repository traffic: views and clones per day, and the top referrers and paths.

Permissions. GitHub serves traffic only to credentials with write (push) access to the
repository:

- classic personal access token: the `repo` scope, and the token's user has the write, maintain
  or admin role on the repository;
- fine-grained personal access token: repository permission "Administration" (read), on
  repositories where its user has write access;
- GitHub App: repository permission "Administration" (read-only), installed on the repository.

A repository whose traffic these credentials cannot read (403 or 404) is skipped with one
warning naming it and counted once in the run summary (under "traffic"); the other traffic
streams then skip it without asking GitHub, and the run goes on.

History. GitHub keeps 14 days and today's figures keep growing until the day ends. Every run
reads the whole window again:

- `traffic_views` and `traffic_clones` hold one row per repository and day (primary key
  repo_id, timestamp): a target that upserts by key keeps the latest value of each day, so a
  daily schedule builds a history longer than GitHub's window;
- `traffic_referrers` and `traffic_paths` hold the top 10 lists of the last 14 days as dated
  snapshots (primary key repo_id, snapshot_date, referrer or path; `snapshot_date` is the run's
  UTC date): a second run on the same day updates that day's rows, the next day adds new ones.
  An entry that drops out of the top 10 between two runs of the same day keeps its earlier row.

Cost. Each request is sent with the ETag of the last answer kept in state (one per repository
and endpoint): an unchanged answer (304) costs no rate-limit point. The snapshot streams send
it only when the stored answer is from the same day (or was empty), since a new day needs its
own snapshot rows even when the list did not change.

Concurrency. The first selected traffic stream (the prober) asks its endpoint; once it answered,
the other selected traffic streams' endpoints are asked (concurrently) and their answers handed
to them, kept per repository under a lock. The prober may fetch repositories ahead on worker
threads (prefetch.py); the others read on singer-sdk's thread, without a request of their own.
A repository that refuses the prober is not asked for the others, as sequentially.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.client import Page
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.prefetch import ordered_map
from tap_github_activity.streams.base import EVENT_UUID
from tap_github_activity.streams.children import (
    REPOSITORY_CONTEXT,
    RepositoryChildStream,
    full_name,
)

__all__ = [
    "TRAFFIC_SUMMARY_NAME",
    "TrafficClonesStream",
    "TrafficPathsStream",
    "TrafficReferrersStream",
    "TrafficViewsStream",
]

# The name the run summary counts repositories without traffic access under.
TRAFFIC_SUMMARY_NAME = "traffic"


@dataclass
class _TrafficRun:
    """What the four traffic streams share during one run."""

    snapshot_date: str
    denied: set[int] = field(default_factory=set)  # repository ids that refused traffic


# One entry per tap instance, that is per run.
_RUNS: weakref.WeakKeyDictionary[object, _TrafficRun] = weakref.WeakKeyDictionary()
_RUNS_LOCK = threading.Lock()


def _count_properties() -> list[th.Property[Any]]:
    return [
        th.Property("count", th.IntegerType, description="Hits in the period."),
        th.Property("uniques", th.IntegerType, description="Distinct visitors or cloners."),
    ]


class TrafficStream(RepositoryChildStream):
    """Base of the traffic streams: a repository that refuses traffic is warned about and
    counted once, and not asked again by the other traffic streams during the run."""

    path: ClassVar[str]
    params: ClassVar[dict[str, Any] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The prober's answers for this stream, by repository id: a Page or the error.
        self._handoffs: dict[int, Page | NotAccessibleError] = {}
        self._handoffs_lock = threading.Lock()

    @property
    def traffic_run(self) -> _TrafficRun:
        """This run's shared traffic facts (snapshot date, repositories refusing traffic)."""
        with _RUNS_LOCK:
            run = _RUNS.get(self.github_tap)
            if run is None:
                now = datetime.fromtimestamp(self.client.clock.now(), tz=timezone.utc)
                run = _RUNS.setdefault(self.github_tap, _TrafficRun(now.date().isoformat()))
        return run

    def _family(self) -> list[TrafficStream]:
        """The selected traffic streams, in the order singer-sdk syncs them."""
        parent = self.github_tap.streams[self.parent_stream_type.name]
        return [
            stream
            for stream in parent.child_streams
            if isinstance(stream, TrafficStream) and stream.selected
        ]

    @property
    @override
    def prefetches(self) -> bool:
        family = self._family()
        return bool(family) and family[0] is self

    @override
    def partition_inputs(self, context: Context) -> dict[str, Any]:
        family = self._family()
        if not family or family[0] is not self:
            return {"others": []}
        # The prober asks the others' endpoints with their ETags (read here, on singer-sdk's
        # thread).
        return {
            "others": [
                (stream, stream.etag_for(stream.get_context_state(context)))
                for stream in family[1:]
            ]
        }

    def etag_for(self, state: dict[str, Any]) -> str | None:
        """The ETag this stream's request is sent with, from its repository state."""
        return state.get("etag")

    def page(self, context: Context) -> Page:
        """This repository's answer: handed over by the prober, else asked (the prober also
        asks the other traffic streams' endpoints once its own answered)."""
        with self._handoffs_lock:
            handed = self._handoffs.pop(context["repo_id"], None)
        if isinstance(handed, NotAccessibleError):
            raise handed
        if handed is not None:
            return handed
        page = self.fetch(context, etag=self.etag_for(self.partition_state(context)))
        others = self.inputs(context)["others"]
        answers = ordered_map(
            lambda other: _answer(other[0], context, other[1]),
            others,
            self.github_tap.settings.max_concurrent_requests,
        )
        for (other, _), answer in zip(others, answers, strict=True):
            with other._handoffs_lock:
                other._handoffs[context["repo_id"]] = answer
        return page

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None  # children always have their repository's context
        run = self.traffic_run
        if context["repo_id"] in run.denied:
            return
        try:
            yield from self.partition_records(context)
        except NotAccessibleError as exc:
            run.denied.add(context["repo_id"])
            self.logger.warning(
                "Skipping the traffic of %s: %s answered %s (%s). Traffic needs write access "
                "to the repository (classic token: repo scope; fine-grained token or GitHub "
                "App: Administration read permission).",
                full_name(context),
                exc.url,
                exc.status,
                exc.message,
            )
            self.github_tap.run_summary.skip(
                TRAFFIC_SUMMARY_NAME, full_name(context), f"{exc.status} {exc.message}".strip()
            )

    def fetch(self, context: Context, *, etag: str | None) -> Page:
        """One traffic answer of this repository (a request only: may run on any thread)."""
        return self.client.get(
            self.path.format(**context),
            stream=self.name,
            owner=context["owner"],
            params=self.params,
            etag=etag,
        )


def _answer(
    stream: TrafficStream,
    context: Context,
    etag: str | None,
) -> Page | NotAccessibleError:
    try:
        return stream.fetch(context, etag=etag)
    except NotAccessibleError as exc:
        return exc


class DailyTrafficStream(TrafficStream):
    """Counts per day over GitHub's 14-day window; re-read whole on every run."""

    primary_keys = ("repo_id", "timestamp")
    replication_key = None
    emits_event_uuid = True
    items_key: ClassVar[str]
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property(
            "timestamp",
            th.DateTimeType,
            required=True,
            description="Start of the day (UTC midnight).",
        ),
        *_count_properties(),
        EVENT_UUID,
    ).to_dict()

    params = {"per": "day"}  # noqa: RUF012 -- read only

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        page = self.page(context)
        if page.not_modified:
            return  # the rows loaded last time are still current
        for entry in (page.data or {}).get(self.items_key) or []:
            yield {
                "timestamp": entry["timestamp"],
                "count": entry["count"],
                "uniques": entry["uniques"],
            }
        if page.etag:
            self.remember(context, etag=page.etag)


class TrafficViewsStream(DailyTrafficStream):
    """Page views per repository and day (GitHub keeps 14 days; today's count still grows).

    Incremental: every day of the last 14; older days GitHub no longer serves."""

    name = "traffic_views"
    path = "/repos/{owner}/{repo}/traffic/views"
    items_key = "views"


class TrafficClonesStream(DailyTrafficStream):
    """Clones per repository and day (GitHub keeps 14 days; today's count still grows).

    Incremental: every day of the last 14; older days GitHub no longer serves."""

    name = "traffic_clones"
    path = "/repos/{owner}/{repo}/traffic/clones"
    items_key = "clones"


class SnapshotTrafficStream(TrafficStream):
    """A top-10 list of the last 14 days, stored as a snapshot dated with the run's UTC day."""

    replication_key = None

    @override
    def etag_for(self, state: dict[str, Any]) -> str | None:
        reusable = state.get("snapshot_date") == self.traffic_run.snapshot_date or state.get(
            "empty"
        )
        return state.get("etag") if reusable else None

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        snapshot_date = self.traffic_run.snapshot_date
        page = self.page(context)
        if page.not_modified:
            return  # today's snapshot is loaded already, or the list is still empty
        entries = page.data or []
        for entry in entries:
            yield {"snapshot_date": snapshot_date, **self.entry_fields(entry)}
        if page.etag:
            self.remember(context, etag=page.etag, snapshot_date=snapshot_date, empty=not entries)

    def entry_fields(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The record fields of one list entry."""
        raise NotImplementedError


class TrafficReferrersStream(SnapshotTrafficStream):
    """The top 10 referring sites of the last 14 days, one snapshot per repository and day.

    Incremental: one snapshot per day the tap runs; days without a run have none."""

    name = "traffic_referrers"
    primary_keys = ("repo_id", "snapshot_date", "referrer")
    path = "/repos/{owner}/{repo}/traffic/popular/referrers"
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property(
            "snapshot_date",
            th.DateType,
            required=True,
            description="UTC day of the run that read the list.",
        ),
        th.Property(
            "referrer",
            th.StringType,
            required=True,
            description="Referring site (e.g. github.com, Google).",
        ),
        *_count_properties(),
    ).to_dict()

    @override
    def entry_fields(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {"referrer": entry["referrer"], "count": entry["count"], "uniques": entry["uniques"]}


class TrafficPathsStream(SnapshotTrafficStream):
    """The top 10 viewed paths of the last 14 days, one snapshot per repository and day.

    Incremental: one snapshot per day the tap runs; days without a run have none."""

    name = "traffic_paths"
    primary_keys = ("repo_id", "snapshot_date", "path")
    path = "/repos/{owner}/{repo}/traffic/popular/paths"
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property(
            "snapshot_date",
            th.DateType,
            required=True,
            description="UTC day of the run that read the list.",
        ),
        th.Property(
            "path", th.StringType, required=True, description="Viewed path, e.g. /owner/repo/pulls."
        ),
        th.Property("title", th.StringType, description="The page's title."),
        *_count_properties(),
    ).to_dict()

    @override
    def entry_fields(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "path": entry["path"],
            "title": entry.get("title"),
            "count": entry["count"],
            "uniques": entry["uniques"],
        }
