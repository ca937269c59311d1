"""Issues and issue comments: seeded data, ground truth and mutations (what GitHub answers is in
issues_api.py).

What GitHub does and the simulator copies:
- Issues and pull requests share a repository's numbers; a pull request is an issue too, and its
  conversation comments are issue comments (the pulls family keeps the pull requests, this one
  their comments, as many as the pull request's `comments` count).
- A new comment moves its issue's (or pull request's) `updated_at`; editing a comment moves the
  comment's `updated_at` only (the expensive reading: the parent does not tell).
- Closing, relabelling, retitling move the issue's `updated_at`.
- Some bodies and titles hold NUL characters, as GitHub's API returns them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from github_simulator.pulls import USERS, PullRequest, pulls_of
from github_simulator.world import FAMILIES, Account, Repo, World, iso

__all__ = [
    "Comment",
    "Issue",
    "IssueStore",
    "Milestone",
    "expected_issue_comments",
    "expected_issues",
    "issue_store",
    "mutate_issues",
    "next_number",
    "selected_repos",
]

LABELS = ["bug", "incident", "feature", "question", "docs"]
ISSUE_TYPES = [None, "Bug", "Task", "Feature"]
ASSOCIATIONS = ["MEMBER", "CONTRIBUTOR", "NONE", "OWNER"]
NUL = "\x00"


@dataclass
class Milestone:
    number: int
    title: str
    due_on: datetime | None


@dataclass
class Issue:
    id: int
    repo: Repo
    number: int
    title: str
    body: str | None
    author: Account
    author_association: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"  # open, closed
    state_reason: str | None = None  # completed, not_planned, reopened, duplicate
    closed_at: datetime | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[Account] = field(default_factory=list)
    milestone: Milestone | None = None
    issue_type: str | None = None
    locked: bool = False
    reactions: int = 0

    @property
    def node_id(self) -> str:
        return f"I_{self.id}"


@dataclass
class Comment:
    id: int
    repo: Repo
    number: int  # of the issue or pull request
    is_pull_request: bool
    author: Account
    author_association: str
    body: str
    created_at: datetime
    updated_at: datetime

    @property
    def node_id(self) -> str:
        return f"IC_{self.id}"

    @property
    def html_url(self) -> str:
        """REST's `html_url`, GraphQL's `url`: under /pull/ for a pull request's comment."""
        kind = "pull" if self.is_pull_request else "issues"
        return (
            f"https://github.test/{self.repo.full_name}/{kind}/{self.number}#issuecomment-{self.id}"
        )


@dataclass
class IssueStore:
    """Per repository id: issues and comments in creation order; the issue ids GitHub gives
    pull requests (an issue id, not the pull request's)."""

    issues: dict[int, list[Issue]] = field(default_factory=dict)
    comments: dict[int, list[Comment]] = field(default_factory=dict)
    pull_issue_ids: dict[int, int] = field(default_factory=dict)


def issue_store(world: World) -> IssueStore:
    return world.family("issues", IssueStore)


def next_number(world: World, repo: Repo) -> int:
    """The next number of the repository's shared issue and pull request sequence."""
    pulls = pulls_of(world).by_repo.get(repo.id, [])
    issues = issue_store(world).issues.get(repo.id, [])
    return max([0, *(p.number for p in pulls), *(i.number for i in issues)]) + 1


def pull_issue_id(world: World, pull: PullRequest) -> int:
    ids = issue_store(world).pull_issue_ids
    if pull.id not in ids:
        ids[pull.id] = world.new_id()
    return ids[pull.id]


# -- seeding -----------------------------------------------------------------------------------


def _text(rng: random.Random, words: list[str]) -> str:
    text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
    # Some text holds NUL characters (pasted binary output); PostgreSQL refuses them.
    return text.replace(" ", NUL, 1) if rng.random() < 0.1 else text


BODY_WORDS = ["error", "stack", "trace", "steps:", "expected", "actual", "logs", "retry", "ok"]


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(int((end - start).total_seconds()), 1)
    return start + timedelta(seconds=rng.randint(1, span))


