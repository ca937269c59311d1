"""Git data: a commit graph and branches per repository, served as GitHub serves them.

GraphQL: `Repository.defaultBranchRef`, `ref(qualifiedName:)`, `refs(refPrefix:, ...)`,
`object(oid:|expression:)`, `isEmpty`; `Ref.target` is a `Commit` whose `history(first, after,
since, until, author)` lists commits in `git log --date-order` order (newest committer date first,
a commit never before any of its children), and whose `parents` are a connection.
REST: `GET /repos/{owner}/{repo}/commits` (the listing, 409 "Git Repository is empty." for a
repository without commits).

A repository added after seeding (`world.add_repo`) has no git data: it is empty, as a new
repository on GitHub is.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlencode

from graphql import GraphQLError

from github_simulator.graphql_api import REPOSITORY_FIELDS, connection
from github_simulator.rest_core import NAME, OWNER, visible_repo
from github_simulator.server import ROUTER, HTTPError, Listing, Reply, Request
from github_simulator.world import FAMILIES, Repo, World, iso

FAMILY = "commits"
HEADS = "refs/heads/"


@dataclass(frozen=True)
class Person:
    """Who wrote or committed: git's name and e-mail, and the GitHub login the e-mail links to."""

    name: str
    email: str
    login: str | None = None


ALICE = Person("Alice Archer", "alice@acme.example", "alice")
BOB = Person("Bob Baker", "bob@users.noreply.github.test", "bob")
CAROL = Person("Carol Chen", "carol@acme.example", "carol")
BOT = Person("Build Bot", "bot@ci.acme.example")  # an e-mail no GitHub account claims
WEB_FLOW = Person("GitHub", "noreply@github.test", "web-flow")
PEOPLE = (ALICE, BOB, CAROL, BOT)


@dataclass
class GitCommit:
    oid: str
    parents: list[str]
    message: str
    author: Person
    authored: datetime
    committer: Person
    committed: datetime
    additions: int
    deletions: int
    changed_files: int

    @property
    def headline(self) -> str:
        return self.message.split("\n", 1)[0]

    @property
    def body(self) -> str:
        return self.message.split("\n", 1)[1].strip() if "\n" in self.message else ""


@dataclass(frozen=True)
class Comparison:
    """`compare base...head`: the commits only head has (oldest first, as GitHub lists them),
    how many only base has, and their merge base."""

    status: str  # ahead, behind, diverged, identical (of head, relative to base)
    commits: list[GitCommit]
    behind_by: int
    merge_base: str | None

    @property
    def ahead_by(self) -> int:
        return len(self.commits)


