"""Conditional requests across runs: every ETag the tap keeps goes through `Conditional`.

One layout, in the state of the stream that reads the endpoint (per repository partition, or
the stream's own for a run-wide one): `{"etags": {request key: entry}}`, where a request key is
the path with its query (without paging), less the `scope` all the entry's paths share (a
partition's repository), and an entry is `{"etags": [...], "pages": n, ...facts}`, kept as its
one ETag or its list of ETags when it has nothing else. An entry holds the ETags of its first
`MAX_STORED_ETAGS` pages, so the state is bounded per repository and endpoint, never per
record; `pages` only when the listing had more pages than that. An answer's ETag is kept only
once its rows were emitted (the fetcher yields the new state after them): an interrupted run
asks again in full. (An earlier version's `"conditional"` key is renamed when the state is
loaded: state_layout.py.)

GitHub's ETags are a hash in hex, weak (`W/"<hex>"`) or strong (`"<hex>"`): kept as the hash's
bytes in base64 after a mark of the kind (`stored_etag`), 30 characters of JSON instead of 48,
and sent as GitHub gave them (`sent_etag`); any other form is kept as it is. ETags kept whole
by an earlier version are sent as they are.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tap_github_activity.client import PER_PAGE, GitHubClient, Page

__all__ = [
    "MAX_STORED_ETAGS",
    "STATE_KEY",
    "Conditional",
    "entries_kept",
    "request_key",
    "sent_etag",
    "stored_etag",
]

STATE_KEY = "etags"
# Pages whose ETags an entry keeps.
MAX_STORED_ETAGS = 8

Entry = Mapping[str, Any]

# A hash in lowercase hex, of whole bytes, in GitHub's weak or strong ETag form.
_HEX_ETAG = re.compile(r'^(W/)?"((?:[0-9a-f]{2})+)"$')
# The marks of a compact ETag (GitHub's always start with W/ or a quote).
_WEAK, _STRONG = "~", "="


def stored_etag(etag: str) -> str:
    """An ETag as the state keeps it (`sent_etag` gives it back exactly)."""
    found = _HEX_ETAG.match(etag)
    if found is None:
        return etag
    digest = base64.urlsafe_b64encode(bytes.fromhex(found.group(2))).decode().rstrip("=")
    return (_WEAK if found.group(1) else _STRONG) + digest


def sent_etag(stored: str) -> str:
    """An ETag the state keeps, as GitHub gave it."""
    if not stored or stored[0] not in (_WEAK, _STRONG):
        return stored
    try:
        padded = stored[1:] + "=" * (-len(stored[1:]) % 4)
        digest = base64.b64decode(padded, altchars=b"-_", validate=True).hex()
    except (binascii.Error, ValueError):
        return stored
    etag = ('W/"' if stored[0] == _WEAK else '"') + digest + '"'
    return etag if stored_etag(etag) == stored else stored  # only what stored_etag made


def entries_kept(entries: Mapping[str, Entry]) -> dict[str, Any]:
    """Entries as the state keeps them: one with nothing but its ETags as the ETag, or the
    list of them."""
    kept: dict[str, Any] = {}
    for key, entry in entries.items():
        etags = entry.get("etags")
        if set(entry) == {"etags"} and isinstance(etags, list):
            kept[key] = etags[0] if len(etags) == 1 else list(etags)
        else:
            kept[key] = dict(entry)
    return kept


def _entry(kept: Any) -> Entry:
    """An entry as kept (an ETag, a list of them, or the whole entry), whole."""
    if isinstance(kept, str):
        return {"etags": [kept]}
    if isinstance(kept, list):
        return {"etags": list(kept)}
    return dict(kept or {})


def request_key(path: str, params: Mapping[str, Any] | None = None, scope: str = "") -> str:
    """What identifies a request across runs: its path (less `scope`) and query, sorted."""
    query = "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
    path = path.removeprefix(scope) if scope else path
    return f"{path}?{query}" if query else path


class Conditional:
    """The ETags of one state entry: asked with, renewed from the answers."""

    def __init__(
        self, client: GitHubClient, state: Mapping[str, Any] | None, *, scope: str = ""
    ) -> None:
        self.client = client
        self.scope = scope
        saved = (state or {}).get(STATE_KEY) or {}
        self.saved: dict[str, Entry] = {key: _entry(kept) for key, kept in saved.items()}
        self.kept: dict[str, dict[str, Any]] = {}

    def get(
        self,
        path: str,
        *,
        stream: str,
        owner: str,
        params: Mapping[str, Any] | None = None,
        reusable: Callable[[Entry], bool] = lambda entry: True,
        **facts: Any,
    ) -> Page:
        """One request, with the ETag of its last answer when `reusable` says so; the new
        answer's ETag (and `facts`) are kept for the next run, or forgotten if it has none."""
        key = request_key(path, params, self.scope)
        saved = self.saved.get(key)
        etags = list(saved.get("etags") or []) if saved and reusable(saved) else []
        page = self.client.get(
            path,
            stream=stream,
            owner=owner,
            params=params,
            etag=sent_etag(etags[0]) if etags else None,
        )
        if page.not_modified or (page.status == 202 and saved):  # 202: nothing new to keep
            self.kept[key] = dict(saved or {})
        elif page.status == 200 and page.etag:
            self.kept[key] = {"etags": [stored_etag(page.etag)], **facts}
        else:
            self.kept.pop(key, None)
        return page

    def pages(
        self,
        path: str,
        *,
        stream: str,
        owner: str,
        params: Mapping[str, Any] | None = None,
        fresh: bool = False,
    ) -> Iterator[Page]:
        """Every page of a listing, each asked with the ETag it answered at the last complete
        read (`fresh`: without, every page read whole): a page that did not change answers 304
        (`.not_modified`, no data), free.

        Page one's ETag alone would miss changes to older items (listings are newest first).
        When page one answers 304, no item was added or removed, so the pages hold the same
        items as before and each page's own ETag tells whether one of its items changed."""
        key = request_key(path, params, self.scope)
        saved = {} if fresh else self.saved.get(key) or {}
        previous = list(saved.get("etags") or [])
        count = int(saved.get("pages") or len(previous))
        etags: list[str] = []
        number = 1
        while True:
            stored = previous[number - 1] if number <= len(previous) else None
            page = self.client.get(
                path,
                stream=stream,
                owner=owner,
                params={**(params or {}), "per_page": PER_PAGE, "page": number},
                etag=sent_etag(stored) if stored else None,
            )
            etags.append(stored_etag(page.etag) if page.etag else stored or "")
            yield page
            # An unchanged page leaves the number of pages as it was.
            if (number >= count) if page.not_modified else page.next_url is None:
                break
            number += 1
        entry: dict[str, Any] = {"etags": etags[:MAX_STORED_ETAGS]}
        if len(etags) > MAX_STORED_ETAGS:
            entry["pages"] = len(etags)
        self.kept[key] = entry

    def note(self, path: str, params: Mapping[str, Any] | None = None, **facts: Any) -> None:
        """Facts kept with a request's ETag (learnt from its answer)."""
        entry = self.kept.get(request_key(path, params, self.scope))
        if entry is not None:
            entry.update(facts)

    def kept_for(self, path: str, params: Mapping[str, Any] | None = None) -> Entry:
        """What this run keeps for a request so far (empty: nothing)."""
        return self.kept.get(request_key(path, params, self.scope)) or {}

    def forget(self, path: str, params: Mapping[str, Any] | None = None) -> None:
        """Keep nothing for this request (its answer cannot be asked for again)."""
        self.kept.pop(request_key(path, params, self.scope), None)

    def state(self) -> dict[str, Any]:
        """What the state keeps: the entries of this run's requests (others are dropped)."""
        return {STATE_KEY: entries_kept(self.kept)}
