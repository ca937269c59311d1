"""One stream's records, batched and sent as events; streams without `event_uuid` are skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink
from typing_extensions import override

from target_posthog.events import Event, EventBuilder
from target_posthog.mapping import UUID_FIELD, resolve

if TYPE_CHECKING:
    from collections.abc import Sequence

    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from target_posthog.target import TargetPostHog

__all__ = ["PostHogSink"]


class PostHogSink(BatchSink):
    """Sends a stream's records to PostHog, one event each, when the SDK drains the sink."""

    def __init__(
        self,
        target: TargetPostHog,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.posthog = target
        self.builder: EventBuilder | None = None
        self.pending_bytes = 0
        self.draining: dict[str, Any] | None = None
        if not self.is_event_stream:
            target.skip(stream_name)
            return
        settings = target.settings
        mapping = resolve(stream_name, schema["properties"], settings.streams.get(stream_name))
        self.builder = EventBuilder(mapping, person_profiles=settings.person_profiles)
        self.client = target.new_client()
        target.describe(mapping)

    @property
    def is_event_stream(self) -> bool:
        """Whether the stream's records carry `event_uuid`."""
        return UUID_FIELD in self.schema.get("properties", {})

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        # Records of skipped streams are dropped: no point validating them.
        return super().get_validator() if self.is_event_stream else None

    @property
    @override
    def is_full(self) -> bool:
        return super().is_full or self.pending_bytes >= self.posthog.settings.batch_max_bytes

    # singer-sdk drains every sink again when SIGTERM arrives, then writes the state, even when
    # the signal interrupted a drain: its second `start_drain` would hand over an empty batch and
    # the state would pass events PostHog never accepted. The interrupted batch is sent again.
    @override
    def start_drain(self) -> dict[str, Any]:
        if self.draining is None:
            self.draining = super().start_drain()
        return self.draining

    @override
    def mark_drained(self) -> None:
        super().mark_drained()
        self.draining = None

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        if self.builder is None:
            return
        built = self.builder.build(record)
        if isinstance(built, str):
            self.posthog.stats.not_sent()
            self.logger.warning(
                "%s record %s not sent to PostHog: %s",
                self.stream_name,
                {k: record.get(k) for k in self.key_properties},
                built,
            )
            return
        if built.truncated:
            self.logger.warning(
                "%s event %s: %s cut to stay under PostHog's 1 MB event limit (original JSON "
                "sizes %s bytes; the event's truncated_properties lists them)",
                self.stream_name,
                built.uuid,
                ", ".join(built.truncated),
                ", ".join(str(size) for size in built.truncated.values()),
            )
        context.setdefault("events", []).append(built)
        self.pending_bytes += len(built.encoded)

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        events: list[Event] = context.get("events", [])
        self.pending_bytes = 0
        if not events:
            return
        groups: dict[bool, list[bytes]] = {False: [], True: []}
        for event in events:
            groups[self.posthog.is_historical(event.timestamp)].append(event.encoded)
        for historical, encoded in groups.items():
            if encoded:
                self.client.send(encoded, historical=historical)