@dataclass
class GitRepo:
    """One repository's objects and branches."""

    repo_id: int
    commits: dict[str, GitCommit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # name -> head oid
    _counter: int = 0

    # -- building history ----------------------------------------------------------------------

    def commit(
        self,
        parents: list[str],
        when: datetime,
        *,
        message: str,
        author: Person = ALICE,
        committer: Person | None = None,
        authored: datetime | None = None,
        additions: int = 10,
        deletions: int = 2,
        changed_files: int = 1,
    ) -> GitCommit:
        """A new commit object (no branch moves)."""
        self._counter += 1
        oid = hashlib.sha1(  # noqa: S324 -- git's object ids are SHA-1; not a security use
            f"{self.repo_id}:{self._counter}:{message}:{parents}".encode()
        ).hexdigest()
        commit = GitCommit(
            oid,
            list(parents),
            message,
            author,
            authored or when,
            committer or author,
            when,
            additions,
            deletions,
            changed_files,
        )
        self.commits[oid] = commit
        return commit

    def advance(self, branch: str, when: datetime, **attrs: Any) -> GitCommit:
        """A commit on top of `branch` (which is created from nothing if missing)."""
        head = self.branches.get(branch)
        commit = self.commit([head] if head else [], when, **attrs)
        self.branches[branch] = commit.oid
        return commit

    def merge(self, into: str, source: str, when: datetime, *, author: Person = ALICE) -> GitCommit:
        """A merge commit of `source` into `into` (GitHub's merge button: committer web-flow)."""
        commit = self.commit(
            [self.branches[into], self.branches[source]],
            when,
            message=f"Merge branch '{source}' into {into}",
            author=author,
            committer=WEB_FLOW,
            additions=0,
            deletions=0,
            changed_files=0,
        )
        self.branches[into] = commit.oid
        return commit

    # -- reading history -----------------------------------------------------------------------

    def reachable(self, head: str | None) -> set[str]:
        """Every commit reachable from `head`."""
        found: set[str] = set()
        stack = [head] if head else []
        while stack:
            oid = stack.pop()
            if oid in found:
                continue
            found.add(oid)
            stack.extend(self.commits[oid].parents)
        return found

    def history(self, head: str) -> list[GitCommit]:
        """`git log --date-order`: newest committer date first, children before parents."""
        reachable = self.reachable(head)
        waiting: dict[str, int] = dict.fromkeys(reachable, 0)  # children not yet listed
        for oid in reachable:
            for parent in self.commits[oid].parents:
                waiting[parent] += 1
        ready = [(-self.commits[head].committed.timestamp(), head)]
        ordered: list[GitCommit] = []
        while ready:
            _, oid = heapq.heappop(ready)
            commit = self.commits[oid]
            ordered.append(commit)
            for parent in commit.parents:
                waiting[parent] -= 1
                if waiting[parent] == 0:
                    heapq.heappush(ready, (-self.commits[parent].committed.timestamp(), parent))
        return ordered

    def merge_base(self, one: str, other: str) -> str | None:
        """The best common ancestor of two commits (`git merge-base`): a common ancestor no
        other common ancestor descends from; None for unrelated histories."""
        common = self.reachable(one) & self.reachable(other)
        below = {a for oid in common for a in self.reachable(oid) if a != oid}
        best = sorted(
            common - below, key=lambda oid: (-self.commits[oid].committed.timestamp(), oid)
        )
        return best[0] if best else None

    def compare(self, base: str, head: str) -> Comparison:
        """GitHub's comparison of `head` against `base`: ahead_by commits only `head` has,
        behind_by only `base` has."""
        from_base, from_head = self.reachable(base), self.reachable(head)
        ahead = [c for c in self.history(head) if c.oid not in from_base]
        behind = len(from_base - from_head)
        if not ahead and not behind:
            status = "identical"
        elif not behind:
            status = "ahead"
        elif not ahead:
            status = "behind"
        else:
            status = "diverged"
        return Comparison(status, list(reversed(ahead)), behind, self.merge_base(base, head))

    def first_parents(self, head: str) -> list[GitCommit]:
        """The first-parent chain from `head` (a branch's own line), newest first."""
        chain = []
        oid: str | None = head
        while oid:
            commit = self.commits[oid]
            chain.append(commit)
            oid = commit.parents[0] if commit.parents else None
        return chain


def git(world: World, repo: Repo) -> GitRepo:
    """The repository's git data (empty unless seeded or built by a test)."""
    store: dict[int, GitRepo] = world.family(FAMILY, dict)
    if repo.id not in store:
        store[repo.id] = GitRepo(repo.id)
    return store[repo.id]


# -- seeding ----------------------------------------------------------------------------------

TOPICS = ["parser", "cache", "retry", "login", "export", "metrics", "search", "billing"]


def _message(rng: random.Random, index: int) -> str:
    verb = rng.choice(["Add", "Fix", "Refactor", "Document", "Speed up", "Test"])
    headline = f"{verb} {rng.choice(TOPICS)} ({index})"
    if rng.random() < 0.5:
        return headline
    return f"{headline}\n\nWhy: {rng.choice(TOPICS)} needed it.\nRefs #{rng.randint(1, 400)}"


def _work(rng: random.Random) -> dict[str, Any]:
    author = rng.choice(PEOPLE)
    committer = author if rng.random() < 0.8 else rng.choice(PEOPLE)
    return {
        "author": author,
        "committer": committer,
        "additions": rng.randint(0, 400),
        "deletions": rng.randint(0, 150),
        "changed_files": rng.randint(1, 12),
    }


def seed_repository(world: World, repo: Repo, rng: random.Random, count: int) -> GitRepo:
    """`count` commits on the default branch (a merged feature branch among them, so it has a
    merge), plus an open feature branch of 3 commits forked from it."""
    data = git(world, repo)
    main = repo.default_branch
    now = world.now()
    start = now - timedelta(days=60)
    step = (now - timedelta(days=2) - start) / max(count, 1)
    merged_topic = "feature/login"
    fork_at, merge_at = count // 3, count // 2
    feature_commits = min(3, max(merge_at - fork_at - 1, 0)) if count >= 6 else 0
    index = 0
    while index < count:
        when = start + step * index
        if feature_commits and index == fork_at:
            data.branches[merged_topic] = data.branches[main]
            for offset in range(feature_commits):
                # The feature's commits interleave in time with main's.
                data.advance(
                    merged_topic,
                    when + step * (offset * 1.5 + 0.5),
                    message=_message(rng, index),
                    **_work(rng),
                )
                index += 1
            continue
        if feature_commits and index == merge_at:
            data.merge(main, merged_topic, when)
            del data.branches[merged_topic]
        else:
            data.advance(main, when, message=_message(rng, index), **_work(rng))
        index += 1
    if count >= 6:
        # An open feature branch: forked two thirds in, three commits of its own.
        fork = data.first_parents(data.branches[main])[count // 3].oid
        data.branches["feature/search"] = fork
        for offset in range(3):
            data.advance(
                "feature/search",
                now - timedelta(days=1, hours=6 - offset),
                message=_message(rng, 1000 + offset),
                **_work(rng),
            )
    return data


def seed(world: World, rng: random.Random) -> None:
    count = world.scale.get("commits_per_repo", 30)
    for person in (*PEOPLE, WEB_FLOW):
        if person.login:
            world.account(person.login)
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        seed_repository(world, repo, rng, count)


FAMILIES[FAMILY] = seed


# -- ground truth -----------------------------------------------------------------------------


def selected_branches(data: GitRepo, repo: Repo, patterns: Iterable[str] | None) -> list[str]:
    """The branches a `commit_branches` setting selects (None: the default branch)."""
    if patterns is None:
        return [repo.default_branch] if repo.default_branch in data.branches else []
    names = [p.removeprefix(HEADS) for p in patterns]
    return sorted(b for b in data.branches if any(fnmatchcase(b, n) for n in names))


def _in_range(commit: GitCommit, start_date: datetime | None) -> bool:
    return start_date is None or commit.committed >= start_date


def expected_commits(
    world: World,
    branches: Iterable[str] | None = None,
    start_date: datetime | None = None,
    *,
    include_emails: bool = False,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(repo_id, sha) -> record fields, for every commit reachable from a selected branch now.
    (Commits that left a branch through a force-push stay in a warehouse; they are not here.)"""
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for repo in world.repos.values():
        data = git(world, repo)
        for branch in selected_branches(data, repo, branches):
            for oid in data.reachable(data.branches[branch]):
                commit = data.commits[oid]
                if _in_range(commit, start_date):
                    expected[(repo.id, oid)] = commit_fields(
                        world, repo, commit, include_emails=include_emails
                    )
    return expected


def expected_commit_branches(
    world: World,
    branches: Iterable[str] | None = None,
    start_date: datetime | None = None,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(repo_id, branch, sha) -> {} for every commit of every selected branch."""
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for repo in world.repos.values():
        data = git(world, repo)
        for branch in selected_branches(data, repo, branches):
            for oid in data.reachable(data.branches[branch]):
                if _in_range(data.commits[oid], start_date):
                    expected[(repo.id, branch, oid)] = {}
    return expected


def commit_fields(
    world: World, repo: Repo, commit: GitCommit, *, include_emails: bool = False
) -> dict[str, Any]:
    """The fields a commits record must carry for `commit`."""

    def person(prefix: str, who: Person) -> dict[str, Any]:
        account = world.accounts.get(who.login.lower()) if who.login else None
        return {
            f"{prefix}_name": who.name,
            f"{prefix}_login": account.login if account else None,
            f"{prefix}_id": account.id if account else None,
            f"{prefix}_email": who.email if include_emails else None,
        }

    return {
        "sha": commit.oid,
        "message_headline": commit.headline,
        "message_body": commit.body,
        **person("author", commit.author),
        **person("committer", commit.committer),
        "authored_at": iso(commit.authored),
        "committed_at": iso(commit.committed),
        "parent_count": len(commit.parents),
        "parent_shas": list(commit.parents),
        "additions": commit.additions,
        "deletions": commit.deletions,
        "changed_files": commit.changed_files,
        "html_url": f"https://github.test/{repo.full_name}/commit/{commit.oid}",
    }


# -- mutations for the end-to-end scenario ----------------------------------------------------


def merge_old_dated_branch(
    world: World, repo: Repo, rng: random.Random, *, days_old: int = 20, name: str | None = None
) -> list[GitCommit]:
    """A branch forked `days_old` days ago whose commits are all dated then, merged into the
    default branch now: its commits are older than the branch's previous head."""
    data = git(world, repo)
    main = repo.default_branch
    now = world.now()
    forked = now - timedelta(days=days_old)
    chain = data.first_parents(data.branches[main])
    base = next((c for c in chain if c.committed <= forked), chain[-1])
    name = name or f"topic/old-{len(data.branches)}-{rng.randint(100, 999)}"
    data.branches[name] = base.oid
    made = [
        data.advance(
            name,
            forked + timedelta(hours=6 * (i + 1)),
            message=_message(rng, 2000 + i),
            **_work(rng),
        )
        for i in range(3)
    ]
    made.append(data.merge(main, name, now - timedelta(minutes=30)))
    del data.branches[name]
    return made


def force_push(
    world: World, repo: Repo, branch: str, *, keep_dates: bool = True
) -> list[GitCommit]:
    """Rebase `branch`'s own commits onto the default branch's head and force-push: new oids,
    the old head no longer in the branch's history. `keep_dates` (the default, GitHub's worst
    case): rebased with --committer-date-is-author-date, so the new commits are as old as the
    work they replay; otherwise they are committed now."""
    data = git(world, repo)
    main_reach = data.reachable(data.branches[repo.default_branch])
    own = [c for c in reversed(data.history(data.branches[branch])) if c.oid not in main_reach]
    data.branches[branch] = data.branches[repo.default_branch]
    now = world.now()
    return [
        data.advance(
            branch,
            old.authored if keep_dates else now - timedelta(minutes=10 - i),
            message=old.message,
            author=old.author,
            authored=old.authored,
            committer=old.committer,
            additions=old.additions,
            deletions=old.deletions,
            changed_files=old.changed_files,
        )
        for i, old in enumerate(own)
    ]


def push_old_dated(
    world: World, repo: Repo, rng: random.Random, branch: str, *, days_old: int = 9, count: int = 3
) -> list[GitCommit]:
    """A fast-forward of `branch` by commits whose committer dates are `days_old` days old,
    older than their parent's (work rebased with --committer-date-is-author-date, imported
    history, a wrong clock)."""
    data = git(world, repo)
    then = world.now() - timedelta(days=days_old)
    return [
        data.advance(
            branch, then + timedelta(hours=i), message=_message(rng, 4000 + i), **_work(rng)
        )
        for i in range(count)
    ]


def rename_branch(world: World, repo: Repo, branch: str, new_name: str) -> None:
    """GitHub's branch rename: the same head under a new name, the old name gone."""
    data = git(world, repo)
    data.branches[new_name] = data.branches.pop(branch)


def mutate_commits(world: World, rng: random.Random) -> None:
    """In every repository that has history: an old-dated branch merged into the default
    branch, a fast-forward by commits dated older than their parent, two new commits; then the
    first feature branch is force-pushed with its old dates kept (repositories in even
    positions) or renamed and deleted under its old name (odd positions)."""
    with world.lock:
        repos = sorted(world.repos.values(), key=lambda r: r.id)
        for position, repo in enumerate(repos):
            data = git(world, repo)
            if repo.default_branch not in data.branches:
                continue
            merge_old_dated_branch(world, repo, rng)
            push_old_dated(world, repo, rng, repo.default_branch)
            now = world.now()
            for minutes in (20, 10):
                data.advance(
                    repo.default_branch,
                    now - timedelta(minutes=minutes),
                    message=_message(rng, 3000 + minutes),
                    **_work(rng),
                )
            features = sorted(b for b in data.branches if b != repo.default_branch)
            if not features:
                continue
            if position % 2 == 0:
                force_push(world, repo, features[0])
            else:
                rename_branch(world, repo, features[0], f"{features[0]}-renamed")


# -- GraphQL ----------------------------------------------------------------------------------


def _timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(
            f"Variable has an invalid value: {value!r} is not a GitTimestamp"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _user(world: World, person: Person) -> dict[str, Any] | None:
    account = world.accounts.get(person.login.lower()) if person.login else None
    if account is None:
        return None
    return {
        "__typename": "User",
        "login": account.login,
        "databaseId": account.id,
        "id": account.node_id,
        "url": f"https://github.test/{account.login}",
        "name": person.name,
    }


def _actor(world: World, person: Person, when: datetime) -> dict[str, Any]:
    return {
        "name": person.name,
        "email": person.email,
        "date": iso(when),
        "user": _user(world, person),
        "avatarUrl": lambda info, size=None: "https://avatars.example.test/u/0",
    }


def commit_node(world: World, repo: Repo, data: GitRepo, commit: GitCommit) -> dict[str, Any]:
    """A Commit object; its connections resolve lazily."""
    url = f"https://github.test/{repo.full_name}/commit/{commit.oid}"

    def parents(info: Any, **args: Any) -> dict[str, Any]:
        nodes = [commit_node(world, repo, data, data.commits[p]) for p in commit.parents]
        return connection(nodes, **_page_args(args))

    def history(info: Any, **args: Any) -> dict[str, Any]:
        since, until = _timestamp(args.get("since")), _timestamp(args.get("until"))
        author = args.get("author") or {}
        if args.get("path") is not None:
            raise GraphQLError("history(path:) is not simulated: the simulator has no trees")
        items = [
            c
            for c in data.history(commit.oid)
            if (since is None or c.committed >= since)
            and (until is None or c.committed <= until)
            and _authored_by(world, c, author)
        ]
        return connection(
            items, node=lambda c: commit_node(world, repo, data, c), **_page_args(args)
        )

    return {
        "__typename": "Commit",
        "id": f"C_{commit.oid}",
        "oid": commit.oid,
        "abbreviatedOid": commit.oid[:7],
        "message": commit.message,
        "messageHeadline": commit.headline,
        "messageBody": commit.body,
        "authoredDate": iso(commit.authored),
        "committedDate": iso(commit.committed),
        "author": _actor(world, commit.author, commit.authored),
        "committer": _actor(world, commit.committer, commit.committed),
        "authoredByCommitter": commit.author == commit.committer,
        "additions": commit.additions,
        "deletions": commit.deletions,
        "changedFiles": commit.changed_files,
        "changedFilesIfAvailable": commit.changed_files,
        "url": url,
        "commitUrl": url,
        "resourcePath": f"/{repo.full_name}/commit/{commit.oid}",
        "parents": parents,
        "history": history,
    }


def _authored_by(world: World, commit: GitCommit, author: dict[str, Any]) -> bool:
    if not author:
        return True
    if author.get("emails") and commit.author.email not in author["emails"]:
        return False
    if author.get("id"):
        user = _user(world, commit.author)
        return user is not None and user["id"] == author["id"]
    return True


def _page_args(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args.get(k) for k in ("first", "after", "last", "before")}


def resolve(data: GitRepo, revision: str) -> str | None:
    """A branch name (with or without refs/heads/), a full or abbreviated (7+) commit oid."""
    name = revision.removeprefix(HEADS)
    if name in data.branches:
        return data.branches[name]
    if revision in data.commits:
        return revision
    if len(revision) >= 7:
        found = [oid for oid in data.commits if oid.startswith(revision)]
        return found[0] if len(found) == 1 else None
    return None


def ref_node(world: World, repo: Repo, data: GitRepo, name: str) -> dict[str, Any]:
    head = data.branches[name]

    def compare(info: Any, headRef: str) -> dict[str, Any] | None:
        # Since 2022-10-18 headRef may be a commit oid as well as a ref name. The branch is
        # the base; null when the other side does not resolve.
        other = resolve(data, headRef)
        if other is None:
            return None
        result = data.compare(head, other)

        def commits(info: Any, **args: Any) -> dict[str, Any]:
            return connection(
                result.commits,
                node=lambda c: commit_node(world, repo, data, c),
                **_page_args(args),
            ) | {"authorCount": len({c.author.email for c in result.commits})}

        return {
            "__typename": "Comparison",
            "id": f"CMP_{repo.id}_{head}_{other}",
            "status": result.status.upper(),
            "aheadBy": result.ahead_by,
            "behindBy": result.behind_by,
            "baseTarget": commit_node(world, repo, data, data.commits[head]),
            "headTarget": commit_node(world, repo, data, data.commits[other]),
            "commits": commits,
        }

    return {
        "__typename": "Ref",
        "id": f"REF_{repo.id}_{name}",
        "name": name,
        "prefix": HEADS,
        "target": commit_node(world, repo, data, data.commits[head]),
        "compare": compare,
    }


def _repository_fields(request: Request, repo: Repo) -> dict[str, Any]:
    world = request.world
    data = git(world, repo)

    def default_branch_ref(info: Any, **args: Any) -> dict[str, Any] | None:
        if repo.default_branch not in data.branches:
            return None  # an empty repository has no default branch yet
        return ref_node(world, repo, data, repo.default_branch)

    def ref(info: Any, qualifiedName: str, **args: Any) -> dict[str, Any] | None:
        if qualifiedName.startswith(HEADS):
            name = qualifiedName[len(HEADS) :]
        elif qualifiedName.startswith("refs/"):
            return None  # tags and other namespaces are not simulated
        else:
            name = qualifiedName
        return ref_node(world, repo, data, name) if name in data.branches else None

    def refs(info: Any, refPrefix: str, **args: Any) -> dict[str, Any]:
        if not refPrefix.endswith("/"):
            raise GraphQLError("refPrefix must end with '/'")
        names = sorted(data.branches) if refPrefix == HEADS else []
        if refPrefix.startswith(HEADS) and refPrefix != HEADS:
            names = [
                n[len(refPrefix) - len(HEADS) :]
                for n in sorted(data.branches)
                if (HEADS + n).startswith(refPrefix)
            ]
        if args.get("query"):
            names = [n for n in names if args["query"] in n]
        order = args.get("orderBy") or {}
        if order.get("direction") == "DESC":
            names.reverse()
        nodes = [ref_node(world, repo, data, refPrefix[len(HEADS) :] + n) for n in names]
        for node, name in zip(nodes, names, strict=True):
            node["name"] = name  # a ref's name is relative to the prefix asked
        return connection(nodes, **_page_args(args))

    def object_(
        info: Any, oid: str | None = None, expression: str | None = None, **args: Any
    ) -> dict[str, Any] | None:
        key = oid or expression
        if key in data.branches:
            key = data.branches[key]
        commit = data.commits.get(key or "")
        return commit_node(world, repo, data, commit) if commit else None

    return {
        "defaultBranchRef": default_branch_ref,
        "ref": ref,
        "refs": refs,
        "object": object_,
        "isEmpty": not data.commits,
    }


def _field(name: str) -> Any:
    return lambda request, repo: _repository_fields(request, repo)[name]


for _name in ("defaultBranchRef", "ref", "refs", "object", "isEmpty"):
    if _name in REPOSITORY_FIELDS:
        raise RuntimeError(f"Repository.{_name} is already simulated by another family")
    REPOSITORY_FIELDS[_name] = _field(_name)


# -- REST -------------------------------------------------------------------------------------


def _rest_user(request: Request, person: Person) -> dict[str, Any] | None:
    account = request.world.accounts.get(person.login.lower()) if person.login else None
    return account.payload(request.api) if account else None


def rest_commit(request: Request, repo: Repo, commit: GitCommit) -> dict[str, Any]:
    """An item of GET /repos/{owner}/{repo}/commits."""
    base = f"{request.api}/repos/{repo.full_name}"
    html = f"https://github.test/{repo.full_name}/commit/{commit.oid}"
    tree = hashlib.sha1(commit.oid.encode()).hexdigest()  # noqa: S324 -- a git object id
    return {
        "url": f"{base}/commits/{commit.oid}",
        "sha": commit.oid,
        "node_id": f"C_{commit.oid}",
        "html_url": html,
        "comments_url": f"{base}/commits/{commit.oid}/comments",
        "commit": {
            "url": f"{base}/git/commits/{commit.oid}",
            "author": {
                "name": commit.author.name,
                "email": commit.author.email,
                "date": iso(commit.authored),
            },
            "committer": {
                "name": commit.committer.name,
                "email": commit.committer.email,
                "date": iso(commit.committed),
            },
            "message": commit.message,
            "tree": {"url": f"{base}/git/trees/{tree}", "sha": tree},
            "comment_count": 0,
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "author": _rest_user(request, commit.author),
        "committer": _rest_user(request, commit.committer),
        "parents": [
            {
                "url": f"{base}/commits/{p}",
                "sha": p,
                "html_url": f"https://github.test/{repo.full_name}/commit/{p}",
            }
            for p in commit.parents
        ],
    }


def _matches_person(request: Request, person: Person, wanted: str | None) -> bool:
    if wanted is None:
        return True
    return wanted.lower() in {person.email.lower(), (person.login or "").lower()}


@ROUTER.get(f"/repos/{OWNER}/{NAME}/commits")
def list_commits(request: Request) -> Any:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    data = git(request.world, repo)
    if not data.commits:
        raise HTTPError(409, "Git Repository is empty.")
    query = request.query
    if query.get("path"):
        raise HTTPError(422, "The simulator has no trees: the path filter is not simulated.")
    start = query.get("sha") or repo.default_branch
    head = data.branches.get(start) or (start if start in data.commits else None)
    if head is None:
        raise HTTPError(404, f"No commit found for SHA: {start}")
    since, until = _timestamp(query.get("since")), _timestamp(query.get("until"))
    items = [
        rest_commit(request, repo, c)
        for c in data.history(head)
        if (since is None or c.committed >= since)
        and (until is None or c.committed <= until)
        and _matches_person(request, c.author, query.get("author"))
        and _matches_person(request, c.committer, query.get("committer"))
    ]
    return Listing(items)


COMPARE_DEFAULT_PAGE = 250  # commits of a comparison without per_page (GitHub's documented cap)


@ROUTER.get(f"/repos/{OWNER}/{NAME}/compare/(?P<basehead>[^/]+)")
def compare_commits(request: Request) -> Any:
    """GET /repos/{owner}/{repo}/compare/{base}...{head}: status, ahead_by, behind_by,
    merge_base_commit, and a page of the commits only head has (oldest first)."""
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    data = git(request.world, repo)
    if not data.commits:
        raise HTTPError(409, "Git Repository is empty.")
    base_name, separator, head_name = request.params["basehead"].partition("...")
    if not separator:
        raise HTTPError(404, "Not Found")
    base, head = resolve(data, base_name), resolve(data, head_name)
    for name, oid in ((base_name, base), (head_name, head)):
        if oid is None:
            raise HTTPError(404, f"No commit found for SHA: {name}")
    assert base is not None
    assert head is not None
    result = data.compare(base, head)
    if result.merge_base is None:
        raise HTTPError(404, f"No common ancestor between {base_name} and {head_name}.")
    query = request.query
    per_page = min(int(query["per_page"]), 100) if "per_page" in query else COMPARE_DEFAULT_PAGE
    page = int(query.get("page", 1))
    last = max((result.ahead_by + per_page - 1) // per_page, 1)
    html = f"https://github.test/{repo.full_name}/compare/{request.params['basehead']}"
    body = {
        "url": f"{request.api}/repos/{repo.full_name}/compare/{request.params['basehead']}",
        "html_url": html,
        "permalink_url": f"https://github.test/{repo.full_name}/compare/{base}...{head}",
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "base_commit": rest_commit(request, repo, data.commits[base]),
        "merge_base_commit": rest_commit(request, repo, data.commits[result.merge_base]),
        "status": result.status,
        "ahead_by": result.ahead_by,
        "behind_by": result.behind_by,
        "total_commits": result.ahead_by,
        "commits": [
            rest_commit(request, repo, c)
            for c in result.commits[(page - 1) * per_page : page * per_page]
        ],
        "files": [],  # the simulator has no trees
    }
    links = [
        (number, rel)
        for number, rel in ((page + 1, "next"), (last, "last"), (1, "first"), (page - 1, "prev"))
        if (rel in ("next", "last") and page < last) or (rel in ("first", "prev") and page > 1)
    ]
    headers = (
        {
            "link": ", ".join(
                f'<{request.api}{request.path}?{urlencode({**query, "page": n})}>; rel="{rel}"'
                for n, rel in links
            )
        }
        if links
        else {}
    )
    return Reply(body, headers=headers)
