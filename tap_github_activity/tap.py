"""The tap: settings, the shared client, repository selection, streams, run summary."""

from __future__ import annotations

import logging
import sys
from functools import cached_property
from types import TracebackType
from typing import Any

import click
from singer_sdk import Stream, Tap
from typing_extensions import override

from tap_github_activity.accounting import RequestLedger, RunSummary
from tap_github_activity.client import GitHubClient
from tap_github_activity.clock import Clock
from tap_github_activity.errors import GitHubActivityError
from tap_github_activity.selection import RepositorySelector
from tap_github_activity.settings import CONFIG_SCHEMA, Settings
from tap_github_activity.streams.repositories import RepositoriesStream

__all__ = ["TapGitHubActivity"]

STREAM_TYPES: list[type[Stream]] = [RepositoriesStream]


class TapGitHubActivity(Tap):
    """Singer tap for a team's GitHub development activity."""

    name = "tap-github-activity"
    config_jsonschema = CONFIG_SCHEMA
    clock = Clock()

    @override
    def discover_streams(self) -> list[Stream]:
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @cached_property
    def settings(self) -> Settings:
        """Validated settings (a mistake raises one readable `ConfigError` line)."""
        return Settings.from_config(dict(self.config), version=self.plugin_version)

    @cached_property
    def client(self) -> GitHubClient:
        """The one GitHub client all streams share."""
        return GitHubClient(self.settings, clock=self.clock, ledger=RequestLedger())

    @cached_property
    def run_summary(self) -> RunSummary:
        """Repositories skipped during this run, by stream."""
        return RunSummary()

    @cached_property
    def selector(self) -> RepositorySelector:
        """Resolves the repository selection (once per run)."""
        return RepositorySelector(self.client, self.settings.selection)

    def selected_repositories(self) -> list[dict[str, Any]]:
        """The selected repositories' payloads, resolved once per run."""
        return self._selected_repositories

    @cached_property
    def _selected_repositories(self) -> list[dict[str, Any]]:
        repositories = self.selector.resolve()
        for missing in self.selector.missing:
            self.run_summary.skip("repositories", missing, "not found")
        return repositories

    # singer-sdk has no hook after a sync; the run's cost is logged here, also when it fails.
    @override
    def sync_all(self) -> None:  # type: ignore[misc]
        try:
            super().sync_all()
        finally:
            if "client" in self.__dict__:
                self.client.ledger.log_summary(self.logger, self.run_summary)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`: who the credentials are, their rate limit, and the selection's size."""
        if value in ("disabled", "schema"):
            super().cb_test(ctx, param, value)
            return
        config = ctx.params.get("config")
        try:
            tap = cls(config=config.config if config else None,
                      parse_env_config=bool(config and config.parse_env), validate_config=True)
            tap.connection_report()
        except GitHubActivityError as exc:
            cls.logger.error("Connection test failed: %s", exc)  # noqa: TRY400 -- one line, no traceback
            ctx.exit(1)
        ctx.exit(0)

    def connection_report(self) -> None:
        """Check the credentials and selection, logging what a user needs to know."""
        who, credential = self.client.viewer()
        self.logger.info("Authenticated as %s with %s", who, credential.label)
        repositories = self.selected_repositories()
        for resource in ("core", "graphql"):
            budget = self.client.limits.remaining(credential.key, resource)
            if budget is not None:
                self.logger.info("Rate limit %s: %d of %d points left", resource,
                                 budget.remaining, budget.limit)
        self.logger.info("%d repositories selected: %s", len(repositories),
                         ", ".join(r["full_name"] for r in repositories[:20])
                         + (" ..." if len(repositories) > 20 else ""))
        self.client.ledger.log_summary(self.logger, self.run_summary)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        default_hook = command.excepthook  # type: ignore[attr-defined]

        def excepthook(exc_type: type[BaseException], exc: BaseException,
                       tb: TracebackType | None) -> None:
            # Our own errors are written for people: one line, no traceback.
            if isinstance(exc, GitHubActivityError):
                cls.logger.error("%s", exc)
                return
            default_hook(exc_type, exc, tb)

        command.excepthook = excepthook  # type: ignore[attr-defined]
        return command


def main() -> None:
    """Console entry point."""
    logging.captureWarnings(capture=True)
    TapGitHubActivity.cli()
    sys.exit(0)