def add_comment(
    world: World,
    rng: random.Random,
    repo: Repo,
    number: int,
    *,
    pull: bool,
    when: datetime,
) -> Comment:
    comment = Comment(
        id=world.new_id(),
        repo=repo,
        number=number,
        is_pull_request=pull,
        author=world.account(rng.choice(USERS)),
        author_association=rng.choice(ASSOCIATIONS),
        body=_text(rng, BODY_WORDS),
        created_at=when,
        updated_at=when,
    )
    issue_store(world).comments.setdefault(repo.id, []).append(comment)
    return comment


def add_issue(world: World, rng: random.Random, repo: Repo, created: datetime) -> Issue:
    milestones = [Milestone(1, "Q1", created + timedelta(days=60)), Milestone(2, "Backlog", None)]
    issue = Issue(
        id=world.new_id(),
        repo=repo,
        number=next_number(world, repo),
        title=f"{rng.choice(['Crash', 'Slow', 'Wrong', 'Missing'])} {rng.choice(BODY_WORDS)}",
        body=None if rng.random() < 0.1 else _text(rng, BODY_WORDS),
        author=world.account(rng.choice(USERS)),
        author_association=rng.choice(ASSOCIATIONS),
        created_at=created,
        updated_at=created,
        labels=rng.sample(LABELS, rng.randint(0, 2)),
        assignees=[world.account(login) for login in rng.sample(USERS, rng.randint(0, 2))],
        milestone=rng.choice([None, *milestones]),
        issue_type=rng.choice(ISSUE_TYPES),
        reactions=rng.randint(0, 5),
    )
    if rng.random() < 0.15:
        issue.title = issue.title.replace(" ", NUL, 1)
    issue_store(world).issues.setdefault(repo.id, []).append(issue)
    return issue


def close(issue: Issue, when: datetime, reason: str = "completed") -> None:
    issue.state, issue.state_reason = "closed", reason
    issue.closed_at = issue.updated_at = when


def _seed_repo(world: World, rng: random.Random, repo: Repo, count: int) -> None:
    now = world.now()
    for pull in pulls_of(world).by_repo.get(repo.id, []):
        pull_issue_id(world, pull)
        for _ in range(pull.comments):
            when = _moment(rng, pull.created_at, pull.updated_at)
            add_comment(world, rng, repo, pull.number, pull=True, when=when)
    for _ in range(count):
        # Seeded activity ends at least five minutes before the world's present.
        created = now - timedelta(minutes=rng.randint(60 * 24, 60 * 24 * 300))
        issue = add_issue(world, rng, repo, created)
        last = created
        for _ in range(rng.choice([0, 0, 1, 2, 3, 6])):
            last = _moment(rng, last, now - timedelta(minutes=5))
            add_comment(world, rng, repo, issue.number, pull=False, when=last)
        issue.updated_at = last
        if rng.random() < 0.4:
            close(
                issue,
                _moment(rng, last, now - timedelta(minutes=5)),
                rng.choice(["completed", "completed", "not_planned"]),
            )
        issue.locked = rng.random() < 0.05


def seed(world: World, rng: random.Random) -> None:
    """`issues_per_repo` issues per repository (default 15), with 0 to 6 comments each; every
    pull request's conversation gets as many comments as its count says."""
    count = world.scale.get("issues_per_repo", 15)
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        _seed_repo(world, rng, repo, count)


FAMILIES["issues"] = seed


# -- change ------------------------------------------------------------------------------------


def comment_on(world: World, rng: random.Random, repo: Repo, number: int, when: datetime) -> None:
    """A new comment on issue or pull request `number`, which moves the parent's updated_at."""
    for issue in issue_store(world).issues.get(repo.id, []):
        if issue.number == number:
            add_comment(world, rng, repo, number, pull=False, when=when)
            issue.updated_at = when
            return
    for pull in pulls_of(world).by_repo.get(repo.id, []):
        if pull.number == number:
            add_comment(world, rng, repo, number, pull=True, when=when)
            pull.comments += 1
            pull.updated_at = when
            return
    raise KeyError(number)


