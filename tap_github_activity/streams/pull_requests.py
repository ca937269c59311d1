"""Pull requests and their reviews, read through GitHub's GraphQL API.

One query per page of a repository's pull requests, newest update first, brings each pull request
with its sizes, labels, review requests and reviews. Paging stops at the first pull request not
updated since the bookmark. Reviews beyond the nested page are fetched by follow-up queries
(several pull requests per query), so summaries are computed over every review.

Both streams are fed by the same walk: the first of the two that singer-sdk syncs (the walker)
walks all of a repository's pages, then emits its own records and hands the other stream's over
(records are spooled, so a large repository need not fit in memory). Selecting both costs what
selecting one costs, and each keeps one bookmark per repository: the newest `updatedAt` it has
seen.

The run's change probe (tap_github_activity/probe.py) knows each repository's newest pull
request update: a repository with nothing newer than the bookmarks of the selected streams, or
without pull requests, is not asked at all. A sync without change costs the probe alone.

Concurrency: the walker may fetch repositories ahead on worker threads (prefetch.py); what it
hands over is kept per repository under a lock, and the other stream reads on singer-sdk's
thread (no request of its own).

The query text and the records built from its nodes are in streams/pull_request_query.py.
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.streams.base import EVENT_UUID
from tap_github_activity.streams.children import (
    REPOSITORY_CONTEXT,
    RepositoryChildStream,
    full_name,
)
from tap_github_activity.streams.pull_request_query import (
    FOLLOW_UP_BATCH,
    LIST_PAGE_SIZE,
    PAGE_QUERY,
    PAGE_SIZES,
    Pull,
    follow_up_query,
    parse_time,
    pull_request_record,
    review_records,
)

if TYPE_CHECKING:
    from tap_github_activity.probe import RepositoryChanges

__all__ = ["PullRequestReviewsStream", "PullRequestsStream"]

# A handed-over repository's records stay in memory up to this size, then go to a temporary file.
SPOOL_MEMORY_BYTES = 1024 * 1024


# -- one walk, records for both streams ----------------------------------------------------------


class Fetched:
    """One stream's records of one repository's walk, spooled (to a temporary file past
    SPOOL_MEMORY_BYTES), or the error that ended the walk."""

    def __init__(self, repo_id: int, error: NotAccessibleError | None = None) -> None:
        self.repo_id = repo_id
        self.error = error
        self.newest: str | None = None
        self._spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 -- closed by replay/discard
            max_size=SPOOL_MEMORY_BYTES, mode="w+", encoding="utf-8"
        )

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Keep records."""
        for row in rows:
            self._spool.write(json.dumps(row, separators=(",", ":")) + "\n")

    def replay(self) -> Iterator[dict[str, Any]]:
        """The kept records, once (or the error the walk met)."""
        try:
            if self.error is not None:
                raise self.error
            self._spool.seek(0)
            for line in self._spool:
                yield json.loads(line)
        finally:
            self.discard()

    def discard(self) -> None:
        """Free the spool."""
        self._spool.close()


def _unchanged(changes: RepositoryChanges | None, oldest: datetime | None) -> bool:
    """Whether the change probe saw no pull request updated after `oldest` (None: no bookmark,
    everything is new), or no pull request at all."""
    if changes is None:
        return False  # not seen by the probe: read
    newest = changes.newest_pull_update
    return newest is None or (oldest is not None and newest <= oldest)


def _github_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- streams -----------------------------------------------------------------------------------


