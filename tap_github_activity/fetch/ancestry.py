"""Where a branch's new history ends: GitHub's comparison of its previous and new heads
(GraphQL `Ref.compare`, riding in the walk's first query; REST compare for a force-push's merge
base), never a guess from commit dates. docs/design-notes.md has the cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tap_github_activity.client import GitHubClient
from tap_github_activity.errors import NotAccessibleError

__all__ = [
    "COMPARE_SELECTION",
    "Ancestry",
    "compare_alias",
    "from_graphql",
    "from_rest",
    "rest_ancestry",
]

# Asked of the branch's ref: no connection, so it adds no point to the query it rides in.
COMPARE_SELECTION = "target { oid } compare(headRef: $%s) { status aheadBy behindBy }"


@dataclass(frozen=True)
class Ancestry:
    """How the new head relates to the previous one."""

    status: str  # "fast-forward", "diverged", "not-ahead" (behind or identical), "unknown"
    new_commits: int | None = None  # commits the new head has and the previous lacks
    merge_base: str | None = None  # for "diverged": where the histories part

    @property
    def nothing_new(self) -> bool:
        """The branch went back to (or stayed at) a commit the previous head contains."""
        return self.status == "not-ahead"

    def stop_at(self) -> str | None:
        """The commit whose history an earlier run read, beside the previous head."""
        return self.merge_base if self.status == "diverged" else None


UNKNOWN = Ancestry("unknown")

# GraphQL compares the head named by headRef (the previous head) against the ref (the new head):
# BEHIND means the previous head is behind, i.e. the branch fast-forwarded.
_GRAPHQL_STATUS = {
    "BEHIND": "fast-forward",
    "DIVERGED": "diverged",
    "AHEAD": "not-ahead",
    "IDENTICAL": "not-ahead",
}
# REST compares {previous}...{new}: "ahead" means the new head is ahead of the previous one.
_REST_STATUS = {
    "ahead": "fast-forward",
    "diverged": "diverged",
    "behind": "not-ahead",
    "identical": "not-ahead",
}


def compare_alias(alias: str, branch_variable: str, previous_variable: str) -> str:
    """A query alias reading the branch's ref and its comparison with the previous head."""
    return (
        f"{alias}: ref(qualifiedName: ${branch_variable}) "
        f"{{ {COMPARE_SELECTION % previous_variable} }}"
    )


def from_graphql(ref: Mapping[str, Any] | None, head: str) -> Ancestry | None:
    """The comparison a `compare_alias` answered; None when it cannot be used as is (branch
    gone, the ref moved again since `head` was read, or a force-push, whose merge base only REST
    gives)."""
    if not ref or (ref.get("target") or {}).get("oid") != head:
        return None
    compared = ref.get("compare")
    if compared is None:
        return UNKNOWN  # GitHub does not know the previous head any more
    status = _GRAPHQL_STATUS.get(compared["status"])
    if status is None or status == "diverged":
        return None
    return Ancestry(status, new_commits=int(compared["behindBy"]))


def from_rest(body: Mapping[str, Any]) -> Ancestry:
    """The comparison `GET .../compare/{previous}...{head}` answered."""
    status = _REST_STATUS.get(str(body.get("status")), "unknown")
    if status == "unknown":
        return UNKNOWN
    base = (body.get("merge_base_commit") or {}).get("sha")
    return Ancestry(status, new_commits=int(body["ahead_by"]), merge_base=base)


def rest_ancestry(
    client: GitHubClient, owner: str, repo: str, previous: str, head: str, *, stream: str
) -> Ancestry:
    """GitHub's REST comparison of the two heads (one point; one commit asked for: only the
    status, counts and merge base are read). A previous head GitHub no longer has, or
    histories with nothing in common, answer 404: unknown."""
    try:
        page = client.get(
            f"/repos/{owner}/{repo}/compare/{previous}...{head}",
            stream=stream,
            owner=owner,
            params={"per_page": 1},
        )
    except NotAccessibleError as exc:
        if exc.status != 404:
            raise
        return UNKNOWN
    return from_rest(page.data)
