"""Streams read once per selected repository, as children of the repositories stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.streams.base import GitHubStream
from tap_github_activity.streams.repositories import RepositoriesStream

__all__ = ["REPOSITORY_CONTEXT", "RepositoryChildStream", "RepositoryListStream"]

# The partition every per-repository record carries (singer-sdk adds the context to records).
REPOSITORY_CONTEXT = th.PropertiesList(
    th.Property("repo_id", th.IntegerType, required=True,
                description="The repository's id (repositories.id)."),
    th.Property("owner", th.StringType, description="The repository owner's login."),
    th.Property("repo", th.StringType, description="The repository's name."),
    th.Property("default_branch", th.StringType,
                description="The repository's default branch when the record was read."),
)


def full_name(context: Mapping[str, Any]) -> str:
    """owner/name of a repository context."""
    return f"{context['owner']}/{context['repo']}"


class RepositoryChildStream(GitHubStream):
    """A stream read per repository; a repository these credentials may not read is skipped,
    counted in the run summary, and the run goes on."""

    parent_stream_type = RepositoriesStream
    ignore_parent_replication_key = True

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None  # children always have their repository's context
        try:
            yield from self.repository_records(context)
        except NotAccessibleError as exc:
            self.logger.warning("%s: skipping %s: %s answered %s (%s)", self.name,
                                full_name(context), exc.url, exc.status, exc.message)
            self.github_tap.run_summary.skip(self.name, full_name(context), str(exc.status))

    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        """The records of one repository."""
        raise NotImplementedError

    def partition_state(self, context: Context) -> dict[str, Any]:
        """This repository's writable state entry (bookmark, ETag)."""
        return self.get_context_state(context)

    def remember(self, context: Context, **values: Any) -> None:
        """Store small per-repository values in state (written when the repository is done)."""
        self.partition_state(context).update(values)
        self.state_manager.is_flushed = False


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
        etag = state.get("etag") if self.conditional and state.get("etag_of") == request_key \
            else None
        first_etag = None
        for number, page in enumerate(self.client.paginate(
                path, stream=self.name, owner=context["owner"], params=params, etag=etag)):
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
