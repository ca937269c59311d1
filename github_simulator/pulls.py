"""Pull requests and their reviews: seeded data, GraphQL fields, ground truth and mutations.

GraphQL only (the tap reads pull requests through `repository.pullRequests`). What GitHub does and
the simulator copies:
- `pullRequests(states:, orderBy:, labels:, headRefName:, baseRefName:, first/after/...)`; with
  no orderBy the connection is in creation order. Cursors are positions, so a pull request that
  moves up (updated) during a walk shifts the later pages, as on GitHub.
- `reviews(first/after, author:, states:)` in submission order; a PENDING review is seen only by
  its author.
- A connection may be asked for `totalCount` alone without `first`/`last`; asking for its nodes
  without them is an error.
- GraphQL names a bot `dependabot` where REST says `dependabot[bot]`; bot node ids start BOT_.
- Submitting a review, merging, relabelling or editing moves the pull request's `updatedAt`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from graphql import FieldNode, GraphQLError

from github_simulator.graphql_api import (
    NODE_RESOLVERS,
    REPOSITORY_FIELDS,
    NotFoundError,
    connection,
)
from github_simulator.rest_core import can_see
from github_simulator.server import Request
from github_simulator.world import FAMILIES, Account, Repo, World, iso

__all__ = [
    "PULL_FIELDS",
    "PullRequest",
    "Review",
    "expected_pull_request_reviews",
    "expected_pull_requests",
    "merge_sha",
    "mutate_pulls",
    "pulls_of",
]

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
BOTS = ["dependabot[bot]", "renovate[bot]"]
TEAMS = ["backend", "frontend"]
LABELS = ["bug", "feature", "docs", "chore", "security", "performance"]
# Review counts of the pull requests seeded with more reviews than one nested page holds:
# one follow-up page, a full follow-up page, and two follow-up rounds.
MANY_REVIEWS = [51, 150, 175]


@dataclass
class Team:
    id: int
    organization: str
    slug: str


@dataclass
class Review:
    id: int
    author: Account
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    submitted_at: datetime
    body: str
    commit_oid: str
    comments: int

    @property
    def node_id(self) -> str:
        return f"PRR_{self.id}"


@dataclass
class PullRequest:
    id: int
    repo: Repo
    number: int
    title: str
    author: Account
    state: str  # OPEN, CLOSED, MERGED
    draft: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: Account | None = None
    base_ref: str = "main"
    head_ref: str = "feature"
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0
    commits: int = 1
    comments: int = 0
    labels: list[str] = field(default_factory=list)
    requested: list[Account | Team] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return f"PR_{self.id}"

    @property
    def url(self) -> str:
        return f"https://github.test/{self.repo.full_name}/pull/{self.number}"


@dataclass
class PullStore:
    by_repo: dict[int, list[PullRequest]] = field(default_factory=dict)


def merge_sha(pull: PullRequest) -> str:
    """The commit a merge created (REST's merge_commit_sha, GraphQL's mergeCommit.oid)."""
    return f"{pull.id:040x}"


def pulls_of(world: World) -> PullStore:
    """The family's store."""
    return world.family("pulls", PullStore)


# -- seeding -----------------------------------------------------------------------------------


