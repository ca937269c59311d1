"""The state's layout: per-repository streams keep one partition per repository id.

singer-sdk names a partition by its stream context unless a stream says which keys name it
(`state_partitioning_keys`). The context also carries the owner, name and default branch, which
change when a repository is renamed or its default branch is: a partition named by them would be
lost then (the repository read again in full, the old partition kept forever), and they repeat in
every partition of every stream. So a partition is named by the repository id alone; one that
holds nothing but its name is not kept (sdk_seams.finalize_partition). A state written before
(partitions named by the whole context, ETags under "conditional") is brought to this layout
when it is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tap_github_activity.conditional import STATE_KEY

__all__ = ["PARTITION_KEYS", "partition_of", "partitions_by_repository", "upgrade"]

PARTITION_KEYS = ("repo_id",)
# The key an earlier version kept ETags under (conditional.STATE_KEY since).
_OLD_ETAGS_KEY = "conditional"


def upgrade(state: Mapping[str, Any]) -> dict[str, Any]:
    """`state` with every partition named by its repository id only (a copy; the input is not
    changed). Of two partitions of one repository (renamed under the older layout), the later
    one, written last, is kept."""
    upgraded = dict(state)
    bookmarks = state.get("bookmarks")
    if not isinstance(bookmarks, Mapping):
        return upgraded
    upgraded["bookmarks"] = {
        stream: _partitioned(bookmark) if isinstance(bookmark, Mapping) else bookmark
        for stream, bookmark in bookmarks.items()
    }
    return upgraded


def _partitioned(bookmark: Mapping[str, Any]) -> dict[str, Any]:
    partitions = bookmark.get("partitions")
    if not isinstance(partitions, list):
        return _renamed(bookmark)
    by_key: dict[Any, dict[str, Any]] = {}
    for partition in partitions:
        context = partition.get("context") if isinstance(partition, Mapping) else None
        if not isinstance(context, Mapping) or not set(PARTITION_KEYS) <= set(context):
            by_key[id(partition)] = partition  # not a repository's: as it was
            continue
        named = {key: context[key] for key in PARTITION_KEYS}
        by_key.pop(tuple(named.values()), None)  # the later one wins, in the later place
        by_key[tuple(named.values())] = {**_renamed(partition), "context": named}
    return {**_renamed(bookmark), "partitions": list(by_key.values())}


def _renamed(state: Mapping[str, Any]) -> dict[str, Any]:
    """A stream's or partition's state with its ETags under this version's key."""
    renamed = dict(state)
    if _OLD_ETAGS_KEY in renamed:
        old = renamed.pop(_OLD_ETAGS_KEY)
        renamed.setdefault(STATE_KEY, old)
    return renamed


def partition_of(stream_state: Mapping[str, Any], repo_id: int) -> Mapping[str, Any]:
    """A repository's partition of a stream's state, without making one (empty: none)."""
    for partition in stream_state.get("partitions") or []:
        if (partition.get("context") or {}).get("repo_id") == repo_id:
            return partition  # type: ignore[no-any-return]
    return {}


def partitions_by_repository(
    stream_state: Mapping[str, Any], key: str
) -> Iterator[tuple[int, Any]]:
    """(repository id, value of `key`) of each partition of a stream's state that has it."""
    for partition in stream_state.get("partitions") or []:
        context = partition.get("context") or {}
        if "repo_id" in context and partition.get(key) is not None:
            yield int(context["repo_id"]), partition[key]
