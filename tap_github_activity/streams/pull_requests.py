"""Pull requests and their reviews: one GraphQL walk (fetch/pulls.py) feeds both streams."""

from __future__ import annotations

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.fetch.pulls import signpost
from tap_github_activity.streams.base import EVENT_UUID, REPOSITORY_CONTEXT
from tap_github_activity.streams.repositories import RepositoryStream

__all__ = ["PullRequestReviewsStream", "PullRequestsStream"]


class PullRequestFamilyStream(RepositoryStream):
    """Records arrive newest update first (not sorted): singer-sdk moves the bookmark when a
    repository is complete."""

    family = "pulls"
    replication_key = "updated_at"
    emits_event_uuid = True

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> str:
        return signpost(self.github_tap.clock.now())


_ACTOR_TYPES = ["User", "Bot", "Mannequin", "Organization", "EnterpriseUserAccount"]


class PullRequestsStream(PullRequestFamilyStream):
    """Pull requests with their sizes, labels, requested reviewers and a summary of reviews;
    a pull request updated since the last run (new review, merged, relabelled) comes again.

    Incremental: every change that moves the pull request's `updatedAt`."""

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
            "merge_commit_sha",
            th.StringType,
            description="The commit the merge created (GraphQL mergeCommit: REST API version "
            "2026-03-10 drops merge_commit_sha); null unless merged.",
        ),
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


class PullRequestReviewsStream(PullRequestFamilyStream):
    """Submitted reviews, one row each, read with the pull requests (no request of its own).
    `updated_at` is the pull request's: a new review moves it, and the pull request's reviews
    come again.

    Incremental: new reviews. Not a review edited or dismissed while the pull request's
    `updatedAt` stays: GitHub lists reviews by pull request only, not by update."""

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