def _oid(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _review(
    world: World, rng: random.Random, author: Account, state: str, submitted: datetime
) -> Review:
    return Review(
        world.new_id(),
        author,
        state,
        submitted,
        body=rng.choice(
            [
                "",
                "LGTM",
                "Please add a test.",
                "Nit: naming. " * 3,
                "Looks good overall, one question inline.",
            ]
        ),
        commit_oid=_oid(rng),
        comments=rng.choice([0, 0, 1, 2, 4]),
    )


def _reviews(
    world: World, rng: random.Random, author: Account, count: int, *, start: datetime, end: datetime
) -> list[Review]:
    users = [world.account(login) for login in USERS if login != author.login]
    span = max(int((end - start).total_seconds()), count + 1)
    moments = sorted(start + timedelta(seconds=rng.randint(1, span)) for _ in range(count))
    states = ["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "COMMENTED", "DISMISSED"]
    return [
        _review(world, rng, rng.choice(users), rng.choice(states), min(moment, end))
        for moment in moments
    ]


def _seed_repo(world: World, rng: random.Random, repo: Repo, count: int, many: int) -> None:
    store = pulls_of(world)
    now = world.now()
    users = [world.account(login) for login in USERS]
    bots = [world.account(login, "Bot") for login in BOTS]
    teams = [Team(world.new_id(), repo.owner.login, slug) for slug in TEAMS]
    pulls = store.by_repo.setdefault(repo.id, [])
    for index in range(count):
        number = index + 1
        # Seeded activity ends at least five minutes before the world's present.
        updated = now - timedelta(minutes=rng.randint(5, 60 * 24 * 200))
        created = updated - timedelta(minutes=rng.randint(10, 60 * 24 * 30))
        if number == count:
            state = "OPEN"  # every repository keeps an open pull request to merge later
        else:
            state = rng.choices(["OPEN", "MERGED", "CLOSED"], weights=[3, 5, 2])[0]
        author = rng.choice(bots) if rng.random() < 0.15 else rng.choice(users)
        review_count = (
            MANY_REVIEWS[index % len(MANY_REVIEWS)] if index < many else rng.randint(0, 5)
        )
        pull = PullRequest(
            id=world.new_id(),
            repo=repo,
            number=number,
            title=f"{rng.choice(['Fix', 'Add', 'Bump'])} {rng.choice(LABELS)} #{number}",
            author=author,
            state=state,
            draft=state == "OPEN" and rng.random() < 0.25,
            created_at=created,
            updated_at=updated,
            base_ref=repo.default_branch,
            head_ref=f"topic-{number}",
            additions=rng.randint(0, 900),
            deletions=rng.randint(0, 400),
            changed_files=rng.randint(1, 40),
            commits=rng.randint(1, 12),
            comments=rng.randint(0, 9),
            labels=rng.sample(LABELS, rng.randint(0, 3)),
            requested=rng.sample([*users, *teams], rng.randint(0, 2)),
            reviews=_reviews(world, rng, author, review_count, start=created, end=updated),
        )
        if state != "OPEN":
            pull.closed_at = updated
        if state == "MERGED":
            pull.merged_at = updated
            pull.merged_by = rng.choice(users)
        if rng.random() < 0.2:
            # A review begun and not submitted: only its author sees it (alice is the tap's
            # token; bob's stays invisible).
            pending_author = rng.choice([users[0], users[1]])
            if pending_author != author:
                pull.reviews.append(
                    Review(
                        world.new_id(), pending_author, "PENDING", updated, "draft", _oid(rng), 1
                    )
                )
        pulls.append(pull)


def seed(world: World, rng: random.Random) -> None:
    """`pulls_per_repo` pull requests per repository (default 12); the first
    `pulls_with_many_reviews` of each (default 0) have more reviews than one nested page."""
    count = world.scale.get("pulls_per_repo", 12)
    many = world.scale.get("pulls_with_many_reviews", 0)
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        _seed_repo(world, rng, repo, count, many)


FAMILIES["pulls"] = seed


# -- GraphQL -----------------------------------------------------------------------------------


def _actor(account: Account | None) -> dict[str, Any] | None:
    if account is None:
        return None
    if account.type == "Bot":
        login, node_id = account.login.removesuffix("[bot]"), f"BOT_{account.id}"
        url = f"https://github.test/apps/{login}"
    else:
        login, node_id, url = account.login, account.node_id, f"https://github.test/{account.login}"
    return {
        "__typename": account.type,
        "login": login,
        "databaseId": account.id,
        "id": node_id,
        "url": url,
        "resourcePath": url.removeprefix("https://github.test"),
        "avatarUrl": f"https://avatars.example.test/u/{account.id}",
    }


def _reviewer(reviewer: Account | Team) -> dict[str, Any]:
    if isinstance(reviewer, Team):
        return {
            "__typename": "Team",
            "id": f"T_{reviewer.id}",
            "databaseId": reviewer.id,
            "slug": reviewer.slug,
            "name": reviewer.slug,
            "combinedSlug": f"{reviewer.organization}/{reviewer.slug}",
        }
    actor = _actor(reviewer)
    assert actor is not None
    return actor


def _asked_fields(info: Any) -> set[str]:
    asked: set[str] = set()
    for node in info.field_nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            asked.add(selection.name.value if isinstance(selection, FieldNode) else "...")
    return asked


def _paged(
    info: Any,
    items: Sequence[Any],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    node: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """A connection; without first/last GitHub answers `totalCount` and nothing else."""
    if first is None and last is None:
        if _asked_fields(info) - {"totalCount", "__typename"}:
            raise GraphQLError(
                f"You must provide a `first` or `last` value to properly "
                f"paginate the `{info.field_name}` connection."
            )
        return {"totalCount": len(items)}
    return connection(items, first=first, after=after, last=last, before=before, node=node)


def _review_node(review: Review, pull: PullRequest) -> dict[str, Any]:
    submitted = None if review.state == "PENDING" else iso(review.submitted_at)
    return {
        "__typename": "PullRequestReview",
        "id": review.node_id,
        "databaseId": review.id,
        "fullDatabaseId": str(review.id),
        "author": _actor(review.author),
        "state": review.state,
        "body": review.body,
        "submittedAt": submitted,
        "createdAt": iso(review.submitted_at),
        "updatedAt": iso(review.submitted_at),
        "url": f"{pull.url}#pullrequestreview-{review.id}",
        "commit": {
            "__typename": "Commit",
            "id": f"C_{review.commit_oid}",
            "oid": review.commit_oid,
        },
        "comments": lambda info, **args: _paged(info, [{}] * review.comments, **args),
    }


# Other families' fields of a PullRequest object: name -> build(request, pull), which replaces
# the field built here (the issues family gives `comments` its IssueComment nodes).
PULL_FIELDS: dict[str, Callable[[Request, PullRequest], Any]] = {}


def _pull_node(request: Request, pull: PullRequest) -> dict[str, Any]:
    viewer = request.caller.token.login if request.caller.token else None
    seen = [r for r in pull.reviews if r.state != "PENDING" or r.author.login == viewer]

    def reviews(
        info: Any, author: str | None = None, states: list[str] | None = None, **args: Any
    ) -> dict[str, Any]:
        chosen = [
            r
            for r in seen
            if (author is None or r.author.login == author)
            and (states is None or r.state in states)
        ]
        return _paged(info, chosen, node=lambda review: _review_node(review, pull), **args)

    def labels(
        info: Any,
        orderBy: dict[str, str] | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        names = list(pull.labels)  # in the order they were added (CREATED_AT ASC)
        order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
        if order["field"] == "NAME":
            names.sort()
        if order["direction"] == "DESC":
            names.reverse()
        return _paged(
            info,
            [
                {"__typename": "Label", "id": f"LA_{name}", "name": name, "color": "ededed"}
                for name in names
            ],
            **args,
        )

    def review_requests(info: Any, **args: Any) -> dict[str, Any]:
        return _paged(
            info,
            [
                {
                    "__typename": "ReviewRequest",
                    "id": f"RR_{pull.id}_{i}",
                    "asCodeOwner": False,
                    "requestedReviewer": _reviewer(r),
                }
                for i, r in enumerate(pull.requested)
            ],
            **args,
        )

    node = {
        "__typename": "PullRequest",
        "id": pull.node_id,
        "databaseId": pull.id,
        "fullDatabaseId": str(pull.id),
        "number": pull.number,
        "title": pull.title,
        "state": pull.state,
        "isDraft": pull.draft,
        "merged": pull.state == "MERGED",
        "closed": pull.state != "OPEN",
        "createdAt": iso(pull.created_at),
        "updatedAt": iso(pull.updated_at),
        "closedAt": iso(pull.closed_at) if pull.closed_at else None,
        "mergedAt": iso(pull.merged_at) if pull.merged_at else None,
        "mergeCommit": {"__typename": "Commit", "id": f"C_{pull.id:040x}", "oid": merge_sha(pull)}
        if pull.merged_at
        else None,
        "author": _actor(pull.author),
        "mergedBy": _actor(pull.merged_by),
        "baseRefName": pull.base_ref,
        "headRefName": pull.head_ref,
        "additions": pull.additions,
        "deletions": pull.deletions,
        "changedFiles": pull.changed_files,
        "url": pull.url,
        "commits": lambda info, **args: _paged(info, [{}] * pull.commits, **args),
        "comments": lambda info, **args: _paged(info, [{}] * pull.comments, **args),
        "labels": labels,
        "reviewRequests": review_requests,
        "reviews": reviews,
    }
    for name, build in PULL_FIELDS.items():
        node[name] = build(request, pull)
    return node


_ORDER_KEYS = {
    "CREATED_AT": lambda p: (p.created_at, p.id),
    "UPDATED_AT": lambda p: (p.updated_at, p.id),
    "COMMENTS": lambda p: (p.comments, p.id),
}


def _pull_requests(request: Request, repo: Repo) -> Any:
    def resolve(
        info: Any,
        *,
        states: list[str] | None = None,
        labels: list[str] | None = None,
        headRefName: str | None = None,
        baseRefName: str | None = None,
        orderBy: dict[str, str] | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        pulls = [
            p
            for p in pulls_of(request.world).by_repo.get(repo.id, [])
            if (states is None or p.state in states)
            and (labels is None or set(labels) & set(p.labels))
            and (headRefName is None or p.head_ref == headRefName)
            and (baseRefName is None or p.base_ref == baseRefName)
        ]
        if orderBy is None:
            pulls.sort(key=lambda p: p.number)
        else:
            pulls.sort(key=_ORDER_KEYS[orderBy["field"]], reverse=orderBy["direction"] == "DESC")
        return _paged(info, pulls, node=lambda pull: _pull_node(request, pull), **args)

    return resolve


def _pull_request(request: Request, repo: Repo) -> Any:
    def resolve(info: Any, number: int) -> dict[str, Any]:
        for pull in pulls_of(request.world).by_repo.get(repo.id, []):
            if pull.number == number:
                return _pull_node(request, pull)
        raise NotFoundError(f"Could not resolve to a PullRequest with the number of {number}.")

    return resolve


def _node(request: Request, node_id: str) -> dict[str, Any] | None:
    for pulls in pulls_of(request.world).by_repo.values():
        for pull in pulls:
            if pull.node_id == node_id and can_see(request, pull.repo):
                return _pull_node(request, pull)
    return None


REPOSITORY_FIELDS["pullRequests"] = _pull_requests
REPOSITORY_FIELDS["pullRequest"] = _pull_request
NODE_RESOLVERS["PR_"] = _node


# -- ground truth and change -------------------------------------------------------------------


def _rest_login(account: Account | None) -> str | None:
    return account.login if account else None


def _selected(world: World) -> list[PullRequest]:
    """The pull requests of the repositories the end-to-end selection reads."""
    from github_simulator.truth import SELECTED_OWNER, SELECTED_TOKEN  # noqa: PLC0415 -- truth imports this module

    token = world.tokens[SELECTED_TOKEN]
    return [
        pull
        for pulls in pulls_of(world).by_repo.values()
        for pull in pulls
        if pull.repo.owner.login == SELECTED_OWNER
        and not pull.repo.fork
        and world.visible_to_token(token, pull.repo)
    ]


def _submitted(pull: PullRequest) -> list[Review]:
    """The reviews the tap reports: submitted ones (a PENDING review is its author's draft)."""
    return [r for r in pull.reviews if r.state != "PENDING"]


def expected_pull_requests(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Each pull request as the tap should emit it, by primary key (id,)."""
    expected = {}
    for pull in _selected(world):
        reviews = _submitted(pull)
        expected[(pull.id,)] = {
            "repo_id": pull.repo.id,
            "number": pull.number,
            "node_id": pull.node_id,
            "title": pull.title,
            "state": pull.state.lower(),
            "draft": pull.draft,
            "merged": pull.state == "MERGED",
            "created_at": iso(pull.created_at),
            "updated_at": iso(pull.updated_at),
            "closed_at": iso(pull.closed_at) if pull.closed_at else None,
            "merged_at": iso(pull.merged_at) if pull.merged_at else None,
            "merge_commit_sha": merge_sha(pull) if pull.merged_at else None,
            "author_login": pull.author.login,
            "author_id": pull.author.id,
            "author_type": pull.author.type,
            "merged_by_login": _rest_login(pull.merged_by),
            "base_ref": pull.base_ref,
            "head_ref": pull.head_ref,
            "additions": pull.additions,
            "deletions": pull.deletions,
            "changed_files": pull.changed_files,
            "commit_count": pull.commits,
            "comment_count": pull.comments,
            "labels": list(pull.labels),
            "requested_reviewers": [r.login for r in pull.requested if isinstance(r, Account)],
            "requested_teams": [r.slug for r in pull.requested if isinstance(r, Team)],
            "html_url": pull.url,
            "review_count": len(reviews),
            "reviewers": sorted({r.author.login for r in reviews}),
            "approval_count": sum(r.state == "APPROVED" for r in reviews),
            "changes_requested_count": sum(r.state == "CHANGES_REQUESTED" for r in reviews),
            "first_review_at": iso(min(r.submitted_at for r in reviews)) if reviews else None,
        }
    return expected


def expected_pull_request_reviews(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Each submitted review as the tap should emit it, by primary key (id,)."""
    expected = {}
    for pull in _selected(world):
        for review in _submitted(pull):
            expected[(review.id,)] = {
                "repo_id": pull.repo.id,
                "pull_request_id": pull.id,
                "pull_request_number": pull.number,
                "node_id": review.node_id,
                "author_login": review.author.login,
                "author_id": review.author.id,
                "state": review.state,
                "submitted_at": iso(review.submitted_at),
                "body_length": len(review.body),
                "commit_id": review.commit_oid,
                "html_url": f"{pull.url}#pullrequestreview-{review.id}",
                "updated_at": iso(pull.updated_at),
            }
    return expected


def mutate_pulls(world: World, rng: random.Random) -> None:
    """In every repository with pull requests: a new pull request, an edited title, a new review
    on the least recently updated one, a merge, a relabelling. Each moves `updatedAt` to now."""
    with world.lock:
        now = world.now()
        users = [world.account(login) for login in USERS]
        for repo_id in sorted(pulls_of(world).by_repo):
            pulls = pulls_of(world).by_repo[repo_id]
            if not pulls:
                continue
            repo = pulls[0].repo
            by_age = sorted(pulls, key=lambda p: (p.updated_at, p.id))
            touched: set[int] = set()

            def pick(
                candidates: list[PullRequest],
                touched: set[int] = touched,
            ) -> PullRequest | None:
                for pull in candidates:
                    if pull.id not in touched:
                        touched.add(pull.id)
                        return pull
                return None

            if (oldest := pick(by_age)) is not None:
                oldest.reviews.append(_review(world, rng, rng.choice(users[1:]), "APPROVED", now))
                oldest.updated_at = now
            if (opened := pick([p for p in pulls if p.state == "OPEN"])) is not None:
                opened.state, opened.draft = "MERGED", False
                opened.merged_at = opened.closed_at = opened.updated_at = now
                opened.merged_by = users[0]
            if (relabelled := pick(rng.sample(pulls, len(pulls)))) is not None:
                relabelled.labels = [*relabelled.labels[1:], "needs-release-note"]
                relabelled.updated_at = now
            if (edited := pick(rng.sample(pulls, len(pulls)))) is not None:
                edited.title += " (edited)"
                edited.updated_at = now
            # Pull requests and issues share the repository's numbers.
            from github_simulator.issues import next_number  # noqa: PLC0415 -- issues imports this module

            number = next_number(world, repo)
            author = rng.choice(users)
            new = PullRequest(
                id=world.new_id(),
                repo=repo,
                number=number,
                title=f"Add feature #{number}",
                author=author,
                state="OPEN",
                draft=False,
                created_at=now - timedelta(minutes=1),
                updated_at=now,
                base_ref=repo.default_branch,
                head_ref=f"topic-{number}",
                additions=12,
                deletions=3,
                changed_files=2,
                commits=1,
                labels=["feature"],
                requested=[users[2]],
            )
            new.reviews.append(
                _review(world, rng, users[3] if author != users[3] else users[4], "COMMENTED", now)
            )
            pulls.append(new)
