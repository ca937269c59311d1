"""Which repositories a run reads: named ones, glob patterns, organizations, users, or all the
credentials can see; then exclusions and the archived/fork filters.

The listings fetched here are the `repositories` stream's records, so selecting costs nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

from tap_github_activity.client import GitHubClient
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.settings import RepositoryFilter

__all__ = ["RepositorySelector"]

STREAM = "repositories"
logger = logging.getLogger("tap_github_activity.selection")


def matches(full_name: str, pattern: str) -> bool:
    """GitHub names are case-insensitive; so is matching."""
    return fnmatchcase(full_name.lower(), pattern.lower())


class RepositorySelector:
    """Resolves the configured selection to repository payloads, each once."""

    def __init__(self, client: GitHubClient, selection: RepositoryFilter) -> None:
        self.client = client
        self.selection = selection
        self.missing: list[str] = []
        self._by_owner: dict[str, list[dict[str, Any]]] = {}
        self._visible_cache: list[dict[str, Any]] | None = None

    def resolve(self) -> list[dict[str, Any]]:
        """The selected repositories, sorted by full name; reports what was not found."""
        found: dict[int, dict[str, Any]] = {}
        for repository in self._candidates():
            if self._keep(repository):
                found.setdefault(repository["id"], repository)
        if self.missing:
            logger.warning("Not found or not visible to these credentials, skipped: %s",
                           ", ".join(self.missing))
        return sorted(found.values(), key=lambda r: r["full_name"].lower())

    def _candidates(self) -> Iterator[dict[str, Any]]:
        sel = self.selection
        if sel.is_empty:
            yield from self._visible()
            return
        for org in sel.organizations:
            yield from self._owned(org, "orgs")
        for user in sel.users:
            yield from self._owned(user, "users")
        for pattern in sel.patterns:
            owner = pattern.split("/")[0]
            pool = self._visible() if _is_glob(owner) else self._owned(owner, None)
            matched = [repo for repo in pool if matches(repo["full_name"], pattern)]
            if not matched:
                self.missing.append(f"{pattern} (matched nothing)")
            yield from matched
        for full_name in sel.exact:
            owner = full_name.split("/")[0]
            if owner.lower() in self._by_owner:
                # The owner's listing already holds every repository these credentials see.
                hits = [r for r in self._by_owner[owner.lower()]
                        if r["full_name"].lower() == full_name.lower()]
                if not hits:
                    self.missing.append(full_name)
                yield from hits
                continue
            try:
                yield self.client.get(f"/repos/{full_name}", stream=STREAM, owner=owner).data
            except NotAccessibleError:
                self.missing.append(full_name)

    def _owned(self, owner: str, kind: str | None) -> list[dict[str, Any]]:
        """Every repository of an organization or user (kind None: try both), listed once."""
        key = owner.lower()
        if key not in self._by_owner:
            self._by_owner[key] = self._list_owned(owner, kind)
        return self._by_owner[key]

    def _list_owned(self, owner: str, kind: str | None) -> list[dict[str, Any]]:
        for candidate in [kind] if kind else ["orgs", "users"]:
            params = {"type": "all"} if candidate == "orgs" else {"type": "owner"}
            try:
                return [repository
                        for page in self.client.paginate(f"/{candidate}/{owner}/repos",
                                                         stream=STREAM, owner=owner,
                                                         params=params)
                        for repository in page.data]
            except NotAccessibleError:
                continue
        self.missing.append(owner)
        return []

    def _visible(self) -> list[dict[str, Any]]:
        """With no selection (or a pattern on any owner): what the credentials can see."""
        if self._visible_cache is None:
            self._visible_cache = list(self._list_visible())
        return self._visible_cache

    def _list_visible(self) -> Iterator[dict[str, Any]]:
        if self.client.app is None:
            for page in self.client.paginate("/user/repos", stream=STREAM,
                                             params={"affiliation": "owner,collaborator,"
                                                     "organization_member"}):
                yield from page.data
            return
        for installation, owner in self.client.app.installations():
            if owner:
                self.client.app.remember_owner(owner, installation)
            for page in self.client.paginate("/installation/repositories", stream=STREAM,
                                             owner=owner or None):
                yield from page.data["repositories"]

    def _keep(self, repository: dict[str, Any]) -> bool:
        sel = self.selection
        full_name = repository["full_name"]
        if any(matches(full_name, pattern) for pattern in sel.excluded):
            return False
        if any(full_name.lower() == exact.lower() for exact in sel.exact):
            return True  # named explicitly: kept whatever the archived/fork filters say
        if repository.get("archived") and not sel.include_archived:
            return False
        return not (repository.get("fork") and not sel.include_forks)


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")
