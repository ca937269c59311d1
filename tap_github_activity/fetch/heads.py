"""Branch heads: what the change probe and the commit walk know of a selected branch."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "GLOB_CHARACTERS",
    "HEADS_PREFIX",
    "HEAD_FRAGMENT",
    "REFS_PAGE_SIZE",
    "Head",
    "Newest",
    "RepositoryChanges",
    "head_from_ref",
    "read_oid",
    "stored_oid",
]

REFS_PAGE_SIZE = 100
HEADS_PREFIX = "refs/heads/"
GLOB_CHARACTERS = frozenset("*?[")
HEAD_FRAGMENT = "fragment Head on Ref { name target { oid ... on Commit { committedDate } } }"


@dataclass(frozen=True)
class Head:
    """A selected branch and the commit it points at."""

    name: str
    oid: str
    committed_at: str

    def bookmark(self) -> dict[str, str]:
        """What state keeps for the branch."""
        return {"head": self.oid, "committed_at": self.committed_at}


@dataclass(frozen=True)
class Newest:
    """The first item of a listing ordered newest first: its time and database id."""

    at: str  # GitHub's timestamp (YYYY-MM-DDTHH:MM:SSZ: orders as a string)
    database_id: int


@dataclass(frozen=True)
class RepositoryChanges:
    """What the probe saw of one repository."""

    # The newest pull request update; None when the repository has none (or it was not asked).
    newest_pull_update: datetime | None
    # The selected branches' heads; None when not asked, or when the branches did not fit one
    # refs page (the stream lists them itself).
    heads: tuple[Head, ...] | None
    # The default branch's head commit (contributor statistics); None: not asked, or none.
    default_head: str | None = None
    # Whether issues were asked, and the most recently updated issue (None: no issue).
    issues_asked: bool = False
    newest_issue: Newest | None = None
    # Whether deployments were asked: the newest created one (None: no deployment), and the
    # latest status id (None: no status) of each open deployment asked, by node id (one
    # GitHub no longer shows is left out).
    deployments_asked: bool = False
    newest_deployment: Newest | None = None
    latest_statuses: Mapping[str, str | None] = field(default_factory=dict)


# A git object id in hex: SHA-1 (40 digits) or SHA-256 (64).
_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def stored_oid(oid: str) -> str:
    """A commit id as the state keeps it: its bytes in base64 (27 characters for 40 digits)."""
    if not _OID.fullmatch(oid):
        return oid
    return base64.urlsafe_b64encode(bytes.fromhex(oid)).decode().rstrip("=")


def read_oid(stored: str) -> str:
    """A commit id the state keeps, in hex (an earlier version kept it so: as it is)."""
    if _OID.fullmatch(stored):
        return stored
    try:
        oid = base64.urlsafe_b64decode(stored + "=" * (-len(stored) % 4)).hex()
    except (binascii.Error, ValueError):
        return stored
    return oid if stored_oid(oid) == stored else stored


def head_from_ref(ref: Mapping[str, Any] | None) -> Head | None:
    """The branch and commit of a `...Head` ref (None: no ref, or not a commit)."""
    target = (ref or {}).get("target") or {}
    if not ref or "committedDate" not in target:
        return None  # no branch, or a ref that does not point at a commit
    return Head(ref["name"], target["oid"], target["committedDate"])
