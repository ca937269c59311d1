"""Which repositories a run reads: named ones, glob patterns, organizations, users, or all the
credentials can see; then exclusions and the archived/fork filters.

The listings fetched here are the `repositories` stream's records, so selecting costs nothing more.
Each listing page is asked with the ETag of the previous run (kept in the repositories stream's
state with the page's compact repository contexts): an unchanged page answers 304, costs no
rate-limit point, and its repositories come back as compact entries marked `UNCHANGED`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from tap_github_activity.client import PER_PAGE, GitHubClient
from tap_github_activity.conditional import sent_etag, stored_etag
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.settings import RepositoryFilter

__all__ = ["UNCHANGED", "RepositorySelector", "matches"]

STREAM = "repositories"
NOT_FOUND = "not found"
# Marks a repository listed on a page that answered 304: only its compact fields are known.
UNCHANGED = "_unchanged"
logger = logging.getLogger("tap_github_activity.selection")


def matches(full_name: str, pattern: str) -> bool:
    """GitHub names are case-insensitive; so is matching."""
    return fnmatchcase(full_name.lower(), pattern.lower())


# A default branch a compact entry leaves out (GitHub's for new repositories).
DEFAULT_BRANCH = "main"


def compact(repository: Mapping[str, Any], owner: str | None = None) -> dict[str, Any]:
    """What a later run needs of a repository whose listing did not change: without its owner
    when it is `owner` (its page's), its default branch when it is "main" (none: null),
    archived and fork when false."""
    entry: dict[str, Any] = {"repo_id": repository["id"], "repo": repository["name"]}
    if repository["owner"]["login"] != owner:
        entry["owner"] = repository["owner"]["login"]
    if repository.get("default_branch") != DEFAULT_BRANCH:
        entry["default_branch"] = repository.get("default_branch")
    entry.update({flag: True for flag in ("archived", "fork") if repository.get(flag)})
    return entry


def expand(entry: Mapping[str, Any], owner: str | None = None) -> dict[str, Any]:
    """A compact entry in the shape of GitHub's repository payload (the fields it has)."""
    login = entry.get("owner", owner)
    return {
        "id": entry["repo_id"],
        "name": entry["repo"],
        "full_name": f"{login}/{entry['repo']}",
        "owner": {"login": login},
        "default_branch": entry.get("default_branch", DEFAULT_BRANCH),
        "archived": bool(entry.get("archived")),
        "fork": bool(entry.get("fork")),
        UNCHANGED: True,
    }


class RepositorySelector:
    """Resolves the configured selection to repository payloads, each once.

    `etags`: the listings kept by the previous run (None: no conditional requests). After
    `resolve()`, `listings` holds this run's, to be stored once the repositories are emitted.
    """

    def __init__(
        self,
        client: GitHubClient,
        selection: RepositoryFilter,
        etags: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.selection = selection
        self.missing: list[str] = []  # entries that selected nothing, as configured
        self.reasons: dict[str, str] = {}  # missing entry -> why
        self.conditional = etags is not None
        self.listings: dict[str, Any] = {}
        self._previous: Mapping[str, Any] = etags or {}
        self._by_owner: dict[str, list[dict[str, Any]] | None] = {}  # None: not listable
        self._visible_cache: list[dict[str, Any]] | None = None

    def resolve(self) -> list[dict[str, Any]]:
        """The selected repositories, sorted by full name; reports what was not found."""
        found: dict[int, dict[str, Any]] = {}
        for repository in self._candidates():
            if not self._keep(repository):
                continue
            known = found.get(repository["id"])
            # A full payload (changed listing) wins over a compact one.
            if known is None or (known.get(UNCHANGED) and not repository.get(UNCHANGED)):
                found[repository["id"]] = repository
        if self.missing:
            logger.warning(
                "Not found or not visible to these credentials, skipped: %s",
                ", ".join(
                    f"{name} ({self.reasons[name]})" if self.reasons[name] != NOT_FOUND else name
                    for name in self.missing
                ),
            )
        return sorted(found.values(), key=lambda r: r["full_name"].lower())

    def _candidates(self) -> Iterator[dict[str, Any]]:
        sel = self.selection
        if sel.is_empty:
            yield from self._visible()
            return
        for owners, kind in ((sel.organizations, "orgs"), (sel.users, "users")):
            for owner in owners:
                repositories = self._owned(owner, kind)
                if repositories is None:
                    self._report(owner, NOT_FOUND)
                yield from repositories or []
        for pattern in sel.patterns:
            owner = pattern.split("/")[0]
            pool = self._visible() if _is_glob(owner) else self._owned(owner, None)
            matched = [repo for repo in pool or [] if matches(repo["full_name"], pattern)]
            if not matched:
                self._report(pattern, "no such owner" if pool is None else "matched nothing")
            yield from matched
        for full_name in sel.exact:
            owner = full_name.split("/")[0]
            if owner.lower() in self._by_owner:
                # The owner's listing already holds every repository these credentials see.
                hits = [
                    r
                    for r in self._by_owner[owner.lower()] or []
                    if r["full_name"].lower() == full_name.lower()
                ]
                if not hits:
                    self._report(full_name, NOT_FOUND)
                yield from hits
                continue
            try:
                yield from self._listing(
                    f"repository:{full_name.lower()}",
                    f"/repos/{full_name}",
                    owner=owner,
                    single=True,
                )
            except NotAccessibleError:
                self._report(full_name, NOT_FOUND)

    def _report(self, entry: str, reason: str) -> None:
        if entry not in self.reasons:
            self.missing.append(entry)
            self.reasons[entry] = reason

    def _owned(self, owner: str, kind: str | None) -> list[dict[str, Any]] | None:
        """Every repository of an organization or user (kind None: try both), listed once;
        None when neither exists or is visible."""
        key = owner.lower()
        if key not in self._by_owner:
            self._by_owner[key] = self._list_owned(owner, kind)
        return self._by_owner[key]

    def _list_owned(self, owner: str, kind: str | None) -> list[dict[str, Any]] | None:
        key = f"owner:{owner.lower()}"
        kinds = [kind] if kind else ["orgs", "users"]
        known = self._previous.get(key, {}).get("path", "")
        if kind is None and known.startswith("/users/"):
            kinds.reverse()  # the previous run learned that this owner is a user
        for candidate in kinds:
            params = {"type": "all"} if candidate == "orgs" else {"type": "owner"}
            try:
                return self._listing(key, f"/{candidate}/{owner}/repos", owner=owner, params=params)
            except NotAccessibleError:
                continue
        return None

    def _visible(self) -> list[dict[str, Any]]:
        """With no selection (or a pattern on any owner): what the credentials can see."""
        if self._visible_cache is None:
            self._visible_cache = list(self._list_visible())
        return self._visible_cache

    def _list_visible(self) -> Iterator[dict[str, Any]]:
        if self.client.app is None:
            yield from self._listing(
                "user",
                "/user/repos",
                owner=None,
                params={"affiliation": "owner,collaborator,organization_member"},
            )
            return
        for installation, owner in self.client.app.installations():
            if owner:
                self.client.app.remember_owner(owner, installation)
            yield from self._listing(
                f"installation:{installation}",
                "/installation/repositories",
                owner=owner or None,
                items=lambda data: data["repositories"],
            )

    def _listing(
        self,
        key: str,
        path: str,
        *,
        owner: str | None,
        params: Mapping[str, Any] | None = None,
        single: bool = False,
        items: Callable[[Any], list[dict[str, Any]]] | None = None,
    ) -> list[dict[str, Any]]:
        """Every repository of a listing (or one repository), each page asked with the ETag
        it had last run; unchanged pages give compact entries. Records this run's pages."""
        previous = self._previous.get(key) if self.conditional else None
        stored_pages: list[dict[str, Any]] = (
            previous.get("pages", []) if previous and previous.get("path") == path else []
        )
        pages: list[dict[str, Any]] = []
        repositories: list[dict[str, Any]] = []
        url: str | None = path
        query: dict[str, Any] | None = None if single else {"per_page": PER_PAGE, **(params or {})}
        while url is not None:
            index = len(pages)
            stored = stored_pages[index] if index < len(stored_pages) else None
            if stored is not None and stored.get("url") != (url if index else None):
                stored = None
            page = self.client.get(
                url,
                stream=STREAM,
                owner=owner,
                params=query,
                etag=sent_etag(stored["etag"]) if stored and stored.get("etag") else None,
            )
            if page.not_modified and stored is not None:
                pages.append(stored)
                login = stored.get("owner")
                repositories += [expand(entry, login) for entry in stored["repositories"]]
                url = stored.get("next")
            else:
                found = [page.data] if single else (items or _bare)(page.data)
                etag = stored_etag(page.etag) if page.etag else None
                if page.next_url is None and len(found) >= PER_PAGE:
                    # A full last page: a repository added after it would only show in a Link
                    # header, which a 304 does not carry. Ask for it in full next run.
                    etag = None
                # The owner of the page's first repository, once for the page's entries.
                login = found[0]["owner"]["login"] if found else None
                pages.append(
                    {
                        "url": url if index else None,
                        "etag": etag,
                        "next": page.next_url,
                        **({"owner": login} if login else {}),
                        "repositories": [compact(r, login) for r in found],
                    }
                )
                repositories += found
                url = page.next_url
            query = None  # the next link carries every query parameter already
        self.listings[key] = {"path": path, "pages": pages}
        return repositories

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


def _bare(data: Any) -> list[dict[str, Any]]:
    return data if isinstance(data, list) else []


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")
