"""Issues and issue comments of one repository (streams `issues` and `issue_comments`).

Both listings are read by `updated_at` since the last sync (fetch/updated_since.py): REST is the
cheapest exact way, as its conditional requests make a sync with no change free, and
/issues/comments is the only repository-wide comment listing (GraphQL has none).

GitHub's /issues lists pull requests too (with a `pull_request` key): they are not emitted here
(the `pull_requests` stream has them) but tell which numbers are pull requests. A comment does
not say whether its parent is a pull request; a number this sync's issue listing did not show
(an edited comment on an older thread), or every number when `issues` is not selected, is asked
of GraphQL (`issueOrPullRequest`, 1 point for up to 100 numbers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tap_github_activity.client import GitHubClient
from tap_github_activity.fetch.records import Repository, pick, without_nul
from tap_github_activity.fetch.updated_since import UpdatedSince

__all__ = ["COMMENT_FIELDS", "ISSUE_FIELDS", "IssuesFetcher"]

FAMILY = "issues"
STREAMS = ("issues", "issue_comments")
KIND_LOOKUP_BATCH = 100

# Record field -> dotted path in GitHub's issue payload (the schema is derived from these).
ISSUE_FIELDS = {
    "id": "id",
    "node_id": "node_id",
    "number": "number",
    "title": "title",
    "state": "state",
    "state_reason": "state_reason",
    "issue_type": "type.name",
    "milestone_title": "milestone.title",
    "milestone_number": "milestone.number",
    "milestone_due_on": "milestone.due_on",
    "author_login": "user.login",
    "author_id": "user.id",
    "author_association": "author_association",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "closed_at": "closed_at",
    "comment_count": "comments",
    "reactions_total": "reactions.total_count",
    "locked": "locked",
    "html_url": "html_url",
    "body": "body",
}

# Record field -> dotted path in GitHub's issue comment payload.
COMMENT_FIELDS = {
    "id": "id",
    "node_id": "node_id",
    "author_login": "user.login",
    "author_id": "user.id",
    "author_association": "author_association",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "html_url": "html_url",
    "body": "body",
}


class IssuesFetcher:
    """Reads a repository's issues and comments changed since its bookmarks.

    `fetch` yields (stream name, record) rows; each stream's new bookmark is put into
    `bookmarks_out` once its listing has been read to the end (a failure leaves the old one).
    """

    family = FAMILY
    streams = STREAMS

    def __init__(
        self,
        client: GitHubClient,
        *,
        include_bodies: bool = True,
        selected: Iterable[str] = STREAMS,
    ) -> None:
        self.client = client
        self.include_bodies = include_bodies
        # Without `issues`, every comment's parent kind is asked of GraphQL.
        self.selected = frozenset(selected) & set(STREAMS)

    def fetch(
        self,
        repository: Repository,
        bookmarks: Mapping[str, Any],
        bookmarks_out: dict[str, Any],
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        # number -> whether it is a pull request, as this sync's issue listing shows them
        kinds: dict[int, bool] = {}
        if "issues" in self.selected:
            yield from self._issues(repository, bookmarks, bookmarks_out, kinds)
        if "issue_comments" in self.selected:
            yield from self._comments(repository, bookmarks, bookmarks_out, kinds)

    def _issues(
        self,
        repository: Repository,
        bookmarks: Mapping[str, Any],
        bookmarks_out: dict[str, Any],
        kinds: dict[int, bool],
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        issues = UpdatedSince(
            self.client,
            f"/repos/{repository.owner}/{repository.name}/issues",
            "issues",
            repository.owner,
            {"state": "all"},
            bookmarks.get("issues") or {},
        )
        for payload in issues.items():
            is_pull = "pull_request" in payload
            kinds[int(payload["number"])] = is_pull
            if not is_pull:
                yield "issues", self._issue(repository, payload)
        bookmarks_out["issues"] = issues.bookmark()

    def _comments(
        self,
        repository: Repository,
        bookmarks: Mapping[str, Any],
        bookmarks_out: dict[str, Any],
        kinds: dict[int, bool],
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        comments = UpdatedSince(
            self.client,
            f"/repos/{repository.owner}/{repository.name}/issues/comments",
            "issue_comments",
            repository.owner,
            {},
            bookmarks.get("issue_comments") or {},
        )
        pending: list[dict[str, Any]] = []
        for payload in comments.items():
            record = self._comment(repository, payload)
            number = record["issue_number"]
            if number in kinds:
                record["is_pull_request"] = kinds[number]
                yield "issue_comments", record
            else:
                pending.append(record)
        if pending:
            kinds.update(self._kinds(repository, {r["issue_number"] for r in pending}))
            for record in pending:
                record["is_pull_request"] = kinds.get(record["issue_number"])
                yield "issue_comments", record
        bookmarks_out["issue_comments"] = comments.bookmark()

    def _issue(self, repository: Repository, payload: Mapping[str, Any]) -> dict[str, Any]:
        record = pick(payload, ISSUE_FIELDS)
        record["labels"] = [label["name"] for label in payload.get("labels") or []]
        record["assignees"] = [user["login"] for user in payload.get("assignees") or []]
        if not self.include_bodies:
            record["body"] = None
        return {**repository.context, **without_nul(record)}

    def _comment(self, repository: Repository, payload: Mapping[str, Any]) -> dict[str, Any]:
        record = pick(payload, COMMENT_FIELDS)
        # issue_url ends with the issue's (or pull request's) number.
        record["issue_number"] = int(str(payload["issue_url"]).rsplit("/", 1)[1])
        record["is_pull_request"] = None
        if not self.include_bodies:
            record["body"] = None
        return {**repository.context, **without_nul(record)}

    def _kinds(self, repository: Repository, numbers: Iterable[int]) -> dict[int, bool]:
        """number -> is a pull request, asked of GraphQL; a number GitHub no longer knows (a
        deleted issue) is left out."""
        kinds: dict[int, bool] = {}
        ordered = sorted(numbers)
        for start in range(0, len(ordered), KIND_LOOKUP_BATCH):
            batch = ordered[start : start + KIND_LOOKUP_BATCH]
            fields = " ".join(
                f"n{n}: issueOrPullRequest(number: {n}) {{ __typename }}" for n in batch
            )
            query = (
                "query($owner: String!, $name: String!) { "
                f"repository(owner: $owner, name: $name) {{ {fields} }} rateLimit {{ cost }} }}"
            )
            data = self.client.graphql(
                query,
                {"owner": repository.owner, "name": repository.name},
                stream="issue_comments",
                owner=repository.owner,
            )
            found = data.get("repository") or {}
            for number in batch:
                node = found.get(f"n{number}")
                if node is not None:
                    kinds[number] = node["__typename"] == "PullRequest"
        return kinds
