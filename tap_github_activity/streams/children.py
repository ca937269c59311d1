"""Streams read once per selected repository, as children of the repositories stream."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from typing_extensions import override

from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.prefetch import LOOKAHEAD_PER_SLOT, Job, Prefetcher, current_job
from tap_github_activity.streams.base import GitHubStream, flatten
from tap_github_activity.streams.repositories import REPOSITORY_FIELDS, RepositoriesStream

__all__ = ["REPOSITORY_CONTEXT", "RepositoryChildStream", "RepositoryListStream"]

# The partition every per-repository record carries (singer-sdk adds the context to records).
REPOSITORY_CONTEXT = th.PropertiesList(
    th.Property(
        "repo_id",
        th.IntegerType,
        required=True,
        description="The repository's id (repositories.id).",
    ),
    th.Property("owner", th.StringType, description="The repository owner's login."),
    th.Property("repo", th.StringType, description="The repository's name."),
    th.Property(
        "default_branch",
        th.StringType,
        description="The repository's default branch when the record was read.",
    ),
)


def full_name(context: Mapping[str, Any]) -> str:
    """owner/name of a repository context."""
    return f"{context['owner']}/{context['repo']}"


class RepositoryChildStream(GitHubStream):
    """A stream read per repository; a repository these credentials may not read is skipped,
    counted in the run summary, and the run goes on.

    With `max_concurrent_requests` above 1, the repositories after the one singer-sdk asks for
    are fetched ahead by worker threads (see tap_github_activity/prefetch.py). A stream that
    shares what it fetched with a sibling (`prefetches` False) reads on singer-sdk's thread.
    """

    parent_stream_type = RepositoriesStream
    ignore_parent_replication_key = True
    _prefetcher: Prefetcher | None = None

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None  # children always have their repository's context
        try:
            yield from self.partition_records(context)
        except NotAccessibleError as exc:
            self.logger.warning(
                "%s: skipping %s: %s answered %s (%s)",
                self.name,
                full_name(context),
                exc.url,
                exc.status,
                exc.message,
            )
            self.github_tap.run_summary.skip(self.name, full_name(context), str(exc.status))

    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        """The records of one repository (may run on a worker thread: read and write state
        through the methods below only)."""
        raise NotImplementedError

    # -- fetching ahead -----------------------------------------------------------------------

    @property
    def prefetches(self) -> bool:
        """Whether this stream's repositories may be fetched ahead by workers."""
        return True

    def partition_records(self, context: Context) -> Iterator[dict[str, Any]]:
        """Repository `context`'s records: from its worker when fetched ahead, else read here."""
        self.github_tap.change_probe.start()  # in the background, once (if a stream uses it)
        if self._prefetcher is None:
            limit = self.github_tap.settings.max_concurrent_requests
            if limit <= 1 or not self.prefetches:
                return self.repository_records(context)
            self._prefetcher = Prefetcher(self, LOOKAHEAD_PER_SLOT * limit)
        return self._prefetcher.records(dict(context))

    def partition_order(self) -> list[dict[str, Any]]:
        """The contexts singer-sdk syncs this stream with, in order (the run's selection)."""
        parent = self.github_tap.streams[RepositoriesStream.name]
        return [
            dict(parent.get_child_context(flatten(repository, REPOSITORY_FIELDS), None) or {})
            for repository in self.github_tap.selected_repositories()
        ]

    def partition_inputs(self, context: Context) -> dict[str, Any]:
        """What `repository_records` needs from outside its own partition (other streams'
        state, run-wide facts), computed on singer-sdk's thread before a worker starts."""
        return {}

    def inputs(self, context: Context) -> dict[str, Any]:
        """`partition_inputs` of this repository (prepared ones on a worker)."""
        job = self._job(context)
        return job.inputs if job is not None else self.partition_inputs(context)

    def stop_prefetching(self) -> None:
        """Cancel the workers of repositories nobody will read (end of the run)."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None

    def _job(self, context: Context) -> Job | None:
        job = current_job()
        if job is None:
            return None
        if job.stream is not self or job.context["repo_id"] != context["repo_id"]:
            msg = (
                f"{job.stream.name} worker of {job.context.get('repo')} touched the state "
                f"of {self.name} for {context.get('repo')}: prepare it in partition_inputs"
            )
            raise RuntimeError(msg)
        return job

    # -- state (a worker's private copy while it runs) ----------------------------------------

    def partition_state(self, context: Context) -> dict[str, Any]:
        """This repository's writable state entry (bookmark, ETag)."""
        job = self._job(context)
        return job.state if job is not None else self.get_context_state(context)

    def remember(self, context: Context, **values: Any) -> None:
        """Store small per-repository values in state (written when the repository is done)."""
        job = self._job(context)
        if job is not None:
            job.state.update(values)
            job.updates.update(values)
            return
        self.get_context_state(context).update(values)
        self.state_manager.is_flushed = False

    def after_records(self, context: Context, action: Callable[[], None]) -> None:
        """Run a change of singer-sdk's own state once the repository's records are emitted
        (now, on singer-sdk's thread; deferred to the consumer on a worker)."""
        job = self._job(context)
        if job is not None:
            job.deferred.append(action)
        else:
            action()

    @override
    def get_starting_timestamp(self, context: Context | None) -> datetime | None:
        job = self._job(context) if context is not None else None
        if job is not None:
            return job.start  # type: ignore[no-any-return]
        return super().get_starting_timestamp(context)

    def bookmark_start(self, context: Context) -> datetime | None:
        """What `get_starting_timestamp(context)` answers once this repository's sync starts:
        the bookmark, or start_date when later or there is none (singer-sdk's rule)."""
        if self.replication_method == REPLICATION_FULL_TABLE or not self.replication_key:
            return None
        state = self.get_context_state(context)
        value = (
            state.get("replication_key_value")
            if state.get("replication_key") == self.replication_key
            else None
        )
        start_date = self.config.get("start_date")
        if start_date:
            value = self.compare_start_date(value, start_date) if value else start_date
        if not value:
            return None
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class RepositoryListStream(RepositoryChildStream):
    """A REST listing per repository. Page one is asked with the ETag kept in state, so an
    unchanged listing answers 304 and costs no rate-limit point."""

    path: ClassVar[str]
    conditional: ClassVar[bool] = True

    def url_params(self, context: Context) -> dict[str, Any]:
        """Query parameters of the listing."""
        return {}

    def items(self, data: Any) -> Iterable[dict[str, Any]]:
        """The items of one page (most listings are a bare array)."""
        return data  # type: ignore[no-any-return]

    def to_record(self, item: dict[str, Any], context: Context) -> dict[str, Any] | None:
        """A record from one item; None drops it."""
        return item

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        path = self.path.format(**context)
        params = self.url_params(context)
        request_key = f"{path}?{sorted(params.items())}"
        state = self.partition_state(context)
        etag = (
            state.get("etag") if self.conditional and state.get("etag_of") == request_key else None
        )
        first_etag = None
        for number, page in enumerate(
            self.client.paginate(
                path, stream=self.name, owner=context["owner"], params=params, etag=etag
            )
        ):
            if page.not_modified:
                return
            if number == 0:
                first_etag = page.etag
            for item in self.items(page.data):
                record = self.to_record(item, context)
                if record is not None:
                    yield record
        if self.conditional and first_etag:
            # Stored only once every page is emitted: an interrupted run asks again in full.
            self.remember(context, etag=first_etag, etag_of=request_key)
