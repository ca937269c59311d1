"""The tap: settings, the shared client, repository selection, streams, run summary."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from time import monotonic
from types import TracebackType
from typing import Any

import click
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_github_activity.accounting import RequestLedger, RunSummary
from tap_github_activity.client import GitHubClient
from tap_github_activity.clock import Clock
from tap_github_activity.errors import ConfigError, GitHubActivityError
from tap_github_activity.output import BufferedSingerWriter, write_kept
from tap_github_activity.prefetch import share_malloc_arenas
from tap_github_activity.probe import ChangeProbe
from tap_github_activity.selection import RepositorySelector
from tap_github_activity.settings import CONFIG_SCHEMA, Settings
from tap_github_activity.streams.children import RepositoryChildStream
from tap_github_activity.streams.commits import CommitBranchesStream, CommitsStream
from tap_github_activity.streams.pull_requests import PullRequestReviewsStream, PullRequestsStream
from tap_github_activity.streams.releases import ReleasesStream
from tap_github_activity.streams.repositories import RepositoriesStream
from tap_github_activity.streams.statistics import ContributorStatsStream
from tap_github_activity.streams.traffic import (
    TrafficClonesStream,
    TrafficPathsStream,
    TrafficReferrersStream,
    TrafficViewsStream,
)
from tap_github_activity.streams.workflow_jobs import WorkflowJobsStream
from tap_github_activity.streams.workflow_runs import WorkflowRunsStream

__all__ = ["LISTINGS_STATE_KEY", "TapGitHubActivity"]

# Key of the repositories stream's state that holds the selection listings' ETags.
LISTINGS_STATE_KEY = "listings"
# Least seconds between two STATE messages while a run goes on (see state_checkpoint_due).
STATE_MESSAGE_INTERVAL = 30.0

STREAM_TYPES: list[type[Stream]] = [
    RepositoriesStream,
    TrafficViewsStream,
    TrafficClonesStream,
    TrafficReferrersStream,
    TrafficPathsStream,
    ContributorStatsStream,
    # commits before commit_branches: the latter reuses the former's walk per repository.
    CommitsStream,
    CommitBranchesStream,
    PullRequestsStream,  # one GraphQL walk feeds both (either order)
    PullRequestReviewsStream,
    ReleasesStream,
    WorkflowRunsStream,
    WorkflowJobsStream,  # a child of workflow_runs
]


class TapGitHubActivity(Tap):
    """Singer tap for a team's GitHub development activity."""

    name = "tap-github-activity"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = BufferedSingerWriter
    clock = Clock()

    @override
    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @cached_property
    def settings(self) -> Settings:
        """Validated settings (a mistake raises one readable `ConfigError` line)."""
        builtin: dict[str, Any] = {"properties": {}}
        type(self).append_builtin_config(builtin)  # singer-sdk's own settings
        return Settings.from_config(
            dict(self.config), version=self.plugin_version, builtin=builtin["properties"]
        )

    @cached_property
    def client(self) -> GitHubClient:
        """The one GitHub client all streams share."""
        return GitHubClient(self.settings, clock=self.clock, ledger=RequestLedger())

    @cached_property
    def run_summary(self) -> RunSummary:
        """Repositories skipped during this run, by stream."""
        return RunSummary()

    @cached_property
    def change_probe(self) -> ChangeProbe:
        """Which repositories' pull requests and branch heads changed: asked once per run, for
        many repositories per query, when the first stream that uses it starts."""
        return ChangeProbe(self)

    @override
    def __init__(self, *, validate_config: bool = True, **kwargs: Any) -> None:
        try:
            super().__init__(validate_config=validate_config, **kwargs)
        except ConfigValidationError as exc:
            # singer-sdk's JSON-schema check: also one line (it names the setting).
            msg = "Invalid config: " + "; ".join(exc.errors or [str(exc)])
            raise ConfigError(msg) from None
        if validate_config:
            # A config mistake is one ConfigError line before anything runs (discovery, which
            # does not validate, works without credentials).
            _ = self.settings
        self._last_state_message = monotonic()

    def state_checkpoint_due(self) -> bool:
        """Whether a stream may write the tap's state now: at most once per
        STATE_MESSAGE_INTERVAL seconds of wall time. The state is the whole tap's (every
        stream's partitions: 2 KB per repository), so writing it after each partition, as
        singer-sdk does, would send it thousands of times through the target and Meltano. A run
        killed before a checkpoint reads again what it read since the last one (upserts make
        that safe); one that ends writes its last state (sync_all)."""
        now = monotonic()
        if now - self._last_state_message < STATE_MESSAGE_INTERVAL:
            return False
        self._last_state_message = now
        return True

    def write_final_state(self) -> None:
        """The run's last state, if a stream changed it since the last STATE message."""
        pending = [
            stream for stream in self.streams.values() if not stream.state_manager.is_flushed
        ]
        if pending:
            self.state_writer.write_state(self.state)
            for stream in pending:
                stream.state_manager.is_flushed = True
            self._last_state_message = monotonic()

    @cached_property
    def selector(self) -> RepositorySelector:
        """Resolves the repository selection (once per run), asking each listing page with
        the ETag the repositories stream kept from the previous run."""
        return RepositorySelector(
            self.client, self.settings.selection, etags=self._stored_listings()
        )

    def _stored_listings(self) -> dict[str, Any] | None:
        """The selection listings' ETags from state; None when they must not be used: the
        repositories stream is not selected (its records would never be emitted)."""
        stream = self.streams.get(RepositoriesStream.name)
        if stream is None or not stream.selected:
            return None
        stored = stream.stream_state.get(LISTINGS_STATE_KEY)
        return stored if isinstance(stored, dict) else {}

    def store_selection_state(self) -> None:
        """Keep this run's listing ETags in the repositories stream's state. Its stream calls
        this once every repository record is emitted, so an interrupted run lists in full."""
        stream = self.streams.get(RepositoriesStream.name)
        if stream is None or "selector" not in self.__dict__ or not self.selector.conditional:
            return
        stream.stream_state[LISTINGS_STATE_KEY] = self.selector.listings
        stream.state_manager.is_flushed = False

    def selected_repositories(self) -> list[dict[str, Any]]:
        """The selected repositories' payloads, resolved once per run. A repository whose
        listing page answered 304 is a compact entry marked `selection.UNCHANGED`: id, name,
        full_name, owner.login, default_branch, archived, fork (no other field)."""
        return self._selected_repositories

    @cached_property
    def _selected_repositories(self) -> list[dict[str, Any]]:
        repositories = self.selector.resolve()
        for missing in self.selector.missing:
            self.run_summary.skip("repositories", missing, self.selector.reasons[missing])
        return repositories

    # singer-sdk has no hook after a sync; the run's cost is logged here, also when it fails.
    # Tap.sync_all is marked final, but it must run inside this try/finally.
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        try:
            super().sync_all()
            self.write_final_state()  # a failed run leaves its last checkpoint
        finally:
            write_kept()  # records after the last STATE of a failed run: not lost
            for stream in self.streams.values():
                if isinstance(stream, RepositoryChildStream):
                    stream.stop_prefetching()  # workers of repositories nobody will read
            if "client" in self.__dict__:
                self.client.ledger.log_summary(self.logger, self.run_summary)

    # singer-sdk's other way to sync (its standard tests; marked final too): it also ends with
    # the run's last state.
    @override  # type: ignore[misc]
    def run_sync_dry_run(
        self, dry_run_record_limit: int | None = 1, streams: Iterable[Stream] | None = None
    ) -> bool:
        succeeded = super().run_sync_dry_run(dry_run_record_limit, streams)
        self.write_final_state()
        return succeeded

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`: who the credentials are, their rate limit, and the selection's size."""
        if value in ("disabled", "schema"):
            super().cb_test(ctx, param, value)
            return
        config = ctx.params.get("config")
        try:
            tap = cls(
                config=config.config if config else None,
                parse_env_config=bool(config and config.parse_env),
                validate_config=True,
            )
            tap.connection_report()
        except GitHubActivityError as exc:
            cls.logger.error("Connection test failed: %s", exc)
            ctx.exit(1)
        ctx.exit(0)

    def connection_report(self) -> None:
        """Check the credentials and selection, logging what a user needs to know."""
        who, credential = self.client.viewer()
        if who == credential.label or who.startswith(credential.label + " "):
            self.logger.info("Authenticated as %s", who)  # a GitHub App installation
        else:
            self.logger.info("Authenticated as %s with %s", who, credential.label)
        repositories = self.selected_repositories()
        for resource in ("core", "graphql"):
            budget = self.client.limits.remaining(credential.key, resource)
            if budget is not None:
                self.logger.info(
                    "Rate limit %s: %d of %d points left", resource, budget.remaining, budget.limit
                )
        self.logger.info(
            "%d repositories selected: %s",
            len(repositories),
            ", ".join(r["full_name"] for r in repositories[:20])
            + (" ..." if len(repositories) > 20 else ""),
        )
        self.client.ledger.log_summary(self.logger, self.run_summary)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        # The command line's process: before any worker thread exists (a thread takes a malloc
        # arena when it first allocates).
        share_malloc_arenas()
        command = super().get_singer_command()
        default_hook = command.excepthook  # type: ignore[attr-defined]

        def excepthook(
            exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
        ) -> None:
            # Our own errors are written for people: one line, no traceback.
            if isinstance(exc, GitHubActivityError):
                cls.logger.error("%s", exc)
                return
            default_hook(exc_type, exc, tb)

        command.excepthook = excepthook  # type: ignore[attr-defined]
        return command