class PullRequestFamilyStream(RepositoryChildStream):
    """Base of the two streams one GraphQL walk feeds.

    Records arrive newest update first, so the streams are not sorted (is_sorted False):
    singer-sdk promotes the bookmark only when a repository is complete. A repository's records
    are emitted once its walk is complete, so a walk that fails or finds the repository gone
    half-way emits nothing and moves no bookmark; the next run starts from the previous one.
    """

    replication_key = "updated_at"
    emits_event_uuid = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Records the walker fetched for this stream, by repository id, until it syncs them.
        self._handoffs: dict[int, Fetched] = {}
        self._stopped = False  # the run has ended: a walk still going on hands over nothing
        self._handoffs_lock = threading.Lock()

    def rows(self, pull: Pull) -> list[dict[str, Any]]:
        """This stream's records of one pull request."""
        raise NotImplementedError

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> str:
        # GitHub's timestamps have whole seconds: a pull request updated later in the second a
        # repository's walk starts can carry the same updatedAt as one the walk saw. Capping the
        # bookmark one second before the start keeps it from being skipped (records are emitted
        # only when strictly newer than the bookmark, so a quiet repository emits nothing).
        moment = datetime.fromtimestamp(
            math.floor(self.github_tap.clock.now()) - 1, tz=timezone.utc
        )
        return _github_time(moment)

    @property
    @override
    def prefetches(self) -> bool:
        # Only the walker asks GitHub; the other stream takes what it hands over.
        return self._walker() is self

    @override
    def partition_inputs(self, context: Context) -> dict[str, Any]:
        return {
            "since": {
                sibling.name: sibling.bookmark_start(context) for sibling in self._siblings()
            },
            "changes": self.github_tap.change_probe.changes(context["repo_id"]),
        }

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        with self._handoffs_lock:
            fetched = self._handoffs.pop(context["repo_id"], None)
        if fetched is None:
            fetched = self._walk(context)
        yield from fetched.replay()
        if fetched.newest is not None:
            # Pull requests without records for this stream (no reviews) still move it on.
            newest = fetched.newest
            self.after_records(
                context,
                lambda: self.state_manager.increment_state(
                    {self.replication_key: newest},
                    context=context,
                    replication_key=self.replication_key,
                ),
            )

    def _family(self) -> list[PullRequestFamilyStream]:
        """The selected streams of the family, in the order singer-sdk syncs them."""
        parent = self.github_tap.streams[self.parent_stream_type.name]
        return [
            stream
            for stream in parent.child_streams
            if isinstance(stream, PullRequestFamilyStream) and stream.selected
        ]

    def _walker(self) -> PullRequestFamilyStream | None:
        family = self._family()
        return family[0] if family else None

    def _siblings(self) -> list[PullRequestFamilyStream]:
        """The selected streams of the family synced after this one (they take its walk)."""
        family = self._family()
        return family[family.index(self) + 1 :] if self in family else []

    @override
    def stop_prefetching(self) -> None:
        super().stop_prefetching()
        # A run that ended early: what was handed to a sibling that never synced it.
        with self._handoffs_lock:
            left = list(self._handoffs.values())
            self._handoffs = {}
            self._stopped = True
        for fetched in left:
            fetched.discard()

    def _hand_over(self, context: Context, records: Fetched) -> None:
        with self._handoffs_lock:
            unused = [self._handoffs.pop(context["repo_id"], None)]
            if self._stopped:
                unused.append(records)
            else:
                self._handoffs[context["repo_id"]] = records
        for fetched in unused:
            if fetched is not None:
                fetched.discard()

    def _walk(self, context: Context) -> Fetched:
        """Fetch the pull requests updated since the oldest bookmark of the selected streams of
        the family; keep each stream's records newer than its own bookmark. This stream's are
        returned, the siblings' handed to them."""
        inputs = self.inputs(context)
        since = self._since(context, inputs)
        bookmarks = [b for b in since.values() if b is not None]
        oldest = min(bookmarks) if len(bookmarks) == len(since) else None
        fetched = {stream: Fetched(context["repo_id"]) for stream in since}
        if _unchanged(inputs.get("changes"), oldest):
            # The probe saw nothing newer than every bookmark (or no pull request): no request.
            self._hand_to_siblings(context, fetched)
            return fetched[self]
        newest: datetime | None = None
        try:
            for pull in self._pulls(context, oldest):
                updated = parse_time(pull.updated_at)
                newest = updated if newest is None else max(newest, updated)
                for stream, start in since.items():
                    if start is None or updated > start:
                        fetched[stream].add(stream.rows(pull))
        except NotAccessibleError as exc:
            for stream, records in fetched.items():
                records.discard()
                if stream is not self:
                    stream._hand_over(context, Fetched(context["repo_id"], exc))
            raise
        except BaseException:
            for records in fetched.values():
                records.discard()
            raise
        for stream, records in fetched.items():
            start = since[stream]
            if newest is not None and (start is None or newest > start):
                records.newest = _github_time(newest)
        self._hand_to_siblings(context, fetched)
        return fetched[self]

    def _hand_to_siblings(
        self, context: Context, fetched: dict[PullRequestFamilyStream, Fetched]
    ) -> None:
        for stream, records in fetched.items():
            if stream is not self:
                stream._hand_over(context, records)

    def _since(
        self,
        context: Context,
        inputs: dict[str, Any],
    ) -> dict[PullRequestFamilyStream, datetime | None]:
        """Each stream the walk feeds -> its starting timestamp (this one first)."""
        since: dict[PullRequestFamilyStream, datetime | None] = {
            self: self.get_starting_timestamp(context)
        }
        for stream in self._siblings():
            if stream.name in inputs["since"]:
                since[stream] = inputs["since"][stream.name]
        return since

    def _pulls(self, context: Context, since: datetime | None) -> Iterator[Pull]:
        """Pull requests updated after `since`, newest first, each with all its reviews."""
        cursor = None
        # A pull request updated during the walk moves to the front and shifts the later pages
        # by one: the next page then repeats the last one read. (The moved one is newer than
        # the bookmark this walk leaves, so the next run reads it.)
        seen: set[str] = set()
        while True:
            data = self._query(context, PAGE_QUERY, {"cursor": cursor, **PAGE_SIZES})
            pull_requests = data["pullRequests"]
            page, reached_bookmark = [], False
            for node in pull_requests["nodes"]:
                if node is None or node["id"] in seen:
                    continue
                if since is not None and parse_time(node["updatedAt"]) <= since:
                    reached_bookmark = True
                    break
                seen.add(node["id"])
                page.append(node)
            yield from self._complete(context, page)
            info = pull_requests["pageInfo"]
            if reached_bookmark or not info["hasNextPage"]:
                return
            cursor = info["endCursor"]

    def _complete(self, context: Context, nodes: list[dict[str, Any]]) -> list[Pull]:
        """The page's pull requests with every review: overflowing ones paged by follow-ups."""
        pulls = []
        remaining: dict[int, str] = {}  # index in pulls -> reviews cursor
        for index, node in enumerate(nodes):
            pull = Pull(node)
            reviews = node.get("reviews") or {}
            pull.add_reviews(reviews.get("nodes") or [])
            if (reviews.get("pageInfo") or {}).get("hasNextPage"):
                remaining[index] = reviews["pageInfo"]["endCursor"]
            for name in ("labels", "reviewRequests"):
                listed = node.get(name) or {}
                if listed.get("totalCount", 0) > len(listed.get("nodes") or []):
                    self.logger.warning(
                        "%s: %s #%s has %s %s; the first %d are kept",
                        self.name,
                        full_name(context),
                        node["number"],
                        listed["totalCount"],
                        name,
                        LIST_PAGE_SIZE,
                    )
            pulls.append(pull)
        while remaining:
            batch = list(remaining.items())[:FOLLOW_UP_BATCH]
            variables: dict[str, Any] = {}
            for alias, (index, cursor) in enumerate(batch):
                variables[f"n{alias}"] = pulls[index].node["number"]
                variables[f"c{alias}"] = cursor
            data = self._query(context, follow_up_query(len(batch)), variables)
            for alias, (index, _) in enumerate(batch):
                reviews = (data.get(f"p{alias}") or {}).get("reviews")
                if reviews is None:  # the pull request went away meanwhile
                    del remaining[index]
                    continue
                pulls[index].add_reviews(reviews.get("nodes") or [])
                if reviews["pageInfo"]["hasNextPage"]:
                    remaining[index] = reviews["pageInfo"]["endCursor"]
                else:
                    del remaining[index]
        return pulls

    def _query(self, context: Context, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The repository object of one query; a repository GitHub does not show is skipped."""
        data = self.client.graphql(
            query,
            {"owner": context["owner"], "name": context["repo"], **variables},
            stream=self.name,
            owner=context["owner"],
        )
        repository = data.get("repository")
        if repository is None:
            raise NotAccessibleError(
                self.client.settings.graphql_url,
                404,
                "GraphQL NOT_FOUND: the repository is not visible to these credentials",
            )
        return repository  # type: ignore[no-any-return]


_ACTOR_TYPES = ["User", "Bot", "Mannequin", "Organization", "EnterpriseUserAccount"]


class PullRequestsStream(PullRequestFamilyStream):
    """Pull requests with their sizes, labels, requested reviewers and a summary of reviews;
    a pull request updated since the last run (new review, merged, relabelled) comes again."""

    name = "pull_requests"
    primary_keys = ("id",)
    replication_key = "updated_at"
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property(
            "id",
            th.IntegerType,
            required=True,
            description="The pull request's id (as REST's `id`).",
        ),
        th.Property("node_id", th.StringType, description="GraphQL node id."),
        th.Property("number", th.IntegerType, required=True),
        th.Property("title", th.StringType),
        th.Property("state", th.StringType, allowed_values=["open", "closed", "merged"]),
        th.Property("draft", th.BooleanType),
        th.Property("merged", th.BooleanType),
        th.Property("created_at", th.DateTimeType),
        th.Property(
            "updated_at",
            th.DateTimeType,
            required=True,
            description="Last update (the bookmark): new reviews, comments, merges, "
            "label changes and edits move it.",
        ),
        th.Property("closed_at", th.DateTimeType),
        th.Property("merged_at", th.DateTimeType),
        th.Property(
            "author_login", th.StringType, description="As REST spells it (bots end in [bot])."
        ),
        th.Property("author_id", th.IntegerType, description="The author's account id."),
        th.Property("author_type", th.StringType, allowed_values=_ACTOR_TYPES),
        th.Property("merged_by_login", th.StringType),
        th.Property("base_ref", th.StringType, description="Target branch."),
        th.Property("head_ref", th.StringType, description="Source branch."),
        th.Property("additions", th.IntegerType),
        th.Property("deletions", th.IntegerType),
        th.Property("changed_files", th.IntegerType),
        th.Property("commit_count", th.IntegerType),
        th.Property(
            "comment_count",
            th.IntegerType,
            description="Conversation comments (not review comments).",
        ),
        th.Property("labels", th.ArrayType(th.StringType)),
        th.Property(
            "requested_reviewers",
            th.ArrayType(th.StringType),
            description="Logins whose review is requested and not yet given.",
        ),
        th.Property(
            "requested_teams",
            th.ArrayType(th.StringType),
            description="Slugs of teams whose review is requested.",
        ),
        th.Property("html_url", th.StringType),
        th.Property("review_count", th.IntegerType, description="Submitted reviews."),
        th.Property(
            "reviewers",
            th.ArrayType(th.StringType),
            description="Distinct logins that submitted a review, sorted.",
        ),
        th.Property("approval_count", th.IntegerType, description="APPROVED reviews."),
        th.Property(
            "changes_requested_count", th.IntegerType, description="CHANGES_REQUESTED reviews."
        ),
        th.Property(
            "first_review_at", th.DateTimeType, description="When the first review was submitted."
        ),
        EVENT_UUID,
    ).to_dict()

    @override
    def rows(self, pull: Pull) -> list[dict[str, Any]]:
        return [pull_request_record(pull)]


class PullRequestReviewsStream(PullRequestFamilyStream):
    """Submitted reviews, one row each, read with the pull requests (no request of its own).
    `updated_at` is the pull request's: a new review moves it, and the pull request's reviews
    come again."""

    name = "pull_request_reviews"
    primary_keys = ("id",)
    replication_key = "updated_at"
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property(
            "id", th.IntegerType, required=True, description="The review's id (as REST's `id`)."
        ),
        th.Property("node_id", th.StringType, description="GraphQL node id."),
        th.Property(
            "pull_request_id", th.IntegerType, required=True, description="pull_requests.id"
        ),
        th.Property("pull_request_number", th.IntegerType),
        th.Property(
            "author_login", th.StringType, description="As REST spells it (bots end in [bot])."
        ),
        th.Property("author_id", th.IntegerType),
        th.Property(
            "state",
            th.StringType,
            allowed_values=["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"],
        ),
        th.Property("submitted_at", th.DateTimeType),
        th.Property(
            "body_length",
            th.IntegerType,
            description="Characters in the review's text (the text is not kept).",
        ),
        th.Property("commit_id", th.StringType, description="The commit the review was on."),
        th.Property("html_url", th.StringType),
        th.Property(
            "updated_at",
            th.DateTimeType,
            required=True,
            description="The pull request's last update when read (the bookmark), "
            "not the review's.",
        ),
        EVENT_UUID,
    ).to_dict()

    @override
    def rows(self, pull: Pull) -> list[dict[str, Any]]:
        return review_records(pull)
