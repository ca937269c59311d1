"""Releases, assets nested: every listing page asked with its ETag, changed pages emitted whole.

Nothing in GET .../releases tells what changed (drafts published, notes edited, downloads
counted), so each page is asked with the ETag it answered last time: an unchanged page costs
nothing, a changed one is emitted again. State: the first pages' ETags, nothing per release.
"""

from __future__ import annotations

from collections.abc import Iterator

from tap_github_activity.conditional import Conditional
from tap_github_activity.fetch import Item, Keep, Request, Row
from tap_github_activity.records import flatten

__all__ = ["ASSET_FIELDS", "RELEASES", "RELEASE_FIELDS", "fetch_releases"]

RELEASES = "releases"

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


def fetch_releases(request: Request) -> Iterator[Item]:
    """The releases of the listing's changed pages, then the listing's ETags."""
    repository = request.repository
    conditional = Conditional(request.client, request.state.get(RELEASES))
    path = f"/repos/{repository.owner}/{repository.name}/releases"
    for page in conditional.pages(path, stream=RELEASES, owner=repository.owner):
        if page.not_modified:
            continue
        for release in page.data:
            record = flatten(release, RELEASE_FIELDS)
            record["assets"] = [
                flatten(asset, ASSET_FIELDS) for asset in release.get("assets") or []
            ]
            yield Row(RELEASES, record)
    # Kept only once every page is emitted: an interrupted run asks again.
    yield Keep(RELEASES, conditional.state())
