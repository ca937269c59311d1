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
  that request again and GitHub answers 304, free. It is kept in the stream's partition of the
  repository, without the listing's path and without the values that are their default
  (`last` when it is `latest`); a bookmark of an earlier version, with its path, is read when
  the path is the listing's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_github_activity.client import PER_PAGE, GitHubClient
from tap_github_activity.conditional import sent_etag, stored_etag

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
    # Whether `saved` is this listing's bookmark (an earlier one's is not read).
    resumed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        saved = self.saved
        if saved and saved.get("path", self.path) == self.path:
            self.resumed = True
            self._since = saved.get("since")
            self._etag = saved.get("etag")
            self._full = bool(saved.get("full"))
            self._latest = saved.get("latest")
            self._last = saved.get("last", self._latest)
            self._latest_ids = set(saved.get("latest_ids") or ())

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
                self.path,
                stream=self.stream,
                owner=self.owner,
                params=params,
                etag=sent_etag(etag) if etag else None,
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
            kept = stored_etag(page.etag) if page.etag and page_number == 1 else None
            self._since, self._etag = since, kept
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
        """What the next sync starts from (values at their default left out)."""
        values: dict[str, Any] = {
            "since": self._since,
            "etag": self._etag,
            "full": self._full or None,
            "latest": self._latest,
            "latest_ids": sorted(self._latest_ids) or None,
        }
        kept: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
        if self._last != self._latest:
            kept["last"] = self._last
        return kept

    def has_read(self, updated_at: str, item_id: int) -> bool:
        """Whether the bookmark's reads include the item with this id updated then."""
        return self._seen({"updated_at": updated_at, "id": item_id})

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
