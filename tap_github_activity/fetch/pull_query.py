"""The GraphQL side of pull requests and reviews: query text, page sizes and records.

The page query (a page of a repository's pull requests, newest update first, each with its
labels, review requests and first page of reviews), the follow-up query that pages the reviews
overflowing it, and the pull_requests and pull_request_reviews rows built from the nodes they
return. The walk that sends them is in fetch/pulls.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tap_github_activity.cost_check import QueryFamily, aliases, register
from tap_github_activity.timestamps import parse_time

__all__ = [
    "ACTOR_FRAGMENT",
    "FOLLOW_UP_BATCH",
    "FOLLOW_UP_PAGE_SIZE",
    "LIST_PAGE_SIZE",
    "PAGE_QUERY",
    "PAGE_SIZE",
    "PAGE_SIZES",
    "REVIEWS_PAGE_SIZE",
    "Pull",
    "actor_login",
    "follow_up_query",
    "pull_request_record",
    "review_records",
]

# Cost (GitHub's rule: a request per connection page, nested pages multiplied by their parent's
# page size; the sum / 100, rounded, at least 1). GitHub does not say whether a connection asked
# for its `totalCount` alone counts: the sizes hold if it does. A page of P pull requests has
# five nested connections (labels, reviewRequests, reviews; the commits and comments counts):
# 1 + 5P requests, 1 point for P <= 29 (146 requests; 88 if counts were free), 2 for P = 49.
# Nested page sizes do not change the cost; a connection nested in a review would multiply by
# the reviews' page size (a review's comment count: 29 x 50 more requests, 15 points a page),
# so reviews carry none.
PAGE_SIZE = 29
NESTED_CONNECTIONS = 5
REVIEWS_PAGE_SIZE = 50
LIST_PAGE_SIZE = 100
# Follow-up queries page the reviews of pull requests whose reviews overflow the nested page;
# each alias is one top-level connection, so up to 149 of them cost 1 point.
FOLLOW_UP_PAGE_SIZE = 100
FOLLOW_UP_BATCH = 100

# An author with the login and database id REST gives (`...ActorFields`).
ACTOR_FRAGMENT = """
fragment ActorFields on Actor {
  __typename
  login
  ... on User { databaseId }
  ... on Bot { databaseId }
  ... on Mannequin { databaseId }
  ... on Organization { databaseId }
}
"""
_FRAGMENTS = (
    ACTOR_FRAGMENT
    + """
fragment ReviewFields on PullRequestReview {
  id
  fullDatabaseId
  state
  submittedAt
  body
  url
  author { ...ActorFields }
  commit { oid }
}
"""
)

PAGE_QUERY = (
    """
query PullRequestPage($owner: String!, $name: String!, $cursor: String, $pageSize: Int!,
                      $listSize: Int!, $reviewsSize: Int!) {
  rateLimit { cost }
  repository(owner: $owner, name: $name) {
    pullRequests(first: $pageSize, after: $cursor, states: [OPEN, CLOSED, MERGED],
                 orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        fullDatabaseId
        number
        title
        state
        isDraft
        merged
        url
        createdAt
        updatedAt
        closedAt
        mergedAt
        mergeCommit { oid }
        author { ...ActorFields }
        mergedBy { ...ActorFields }
        baseRefName
        headRefName
        additions
        deletions
        changedFiles
        commits { totalCount }
        comments { totalCount }
        labels(first: $listSize) { totalCount nodes { name } }
        reviewRequests(first: $listSize) {
          totalCount
          nodes {
            requestedReviewer {
              __typename
              ... on User { login }
              ... on Bot { login }
              ... on Mannequin { login }
              ... on Team { slug }
            }
          }
        }
        reviews(first: $reviewsSize) {
          pageInfo { hasNextPage endCursor }
          nodes { ...ReviewFields }
        }
      }
    }
  }
}
"""
    + _FRAGMENTS
)
PAGE_SIZES = {"pageSize": PAGE_SIZE, "listSize": LIST_PAGE_SIZE, "reviewsSize": REVIEWS_PAGE_SIZE}
register(
    QueryFamily(
        "PullRequestPage",
        "pull request page",
        lambda _query, variables: 1 + NESTED_CONNECTIONS * int(variables["pageSize"]),
        page_variable="pageSize",
        designed=PAGE_SIZE,
        smaller="pages of {size} pull requests",
    )
)


def follow_up_query(count: int) -> str:
    """Reviews of `count` pull requests, each from its own cursor ($n<i> number, $c<i> cursor)."""
    params = "".join(f", $n{i}: Int!, $c{i}: String" for i in range(count))
    fields = "".join(
        f"    p{i}: pullRequest(number: $n{i}) {{\n"
        f"      reviews(first: {FOLLOW_UP_PAGE_SIZE}, after: $c{i}) {{\n"
        "        pageInfo { hasNextPage endCursor }\n"
        "        nodes { ...ReviewFields }\n"
        "      }\n"
        "    }\n"
        for i in range(count)
    )
    return (
        f"query PullRequestReviews($owner: String!, $name: String!{params}) {{\n"
        "  rateLimit { cost }\n"
        "  repository(owner: $owner, name: $name) {\n"
        f"{fields}"
        "  }\n"
        "}\n" + _FRAGMENTS
    )


# Each alias pages one pull request's reviews, with nothing nested: one request.
register(
    QueryFamily(
        "PullRequestReviews", "review follow-up", lambda _query, variables: aliases(variables, "n")
    )
)


# -- records -----------------------------------------------------------------------------------


def actor_login(actor: dict[str, Any] | None) -> str | None:
    """The login as REST spells it: GraphQL names a bot `dependabot`, REST `dependabot[bot]`."""
    if not actor or actor.get("login") is None:
        return None
    login = str(actor["login"])
    if actor.get("__typename") == "Bot" and not login.endswith("[bot]"):
        return f"{login}[bot]"
    return login


def _database_id(node: dict[str, Any]) -> int | None:
    # fullDatabaseId is GitHub's BigInt (a string); `databaseId` is deprecated for 32-bit overflow.
    value = node.get("fullDatabaseId")
    return int(value) if value is not None else None


@dataclass
class Pull:
    """One pull request as the page gave it, with every one of its submitted reviews."""

    node: dict[str, Any]
    reviews: list[dict[str, Any]] = field(default_factory=list)

    @property
    def updated_at(self) -> str:
        """GitHub's updatedAt string."""
        return str(self.node["updatedAt"])

    def add_reviews(self, nodes: Iterable[dict[str, Any] | None]) -> None:
        """Keep submitted reviews: a PENDING one is its author's unpublished draft."""
        self.reviews.extend(n for n in nodes if n is not None and n.get("state") != "PENDING")


