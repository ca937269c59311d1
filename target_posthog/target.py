"""target-posthog: settings, one sink per stream, and the run's summary.

singer-sdk passes STATE on only in `drain_all`, after every sink's batch was processed: a state
reaches Meltano only once PostHog accepted every event read before it (tests pin this).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar

import click
from singer_sdk import Target
from singer_sdk import typing as th
from typing_extensions import override

from target_posthog.client import MAX_BODY_BYTES, CaptureClient, CaptureStats
from target_posthog.errors import ConfigError, PostHogTargetError
from target_posthog.mapping import StreamMapping
from target_posthog.sink import PostHogSink

__all__ = ["CONFIG_SCHEMA", "OWN_SETTINGS", "TargetPostHog"]

DEFAULT_HOST = "https://us.i.posthog.com"
HISTORICAL_MODES = ("auto", "always", "never")
# PostHog's historical imports take events dated at least this long before the import.
HISTORICAL_AGE = dt.timedelta(hours=48)


CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        description="The PostHog project API key (phc_...).",
    ),
    th.Property(
        "host",
        th.StringType,
        default=DEFAULT_HOST,
        description="PostHog's address: https://us.i.posthog.com, https://eu.i.posthog.com "
        "or a self-hosted instance's.",
    ),
    th.Property(
        "streams",
        th.ObjectType(
            additional_properties=th.ObjectType(
                th.Property("event", th.StringType),
                th.Property("timestamp", th.StringType),
                th.Property("distinct_id", th.StringType),
            )
        ),
        description="Per stream: event (name), timestamp (field) and distinct_id (field, or "
        "'repository' for owner/repo), replacing the defaults.",
    ),
    th.Property(
        "process_person_profiles",
        th.BooleanType,
        default=False,
        description="Let PostHog create person profiles for the distinct ids.",
    ),
    th.Property(
        "historical_migration",
        th.StringType,
        default="auto",
        allowed_values=list(HISTORICAL_MODES),
        description="Send batches flagged historical_migration: auto (events older than "
        "48 hours), always, or never.",
    ),
    th.Property(
        "batch_max_bytes",
        th.IntegerType,
        default=5_000_000,
        description="Largest request body before compression (PostHog's limit: 20 MB).",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        description="Retries of a request that met 429, 5xx or a connection error.",
    ),
    th.Property(
        "request_timeout",
        th.IntegerType,
        default=60,
        description="Seconds to wait for PostHog's answer to one request.",
    ),
).to_dict()

# The target's own settings (meltano.yml lists them, with singer-sdk's batch_size_rows).
OWN_SETTINGS = frozenset(CONFIG_SCHEMA["properties"])


@dataclass(frozen=True)
class Settings:
    """The target's settings, checked."""

    api_key: str
    host: str
    streams: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    person_profiles: bool = False
    historical_migration: str = "auto"
    batch_max_bytes: int = 5_000_000
    max_retries: int = 8
    request_timeout: float = 60.0

    @classmethod
    def read(cls, config: Mapping[str, Any]) -> Settings:
        """Settings from the config; a mistake is a ConfigError naming the setting."""
        api_key = str(config.get("api_key") or "").strip()
        if not api_key:
            raise ConfigError("api_key is not set: give the PostHog project API key (phc_...).")
        host = str(config.get("host") or DEFAULT_HOST).strip()
        if not host.startswith(("https://", "http://")):
            raise ConfigError(
                f"host {host!r} is not a URL: use https://us.i.posthog.com, "
                "https://eu.i.posthog.com or your instance's address."
            )
        streams = config.get("streams") or {}
        for name, entry in streams.items():
            if not isinstance(entry, Mapping):
                raise ConfigError(
                    f"streams.{name} must be an object with event, timestamp and distinct_id."
                )
        mode = config.get("historical_migration") or "auto"
        if mode not in HISTORICAL_MODES:
            raise ConfigError(f"historical_migration {mode!r}: use auto, always or never.")
        batch_max_bytes = int(config.get("batch_max_bytes") or cls.batch_max_bytes)
        if not 1_000_000 <= batch_max_bytes <= MAX_BODY_BYTES:
            raise ConfigError(
                f"batch_max_bytes {batch_max_bytes}: use 1000000 to {MAX_BODY_BYTES} "
                "(PostHog refuses bodies over 20 MB)."
            )
        max_retries = config.get("max_retries")
        timeout = config.get("request_timeout")
        return cls(
            api_key=api_key,
            host=host.rstrip("/"),
            streams=streams,
            person_profiles=bool(config.get("process_person_profiles", False)),
            historical_migration=mode,
            batch_max_bytes=batch_max_bytes,
            max_retries=cls.max_retries if max_retries is None else int(max_retries),
            request_timeout=cls.request_timeout if not timeout else float(timeout),
        )


class TargetPostHog(Target):
    """Sends the event streams (records with `event_uuid`) to PostHog's batch capture API."""

    name = "target-posthog"
    default_sink_class = PostHogSink

    # singer-sdk adds its own settings to this dict in place (see OWN_SETTINGS).
    config_jsonschema: ClassVar[dict[str, Any]] = copy.deepcopy(CONFIG_SCHEMA)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = Settings.read(self.config)
        self.stats = CaptureStats()
        self.skipped: list[str] = []
        self.described: set[str] = set()

    def new_client(self) -> CaptureClient:
        """A client for one sink (sinks drain in parallel threads, each with its session)."""
        return CaptureClient(
            self.settings.host,
            self.settings.api_key,
            stats=self.stats,
            logger=self.logger,
            max_body_bytes=self.settings.batch_max_bytes,
            max_retries=self.settings.max_retries,
            timeout=self.settings.request_timeout,
        )

    def is_historical(self, timestamp: dt.datetime) -> bool:
        """Whether an event goes in a batch flagged `historical_migration`."""
        mode = self.settings.historical_migration
        started = dt.datetime.fromtimestamp(self.initialized_at / 1000, tz=dt.timezone.utc)
        return mode == "always" or (mode == "auto" and timestamp < started - HISTORICAL_AGE)

    def skip(self, stream: str) -> None:
        """One line per stream that is not an event stream."""
        if stream not in self.skipped:
            self.skipped.append(stream)
            self.logger.info("Stream %s has no event_uuid: not sent to PostHog", stream)

    def describe(self, mapping: StreamMapping) -> None:
        """One line per event stream: how its records become events."""
        if mapping.stream not in self.described:
            self.described.add(mapping.stream)
            self.logger.info(
                "Stream %s: events %s at %s, distinct id %s",
                mapping.stream,
                mapping.event,
                mapping.timestamp,
                mapping.distinct_id,
            )

    @override
    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        unused = sorted(set(self.settings.streams) - self.described - set(self.skipped))
        if unused:
            self.logger.warning(
                "The streams setting names streams this run had no events of: %s",
                ", ".join(unused),
            )
        stats = self.stats
        self.logger.info(
            "Sent %d events to PostHog in %d batches: %d bytes of JSON, %d gzipped; "
            "%d retries; %d records could not be events",
            stats.events,
            stats.batches,
            stats.body_bytes,
            stats.sent_bytes,
            stats.retries,
            stats.unsent,
        )

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        default_hook = command.excepthook  # type: ignore[attr-defined]

        def excepthook(
            exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
        ) -> None:
            # Our own errors are written for people: one line, no traceback.
            if isinstance(exc, PostHogTargetError):
                cls.logger.error("%s", exc)
                return
            default_hook(exc_type, exc, tb)

        command.excepthook = excepthook  # type: ignore[attr-defined]
        return command