def mutate_issues(world: World, rng: random.Random) -> None:
    """In every repository: a new issue (with a NUL in its body), an open issue closed, one
    relabelled, one retitled, a comment on an old issue and one on a pull request, an old
    comment edited."""
    with world.lock:
        now = world.now()
        for repo in sorted(world.repos.values(), key=lambda r: r.id):
            new = add_issue(world, rng, repo, now)
            issues = issue_store(world).issues[repo.id]
            new.body = f"Outage{NUL} since deploy"
            open_issues = [i for i in issues if i.state == "open" and i is not new]
            if open_issues:
                close(open_issues[0], now)
            if len(open_issues) > 1:
                open_issues[1].labels = [*open_issues[1].labels, "incident"]
                open_issues[1].updated_at = now
            if len(open_issues) > 2:
                open_issues[2].title = f"{open_issues[2].title} (retitled)"
                open_issues[2].updated_at = now
            oldest = min(issues, key=lambda i: (i.updated_at, i.id))
            comment_on(world, rng, repo, oldest.number, now)
            pulls = pulls_of(world).by_repo.get(repo.id, [])
            if pulls:
                comment_on(world, rng, repo, pulls[0].number, now)
            earlier = [c for c in issue_store(world).comments[repo.id] if c.updated_at < now]
            if earlier:
                edited = min(earlier, key=lambda c: (c.updated_at, c.id))
                edited.body += " (edited)"
                edited.updated_at = now


# -- ground truth ------------------------------------------------------------------------------


def selected_repos(world: World) -> list[Repo]:
    from github_simulator.truth import SELECTED_OWNER, SELECTED_TOKEN  # noqa: PLC0415 -- truth imports this module

    token = world.tokens[SELECTED_TOKEN]
    return [
        repo
        for repo in sorted(world.repos.values(), key=lambda r: r.id)
        if repo.owner.login == SELECTED_OWNER
        and not repo.fork
        and world.visible_to_token(token, repo)
    ]


def clean(text: str | None) -> str | None:
    """Text as the tap emits it: without NUL characters."""
    return None if text is None else text.replace(NUL, "")


def comment_count(world: World, repo: Repo, number: int) -> int:
    return sum(c.number == number for c in issue_store(world).comments.get(repo.id, []))


def expected_issues(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id,) -> each issue (pull requests are not issues here) as the tap emits it."""
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for repo in selected_repos(world):
        for issue in issue_store(world).issues.get(repo.id, []):
            expected[(issue.id,)] = {
                "repo_id": repo.id,
                "number": issue.number,
                "title": clean(issue.title),
                "body": clean(issue.body),
                "state": issue.state,
                "state_reason": issue.state_reason,
                "issue_type": issue.issue_type,
                "labels": list(issue.labels),
                "assignees": [a.login for a in issue.assignees],
                "milestone_number": issue.milestone.number if issue.milestone else None,
                "author_login": issue.author.login,
                "author_id": issue.author.id,
                "author_association": issue.author_association,
                "created_at": iso(issue.created_at),
                "updated_at": iso(issue.updated_at),
                "closed_at": iso(issue.closed_at) if issue.closed_at else None,
                "comment_count": comment_count(world, repo, issue.number),
                "reactions_total": issue.reactions,
                "locked": issue.locked,
            }
    return expected


def expected_issue_comments(world: World) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id,) -> each comment of an issue or of a pull request's conversation."""
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for repo in selected_repos(world):
        for comment in issue_store(world).comments.get(repo.id, []):
            expected[(comment.id,)] = {
                "repo_id": repo.id,
                "issue_number": comment.number,
                "is_pull_request": comment.is_pull_request,
                "author_login": comment.author.login,
                "author_id": comment.author.id,
                "author_association": comment.author_association,
                "body": clean(comment.body),
                "created_at": iso(comment.created_at),
                "updated_at": iso(comment.updated_at),
            }
    return expected