def pull_request_record(pull: Pull) -> dict[str, Any]:
    """The pull_requests record of one pull request."""
    node, reviews = pull.node, pull.reviews
    author = node.get("author") or {}
    requested = [
        (r or {}).get("requestedReviewer") or {}
        for r in (node.get("reviewRequests") or {}).get("nodes") or []
    ]
    submitted = [r["submittedAt"] for r in reviews if r.get("submittedAt")]
    return {
        "id": _database_id(node),
        "node_id": node["id"],
        "number": node["number"],
        "title": node["title"],
        "state": str(node["state"]).lower(),
        "draft": node["isDraft"],
        "merged": node["merged"],
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "closed_at": node.get("closedAt"),
        "merged_at": node.get("mergedAt"),
        "merge_commit_sha": (node.get("mergeCommit") or {}).get("oid"),
        "author_login": actor_login(author),
        "author_id": author.get("databaseId"),
        "author_type": author.get("__typename"),
        "merged_by_login": actor_login(node.get("mergedBy")),
        "base_ref": node["baseRefName"],
        "head_ref": node["headRefName"],
        "additions": node["additions"],
        "deletions": node["deletions"],
        "changed_files": node["changedFiles"],
        "commit_count": node["commits"]["totalCount"],
        "comment_count": node["comments"]["totalCount"],
        "labels": [
            label["name"] for label in (node.get("labels") or {}).get("nodes") or [] if label
        ],
        "requested_reviewers": [
            actor_login(r) for r in requested if r.get("__typename") != "Team" and r.get("login")
        ],
        "requested_teams": [r["slug"] for r in requested if r.get("__typename") == "Team"],
        "html_url": node["url"],
        "review_count": len(reviews),
        "reviewers": sorted({login for r in reviews if (login := actor_login(r.get("author")))}),
        "approval_count": sum(r["state"] == "APPROVED" for r in reviews),
        "changes_requested_count": sum(r["state"] == "CHANGES_REQUESTED" for r in reviews),
        "first_review_at": min(submitted, key=parse_time) if submitted else None,
    }


def review_records(pull: Pull) -> list[dict[str, Any]]:
    """The pull_request_reviews records of one pull request."""
    rows = []
    for review in pull.reviews:
        author = review.get("author") or {}
        rows.append(
            {
                "id": _database_id(review),
                "node_id": review["id"],
                "pull_request_id": _database_id(pull.node),
                "pull_request_number": pull.node["number"],
                "author_login": actor_login(author),
                "author_id": author.get("databaseId"),
                "state": review["state"],
                "submitted_at": review.get("submittedAt"),
                "body_length": len(review.get("body") or ""),
                "commit_id": (review.get("commit") or {}).get("oid"),
                "html_url": review["url"],
                "updated_at": pull.updated_at,
            }
        )
    return rows
