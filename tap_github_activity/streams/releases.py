"""Releases: one row per release, with its assets nested.

Releases change after they are created: drafts are published, notes are edited, assets are
uploaded and their download counts grow. None of that moves a release in GET
/repos/{owner}/{repo}/releases (newest first), and no field tells reliably what changed (asset
downloads leave the release untouched). So every page of the listing is asked with the ETag it
answered at the last run: an unchanged page answers 304 and costs no rate-limit point, a changed
page is read and its releases are emitted again whole. An edit to a release on page 2 changes
page 2 only; a new release shifts every page, so all of them are read again. The state keeps
the ETags of the first 8 pages (under 600 characters): a repository with more than 800 releases
has its older pages read, and emitted, at every run.

The stream is FULL_TABLE in singer's terms (no replication key; the ETags are its state) but
emits only the pages that changed: targets must upsert by `id` and no ACTIVATE_VERSION is sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th
from singer_sdk.helpers.types import Context
from typing_extensions import override

from tap_github_activity.client import PER_PAGE, GitHubClient, Page
from tap_github_activity.streams.base import EVENT_UUID, flatten
from tap_github_activity.streams.children import REPOSITORY_CONTEXT, RepositoryChildStream

__all__ = ["ASSET_FIELDS", "MAX_STORED_ETAGS", "RELEASE_FIELDS", "PagedListing", "ReleasesStream"]

# Pages whose ETags a repository's state keeps (GitHub's ETags are about 70 characters).
MAX_STORED_ETAGS = 8

# Record field -> dotted path in GitHub's release payload.
RELEASE_FIELDS = {
    "id": "id",
    "tag_name": "tag_name",
    "name": "name",
    "draft": "draft",
    "prerelease": "prerelease",
    "author_login": "author.login",
    "author_id": "author.id",
    "created_at": "created_at",
    "published_at": "published_at",
    "body": "body",
    "html_url": "html_url",
}

# Field of a nested asset -> path in GitHub's release asset payload.
ASSET_FIELDS = {
    "id": "id",
    "name": "name",
    "size": "size",
    "content_type": "content_type",
    "download_count": "download_count",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


@dataclass
class PagedListing:
    """A paginated GitHub listing asked page by page, each page with the ETag it answered at
    the last complete read: a page that did not change answers 304, free.

    Page one's ETag alone would miss changes to older items (the listings are newest first).
    When page one answers 304, no item was added or removed, so the pages hold the same items
    as before and each page's own ETag tells whether one of its items changed. `saved` is what
    `saved_state()` gave after the last complete read of the same listing (store it only once
    every page has been emitted): the first 10 pages' ETags and the number of pages.
    """

    client: GitHubClient
    path: str
    stream: str
    owner: str
    params: dict[str, Any]
    saved: Mapping[str, Any] | None = None
    etags: list[str] = field(default_factory=list)

    def pages(self) -> Iterator[Page]:
        """Every page in order; a page that did not change has `.not_modified` and no data."""
        previous = list((self.saved or {}).get("etags") or [])
        count = int((self.saved or {}).get("pages") or len(previous))
        number = 1
        while True:
            stored = previous[number - 1] if number <= len(previous) else None
            page = self.client.get(
                self.path,
                stream=self.stream,
                owner=self.owner,
                params={**self.params, "per_page": PER_PAGE, "page": number},
                etag=stored or None,
            )
            self.etags.append(page.etag or stored or "")
            yield page
            # An unchanged page leaves the number of pages as it was.
            if (number >= count) if page.not_modified else page.next_url is None:
                return
            number += 1

    def saved_state(self) -> dict[str, Any]:
        """What the next read of the same listing needs (about 750 characters at most)."""
        return {"etags": self.etags[:MAX_STORED_ETAGS], "pages": len(self.etags)}


class ReleasesStream(RepositoryChildStream):
    """A repository's releases (drafts too, for credentials with push access), assets nested.
    Only the listing pages that changed since the last run are emitted (see the module).

    Incremental: every change to a release or asset (download counts too: the page's ETag
    changes). A deleted release is not retracted (Singer has no delete)."""

    name = "releases"
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

    @override
    def repository_records(self, context: Context) -> Iterator[dict[str, Any]]:
        path = f"/repos/{context['owner']}/{context['repo']}/releases"
        saved = self.partition_state(context).get("listing") or {}
        listing = PagedListing(
            self.client,
            path,
            self.name,
            context["owner"],
            {},
            saved if saved.get("path") == path else None,
        )
        for page in listing.pages():
            if page.not_modified:
                continue
            for release in page.data:
                record = flatten(release, RELEASE_FIELDS)
                record["assets"] = [
                    flatten(asset, ASSET_FIELDS) for asset in release.get("assets") or []
                ]
                yield record
        # Stored only once every page is emitted: an interrupted run asks again.
        self.remember(context, listing={"path": path, **listing.saved_state()})
