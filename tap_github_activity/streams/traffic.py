"""Repository traffic (fetch/traffic.py): views and clones per day, top referrers and paths as
snapshots dated with the run's UTC day. Needs write access (see the README)."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_github_activity.streams.base import EVENT_UUID, REPOSITORY_CONTEXT
from tap_github_activity.streams.repositories import RepositoryStream

__all__ = [
    "TrafficClonesStream",
    "TrafficPathsStream",
    "TrafficReferrersStream",
    "TrafficViewsStream",
]


def _count_properties() -> list[th.Property[Any]]:
    return [
        th.Property("count", th.IntegerType, description="Hits in the period."),
        th.Property("uniques", th.IntegerType, description="Distinct visitors or cloners."),
    ]


class DailyTrafficStream(RepositoryStream):
    """Counts per day over GitHub's 14-day window; re-read whole on every run."""

    family = "traffic"
    primary_keys = ("repo_id", "timestamp")
    replication_key = None
    emits_event_uuid = True
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


class TrafficViewsStream(DailyTrafficStream):
    """Page views per repository and day (GitHub keeps 14 days; today's count still grows).

    Incremental: every day of the last 14, read once per traffic_interval_hours (default
    24: each run reads its share of the repositories; the next read completes a partial day);
    older days GitHub no longer serves."""

    name = "traffic_views"


class TrafficClonesStream(DailyTrafficStream):
    """Clones per repository and day (GitHub keeps 14 days; today's count still grows).

    Incremental: every day of the last 14, read once per traffic_interval_hours (default
    24: each run reads its share of the repositories; the next read completes a partial day);
    older days GitHub no longer serves."""

    name = "traffic_clones"


class TrafficReferrersStream(RepositoryStream):
    """The top 10 referring sites of the last 14 days, one snapshot per repository and day.

    Incremental: one snapshot per read, at most one per day, read once per
    traffic_interval_hours (default 24); days without a read have none."""

    name = "traffic_referrers"
    family = "traffic"
    primary_keys = ("repo_id", "snapshot_date", "referrer")
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


class TrafficPathsStream(RepositoryStream):
    """The top 10 viewed paths of the last 14 days, one snapshot per repository and day.

    Incremental: one snapshot per read, at most one per day, read once per
    traffic_interval_hours (default 24); days without a read have none."""

    name = "traffic_paths"
    family = "traffic"
    primary_keys = ("repo_id", "snapshot_date", "path")
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
