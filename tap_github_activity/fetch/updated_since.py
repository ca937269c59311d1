"""Reading a GitHub listing that has `since` (updated at or after) and `sort=updated`, exactly
and cheaply (GET /repos/{o}/{r}/issues and /repos/{o}/{r}/issues/comments).

- Keyset, not page numbers: every request is page 1 with `since` set to the last `updated_at`
  read, ascending. An item updated during the walk moves to the end and is read there; no item
  slides onto a page already read (page numbers would lose it), and no request goes deep (GitHub
  refuses deep `page=` on /issues/comments with 422). Only a group of more than one page of
  items updated in the same second is walked with page numbers.
- `since` is inclusive: the items at the bookmark's second come again and are skipped by id.
  An item updated before the bookmark was read at the last sync (timestamps are given at
  writing), so only a change within the same second as the bookmark, after the read, is missed.
- The bookmark keeps the last request's `since` and ETag: a sync with no change asks exactly
  that request again and GitHub answers 304, free.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_github_activity.client import PER_PAGE, GitHubClient

__all__ = ["UpdatedSince"]


@dataclass
class UpdatedSince:
    """One listing read from a bookmark; `bookmark()` is the next one once every item is read."""

    client: GitHubClient
    path: str
    stream: str
    owner: str
    params: Mapping[str, Any]
    saved: Mapping[str, Any]
    _since: str | None = field(init=False, default=None)
    _etag: str | None = field(init=False, default=None)
    # Whether that request's answer was a full page, and its last item's updated_at: a full
    # page answering 304 may have new items after it.
    _full: bool = field(init=False, default=False)
    _last: str | None = field(init=False, default=None)
    _latest: str | None = field(init=False, default=None)
    _latest_ids: set[int] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        if self.saved.get("path") == self.path:
            self._since = self.saved.get("since")
            self._etag = self.saved.get("etag")
            self._full = bool(self.saved.get("full"))
            self._last = self.saved.get("last")
            self._latest = self.saved.get("latest")
            self._latest_ids = set(self.saved.get("latest_ids") or ())

    def items(self) -> Iterator[dict[str, Any]]:
        """The items updated since the last read, oldest change first."""
        since, page_number, etag = self._since, 1, self._etag
        while True:
            params = {**self.params, "sort": "updated", "direction": "asc", "per_page": PER_PAGE}
            if since is not None:
                params["since"] = since
            if page_number > 1:
                params["page"] = page_number
            page = self.client.get(
                self.path, stream=self.stream, owner=self.owner, params=params, etag=etag
            )
            if page.not_modified:
                if not self._full or self._last is None:
                    return  # the whole answer is as it was
                # The page is as it was, and full: what follows it is asked.
                since, page_number = self._after(since, page_number, self._last)
                etag = None
                continue
            items: list[dict[str, Any]] = page.data
            for item in items:
                if self._seen(item):
                    continue
                self._remember(item)
                yield item
            # The next sync asks this request again (with page one's ETag only).
            self._since, self._etag = since, page.etag if page_number == 1 else None
            self._full = len(items) >= PER_PAGE
            self._last = str(items[-1]["updated_at"]) if items else None
            if page.next_url is None or self._last is None:
                return
            since, page_number = self._after(since, page_number, self._last)
            etag = None

    @staticmethod
    def _after(since: str | None, page_number: int, last: str) -> tuple[str | None, int]:
        """The request after a page whose last item was updated at `last`: from `last` on,
        or the next page when the whole page was updated in the same second."""
        return (since, page_number + 1) if last == since else (last, 1)

    def bookmark(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "since": self._since,
            "etag": self._etag,
            "full": self._full,
            "last": self._last,
            "latest": self._latest,
            "latest_ids": sorted(self._latest_ids),
        }

    def _seen(self, item: Mapping[str, Any]) -> bool:
        # GitHub's timestamps (YYYY-MM-DDTHH:MM:SSZ) order as strings.
        updated = str(item["updated_at"])
        if self._latest is None or updated > self._latest:
            return False
        return updated < self._latest or int(item["id"]) in self._latest_ids

    def _remember(self, item: Mapping[str, Any]) -> None:
        updated = str(item["updated_at"])
        if self._latest is None or updated > self._latest:
            self._latest, self._latest_ids = updated, set()
        self._latest_ids.add(int(item["id"]))
