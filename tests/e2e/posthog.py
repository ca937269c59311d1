"""target-posthog as a destination: the events the fake PostHog received, read back as rows.

A stream's rows are the properties of the latest event received per uuid (PostHog keeps one event
per uuid, event name, timestamp and distinct id; the tap's properties are its record).
`problems` checks what PostHog's deduplication needs: every uuid arrived with one key only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from posthog_fake import API_KEY, FakePostHog
from target_posthog.mapping import DEFAULTS, REPOSITORY
from tests.e2e.destinations import Destination

__all__ = ["PostHogDestination"]


class PostHogDestination(Destination):
    """The fake PostHog that target-posthog sends to."""

    loader = "target-posthog"
    upserts = False

    def __init__(self, workdir: Path, fake: FakePostHog) -> None:
        super().__init__(workdir)
        self.fake = fake

    def env(self) -> dict[str, str]:
        return {"TARGET_POSTHOG_API_KEY": API_KEY, "TARGET_POSTHOG_HOST": self.fake.url}

    def rows(self, stream: str) -> list[dict[str, Any]]:
        latest = {e.uuid: e for e in self.fake.events if e.event == f"github_{stream}"}
        return [event.properties for event in latest.values()]

    def problems(self, stream: str) -> list[str]:
        """Events of `stream` that PostHog would not merge into one per row, or whose uuid,
        timestamp or distinct id is not the record's."""
        timestamp_field, distinct_field = DEFAULTS[stream]
        keys: dict[str, set[tuple[Any, ...]]] = {}
        problems = []
        for event in self.fake.events:
            if event.event != f"github_{stream}":
                continue
            keys.setdefault(event.uuid, set()).add(event.key)
            record = event.properties
            moment = dt.datetime.fromisoformat(record[timestamp_field].replace("Z", "+00:00"))
            login = record.get(distinct_field) if distinct_field != REPOSITORY else None
            distinct = login or f"{record['owner']}/{record['repo']}"
            if (event.uuid, event.timestamp, event.distinct_id) != (
                record["event_uuid"],
                moment,
                distinct,
            ):
                problems.append(f"{stream}: event {event.key} for record {record}")
        problems += [
            f"{stream}: uuid {uuid} arrived with {len(found)} keys: {sorted(found, key=repr)}"
            for uuid, found in keys.items()
            if len(found) > 1
        ]
        return problems
