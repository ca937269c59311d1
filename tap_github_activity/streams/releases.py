"""Releases, assets nested; only the listing pages that changed are emitted (fetch/releases.py).

FULL_TABLE in singer's terms (the ETags are its state) but emits only changed pages: targets
upsert by `id`, and no ACTIVATE_VERSION is sent.
"""

from __future__ import annotations

from singer_sdk import typing as th

from tap_github_activity.streams.base import EVENT_UUID, REPOSITORY_CONTEXT
from tap_github_activity.streams.repositories import RepositoryStream

__all__ = ["ReleasesStream"]


class ReleasesStream(RepositoryStream):
    """A repository's releases (drafts too, for credentials with push access), assets nested.
    Only the listing pages that changed since the last run are emitted (see the module).

    Incremental: every change to a release or asset (download counts too: the page's ETag
    changes). A deleted release is not retracted (Singer has no delete)."""

    name = "releases"
    family = "releases"
    primary_keys = ("id",)
    replication_key = None
    emits_event_uuid = True
    schema = th.PropertiesList(
        *REPOSITORY_CONTEXT,
        th.Property("id", th.IntegerType, required=True, description="The release's id."),
        th.Property("tag_name", th.StringType, description="The release's Git tag."),
        th.Property("name", th.StringType, description="The release's title."),
        th.Property("draft", th.BooleanType, description="Not published yet."),
        th.Property("prerelease", th.BooleanType, description="Marked as a prerelease."),
        th.Property(
            "author_login", th.StringType, description="Login of the user who created the release."
        ),
        th.Property("author_id", th.IntegerType, description="Id of that user."),
        th.Property(
            "created_at",
            th.DateTimeType,
            description="When the release (or its draft) was created.",
        ),
        th.Property(
            "published_at",
            th.DateTimeType,
            description="When the release was published (null for a draft).",
        ),
        th.Property("body", th.StringType, description="The release notes (Markdown)."),
        th.Property("html_url", th.StringType, description="The release's page on GitHub."),
        th.Property(
            "assets",
            th.ArrayType(
                th.ObjectType(
                    th.Property("id", th.IntegerType, description="The asset's id."),
                    th.Property("name", th.StringType, description="File name."),
                    th.Property("size", th.IntegerType, description="Size in bytes."),
                    th.Property("content_type", th.StringType, description="Media type."),
                    th.Property(
                        "download_count",
                        th.IntegerType,
                        description="Downloads so far, when the release was last emitted.",
                    ),
                    th.Property("created_at", th.DateTimeType, description="When it was uploaded."),
                    th.Property("updated_at", th.DateTimeType, description="When it last changed."),
                )
            ),
            description="The files attached to the release.",
        ),
        EVENT_UUID,
    ).to_dict()
