"""Releases and their assets.

GET /repos/{owner}/{repo}/releases lists a repository's releases newest first (by creation),
paginated with page/per_page. Draft releases are listed only to callers with push access.
Releases change after creation: drafts are published, notes edited, assets uploaded, and
download counts grow, none of which moves a release in the listing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from github_simulator.rest_core import NAME, OWNER, can_push, visible_repo
from github_simulator.server import ROUTER, Listing, Request
from github_simulator.world import FAMILIES, Account, Repo, World, iso

CONTENT_TYPES = {
    ".tar.gz": "application/gzip",
    ".zip": "application/zip",
    ".whl": "application/octet-stream",
    ".deb": "application/vnd.debian.binary-package",
}


@dataclass
class Asset:
    id: int
    name: str
    content_type: str
    size: int
    download_count: int
    created_at: datetime
    updated_at: datetime
    uploader: Account
    label: str | None = None


@dataclass
class Release:
    id: int
    tag_name: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    author: Account
    created_at: datetime
    published_at: datetime | None
    target_commitish: str = "main"
    assets: list[Asset] = field(default_factory=list)
    updated_at: datetime | None = None


@dataclass
class ReleaseStore:
    """Per repository id: its releases, oldest first."""

    releases: dict[int, list[Release]] = field(default_factory=dict)


def store(world: World) -> ReleaseStore:
    return world.family("releases", ReleaseStore)


def releases_of(world: World, repo: Repo) -> list[Release]:
    return store(world).releases.setdefault(repo.id, [])


# -- building the world ------------------------------------------------------------------------


def add_asset(world: World, release: Release, rng: random.Random, when: datetime) -> Asset:
    suffix = rng.choice(sorted(CONTENT_TYPES))
    asset = Asset(
        id=world.new_id(),
        name=f"{release.tag_name}-{len(release.assets)}{suffix}",
        content_type=CONTENT_TYPES[suffix],
        size=rng.randint(1_000, 50_000_000),
        download_count=rng.randint(0, 500),
        created_at=when,
        updated_at=when,
        uploader=release.author,
    )
    release.assets.append(asset)
    return asset


def add_release(
    world: World,
    repo: Repo,
    rng: random.Random,
    created: datetime,
    *,
    draft: bool = False,
    prerelease: bool = False,
    assets: int = 0,
) -> Release:
    """A release of `repo` created at `created` (published then unless it is a draft)."""
    existing = releases_of(world, repo)
    version = f"v1.{len(existing)}.{rng.randint(0, 9)}"
    author = world.account(rng.choice(["alice", "bob", "carol"]))
    release = Release(
        id=world.new_id(),
        tag_name=version,
        name=f"Release {version}",
        body=f"Changes in {version}.",
        draft=draft,
        prerelease=prerelease,
        author=author,
        created_at=created,
        published_at=None if draft else created,
        updated_at=created,
    )
    for _ in range(assets):
        add_asset(world, release, rng, created)
    existing.append(release)
    return release


def seed_releases(world: World, rng: random.Random) -> None:
    """`releases_per_repo` (default 5) releases per repository, most with assets; the newest
    is sometimes a draft, some are prereleases."""
    count = world.scale.get("releases_per_repo", 5)
    now = world.now()
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        for index in range(count):
            created = now - timedelta(days=3 * (count - index), minutes=rng.randint(0, 600))
            newest = index == count - 1
            add_release(
                world,
                repo,
                rng,
                created,
                draft=newest and rng.random() < 0.5,
                prerelease=rng.random() < 0.2,
                assets=rng.randint(0, 3),
            )


def mutate_releases(world: World, rng: random.Random) -> None:
    """A new release in every repository; a draft published; notes edited; an asset uploaded;
    download counts grow."""
    with world.lock:
        now = world.now()
        for repo in sorted(world.repos.values(), key=lambda r: r.id):
            releases = releases_of(world, repo)
            drafts = [r for r in releases if r.draft]
            if drafts:
                publish(drafts[0], now)
            published = [r for r in releases if not r.draft]
            if published:
                edit_notes(published[0], now)
                for release in published:
                    for asset in release.assets:
                        asset.download_count += rng.randint(1, 30)
                add_asset(world, published[-1], rng, now)
            add_release(world, repo, rng, now, assets=1)


def publish(release: Release, when: datetime) -> None:
    release.draft = False
    release.published_at = when
    release.updated_at = when


def edit_notes(release: Release, when: datetime) -> None:
    release.body = f"{release.body or ''}\n\nEdited at {iso(when)}."
    release.updated_at = when


FAMILIES["releases"] = seed_releases


# -- what GitHub answers -----------------------------------------------------------------------


def asset_payload(request: Request, repo: Repo, release: Release, asset: Asset) -> dict[str, Any]:
    return {
        "url": f"{request.api}/repos/{repo.full_name}/releases/assets/{asset.id}",
        "browser_download_url": f"https://github.test/{repo.full_name}/releases/download/{release.tag_name}/"
        f"{asset.name}",
        "id": asset.id,
        "node_id": f"RA_{asset.id}",
        "name": asset.name,
        "label": asset.label,
        "state": "uploaded",
        "content_type": asset.content_type,
        "size": asset.size,
        "digest": None,
        "download_count": asset.download_count,
        "created_at": iso(asset.created_at),
        "updated_at": iso(asset.updated_at),
        "uploader": asset.uploader.payload(request.api),
    }


def release_payload(request: Request, repo: Repo, release: Release) -> dict[str, Any]:
    base = f"{request.api}/repos/{repo.full_name}"
    html = f"https://github.test/{repo.full_name}/releases"
    return {
        "url": f"{base}/releases/{release.id}",
        # GitHub links a draft by an "untagged-..." name until it is published.
        "html_url": f"{html}/untagged-{release.id}"
        if release.draft
        else f"{html}/tag/{release.tag_name}",
        "assets_url": f"{base}/releases/{release.id}/assets",
        "upload_url": f"https://uploads.github.test/repos/{repo.full_name}/releases/"
        f"{release.id}/assets{{?name,label}}",
        "tarball_url": f"{base}/tarball/{release.tag_name}",
        "zipball_url": f"{base}/zipball/{release.tag_name}",
        "id": release.id,
        "node_id": f"RE_{release.id}",
        "tag_name": release.tag_name,
        "target_commitish": release.target_commitish,
        "name": release.name,
        "body": release.body,
        "draft": release.draft,
        "prerelease": release.prerelease,
        "immutable": False,
        "created_at": iso(release.created_at),
        "updated_at": None if release.updated_at is None else iso(release.updated_at),
        "published_at": None if release.published_at is None else iso(release.published_at),
        "author": release.author.payload(request.api),
        "assets": [asset_payload(request, repo, release, a) for a in release.assets],
    }


@ROUTER.get(f"/repos/{OWNER}/{NAME}/releases")
def list_releases(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    drafts = can_push(request, repo)
    releases = [r for r in releases_of(request.world, repo) if drafts or not r.draft]
    releases.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    return Listing([release_payload(request, repo, r) for r in releases])


# -- ground truth ------------------------------------------------------------------------------


def expected_releases(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id,) -> the fields of every release alice's token lists (acme repositories: she may
    push to all of them, so drafts included)."""
    token = world.tokens["ghp_alice"]
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for repo in world.repos.values():
        if repo.owner.login != "acme" or repo.fork or not world.visible_to_token(token, repo):
            continue
        pushes = repo.pushers is None or token.login in repo.pushers
        for release in releases_of(world, repo):
            if release.draft and not pushes:
                continue
            expected[(release.id,)] = {
                "repo_id": repo.id,
                "tag_name": release.tag_name,
                "name": release.name,
                "draft": release.draft,
                "prerelease": release.prerelease,
                "author_login": release.author.login,
                "author_id": release.author.id,
                "created_at": iso(release.created_at),
                "published_at": None if release.published_at is None else iso(release.published_at),
                "body": release.body,
                "assets": [
                    {
                        "id": a.id,
                        "name": a.name,
                        "size": a.size,
                        "content_type": a.content_type,
                        "download_count": a.download_count,
                        "created_at": iso(a.created_at),
                        "updated_at": iso(a.updated_at),
                    }
                    for a in release.assets
                ],
            }
    return expected
