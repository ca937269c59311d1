"""The tap: settings, the shared client, repository selection, streams, run summary."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

import click
from singer_sdk import Stream
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_github_activity.accounting import RequestLedger, RunSummary
from tap_github_activity.client import GitHubClient
from tap_github_activity.clock import Clock
from tap_github_activity.command import report_connection, with_exit_codes
from tap_github_activity.errors import ConfigError, GitHubActivityError
from tap_github_activity.failures import Failures
from tap_github_activity.feed import Feed, Job
from tap_github_activity.fetch import Fetcher, Repository, Request
from tap_github_activity.fetch.actions import fetch_actions
from tap_github_activity.fetch.commits import fetch_commits
from tap_github_activity.fetch.deployments import fetch_deployments
from tap_github_activity.fetch.heads import RepositoryChanges
from tap_github_activity.fetch.issues import fetch_issues
from tap_github_activity.fetch.pulls import fetch_pulls
from tap_github_activity.fetch.releases import fetch_releases
from tap_github_activity.fetch.traffic import fetch_traffic
from tap_github_activity.output import BufferedSingerWriter, flush_before_waiting, write_kept
from tap_github_activity.probe import ChangeProbe
from tap_github_activity.progress import Progress
from tap_github_activity.records import flatten
from tap_github_activity.sdk_logs import quiet_sdk_lines
from tap_github_activity.sdk_seams import ThrottledStateTap, mark_state_changed
from tap_github_activity.selection import RepositorySelector
from tap_github_activity.settings import CONFIG_SCHEMA, Settings
from tap_github_activity.state_layout import partition_of, partitions_by_repository, upgrade
from tap_github_activity.streams.commits import CommitBranchesStream, CommitsStream
from tap_github_activity.streams.deployments import DeploymentsStream, DeploymentStatusesStream
from tap_github_activity.streams.issues import IssueCommentsStream, IssuesStream
from tap_github_activity.streams.pull_requests import PullRequestReviewsStream, PullRequestsStream
from tap_github_activity.streams.releases import ReleasesStream
from tap_github_activity.streams.repositories import (
    REPOSITORY_FIELDS,
    RepositoriesStream,
    RepositoryStream,
)
from tap_github_activity.streams.statistics import ContributorStatsStream
from tap_github_activity.streams.traffic import (
    TrafficClonesStream,
    TrafficPathsStream,
    TrafficReferrersStream,
    TrafficViewsStream,
)
from tap_github_activity.streams.workflow_runs import WorkflowJobsStream, WorkflowRunsStream
from tap_github_activity.timestamps import parse_time

__all__ = ["LISTINGS_STATE_KEY", "TapGitHubActivity"]

# Key of the repositories stream's state that holds the selection listings' ETags.
LISTINGS_STATE_KEY = "listings"
# Repositories fetched ahead of the streams, per request slot, and at most.
LOOKAHEAD_PER_SLOT = 2
MAX_LOOKAHEAD = 8
# Fetching threads per request slot (some wait for an answer while others parse), and at most.
THREADS_PER_SLOT = 4
MAX_THREADS = 16

STREAM_TYPES: list[type[Stream]] = [
    RepositoriesStream,
    TrafficViewsStream,
    TrafficClonesStream,
    TrafficReferrersStream,
    TrafficPathsStream,
    ContributorStatsStream,
    CommitsStream,
    CommitBranchesStream,
    PullRequestsStream,
    PullRequestReviewsStream,
    ReleasesStream,
    WorkflowRunsStream,
    WorkflowJobsStream,
    IssuesStream,
    IssueCommentsStream,
    DeploymentsStream,
    DeploymentStatusesStream,
]

# Each family's fetcher (fetch/), in the order its streams are synced.
FETCHERS: dict[str, Fetcher] = {
    "traffic": fetch_traffic,
    "commits": fetch_commits,
    "pulls": fetch_pulls,
    "releases": fetch_releases,
    "actions": fetch_actions,
    "issues": fetch_issues,
    "deployments": fetch_deployments,
}


class TapGitHubActivity(ThrottledStateTap):
    """Singer tap for a team's GitHub development activity."""

    name = "tap-github-activity"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = BufferedSingerWriter
    clock = Clock()

    @override
    def discover_streams(self) -> list[Stream]:
        streams = [stream_type(tap=self) for stream_type in STREAM_TYPES]
        quiet_sdk_lines(stream.logger for stream in streams)
        return streams

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
    def progress(self) -> Progress:
        """The run's progress lines."""
        return Progress(self.client.ledger, self.clock)

    @cached_property
    def failures(self) -> Failures:
        """The (repository, family) fetches that failed this run (failures.py)."""
        return Failures(self.run_summary)

    _changes: Callable[[], dict[int, RepositoryChanges]]

    @cached_property
    def feed(self) -> Feed:
        """Fetches (repository, family) ahead of the streams; made when the first per-repository
        stream starts, so the selection is known."""
        slots = self.settings.max_concurrent_requests
        feed = Feed(
            self._prepare,
            threads=min(THREADS_PER_SLOT * slots, MAX_THREADS) if slots > 1 else 1,
            lookahead=min(LOOKAHEAD_PER_SLOT * slots, MAX_LOOKAHEAD),
            before_wait=flush_before_waiting,
            on_finish=self.progress.finished,
        )
        repositories = self.selected_repositories()
        probe = ChangeProbe(
            self.client,
            pulls=self._selected(PullRequestsStream.family),
            heads=self._selected(CommitsStream.family),
            branches=self.settings.commit_branches,
            statistics=self.streams[ContributorStatsStream.name].selected,
            issues=self.streams[IssuesStream.name].selected,
            deployments=self._selected(DeploymentsStream.family),
        )
        watched = self._open_deployments() if probe.plan.deployments else {}
        # The probe first: the fetches that need its answer wait for it.
        self._changes = feed.fact(lambda: probe.ask(repositories, watched) if probe.needed else {})
        order = [Repository.of(self._context(repository)) for repository in repositories]
        families = [family for family in FETCHERS if self._selected(family)]
        feed.plan(order, families)
        self.progress.plan(order, families)
        return feed

    def _open_deployments(self) -> dict[int, list[str]]:
        """Repository id -> the node ids of the deployments its state watches (read before
        any fetch runs)."""
        state = self.streams[DeploymentsStream.name].stream_state
        return {
            repo_id: list(watched) for repo_id, watched in partitions_by_repository(state, "open")
        }

    def default_head(self, repo_id: int) -> str | None:
        """The head of a repository's default branch, as the change probe saw it (None: not
        seen). Waits for the probe."""
        changes = self._changes().get(repo_id) if "feed" in self.__dict__ else None
        return changes.default_head if changes else None

    @cached_property
    def _started(self) -> float:
        return self.clock.now()

    @cached_property
    def _today(self) -> str:
        return datetime.fromtimestamp(self._started, tz=timezone.utc).date().isoformat()

    def _family(self, family: str) -> list[RepositoryStream]:
        return [
            stream
            for stream in self.streams.values()
            if isinstance(stream, RepositoryStream) and stream.family == family
        ]

    def _selected(self, family: str) -> bool:
        return any(stream.selected for stream in self._family(family))

    def _context(self, repository: dict[str, Any]) -> dict[str, Any]:
        parent = self.streams[RepositoriesStream.name]
        return dict(parent.get_child_context(flatten(repository, REPOSITORY_FIELDS), None) or {})

    def _prepare(self, repository: Repository, family: str) -> Job | None:
        """A (repository, family) fetch with its streams' state as it is now (main thread)."""
        streams = self._family(family)
        consumers = frozenset(stream.name for stream in streams if stream.selected)
        if not consumers:
            return None
        state = {s.name: copy.deepcopy(dict(self._partition(s, repository))) for s in streams}
        # As the run found it: what a failure of this fetch puts back (keep_state).
        self._state_before.setdefault((repository, family), state)
        request = Request(
            self.client,
            self.settings,
            repository,
            consumers,
            state=copy.deepcopy(state),
            start={s.name: self._bookmark_start(s, repository) for s in streams},
            changes=lambda: self._changes().get(repository.repo_id),
            today=self._today,
            started=self._started,
        )
        fetcher = FETCHERS[family]
        return Job(consumers, lambda: fetcher(request))

    @staticmethod
    def _partition(stream: Stream, repository: Repository) -> Mapping[str, Any]:
        """A repository's state of a stream, as it is (none is made: state_layout.py)."""
        return partition_of(stream.stream_state, repository.repo_id)

    def _bookmark_start(self, stream: Stream, repository: Repository) -> datetime | None:
        """singer-sdk's starting timestamp of a partition: the bookmark, or start_date when
        later or there is none."""
        if not stream.replication_key:
            return None
        state = self._partition(stream, repository)
        value = (
            state.get("replication_key_value")
            if state.get("replication_key") == stream.replication_key
            else None
        )
        moment = parse_time(str(value)) if value else None
        start_date = self.settings.start_date
        if start_date is not None and (moment is None or start_date > moment):
            return start_date
        return moment

    def failed(self, stream: str, family: str, repository: Repository, error: Exception) -> None:
        """A (repository, family) fetch failed for `stream`: skipped, kept for the next run, or
        raised (failures.py)."""
        self.failures.handle(
            stream,
            family,
            repository,
            error,
            keep_state=lambda: self._keep_state(repository, family),
        )

    def _keep_state(self, repository: Repository, family: str) -> None:
        """Put the state of `family`'s streams for `repository` back as the run found it: no
        bookmark moves past what a failed fetch did not read (rows it emitted are read again
        next run, and upserted)."""
        before = self._state_before.get((repository, family), {})
        context = repository.context()
        for stream in self._family(family):
            state = stream.get_context_state(context)
            named = state.get("context")
            state.clear()
            state.update(copy.deepcopy(before.get(stream.name, {})))
            if named is not None:
                state["context"] = named
            mark_state_changed(stream)

    @override
    def __init__(self, *, validate_config: bool = True, **kwargs: Any) -> None:
        quiet_sdk_lines([self.logger])  # before singer-sdk's first line
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
        self._state_before: dict[tuple[Repository, str], dict[str, dict[str, Any]]] = {}

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """The state given, in this version's layout (state_layout.py)."""
        super().load_state(upgrade(state))

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
        mark_state_changed(stream)

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

    @override
    def after_sync(self) -> None:
        write_kept()  # records after the last STATE of a failed run: not lost
        if "feed" in self.__dict__:
            self.feed.close()  # fetches of repositories nobody will read
        if "progress" in self.__dict__:
            # Called in sync_all's `finally`: an exception on its way out means the run failed.
            self.progress.report_end(failed=sys.exc_info()[1] is not None)
        if "client" in self.__dict__:
            self.client.ledger.log_summary(self.logger, self.run_summary)
        self.failures.log()

    @override
    def after_successful_sync(self) -> None:
        self.failures.check(fail=self.settings.fail_on_repository_errors)

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
        report_connection(self.logger, self.client, self.selected_repositories, self.run_summary)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        return with_exit_codes(super().get_singer_command(), cls.logger)
