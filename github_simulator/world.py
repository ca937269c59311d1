"""The simulator's in-memory GitHub: accounts, repositories, credentials, and per-family data.

Each stream family (pull requests, releases, actions, ...) keeps its data in its own store, made
with `world.family(name, factory)`, and seeds it from `seed(world, rng)` registered in `FAMILIES`.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

T = TypeVar("T")

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


@functools.lru_cache(maxsize=1 << 16)  # a world's timestamps are formatted again and again
def iso(moment: datetime) -> str:
    """GitHub's timestamp format."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeClock:
    """Time that tests move by hand; sleeping advances it instantly and is recorded."""

    def __init__(self, start: float | None = None) -> None:
        self._now = (
            start
            if start is not None
            else datetime(2026, 11, 20, 12, tzinfo=timezone.utc).timestamp()
        )
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(seconds, 0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class RealClock:
    """The simulator's default: wall-clock time."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Account:
    login: str
    id: int
    type: str = "User"  # or "Organization"

    @property
    def node_id(self) -> str:
        prefix = "O_" if self.type == "Organization" else "U_"
        return f"{prefix}{self.id}"

    def payload(self, api: str) -> dict[str, Any]:
        return {
            "login": self.login,
            "id": self.id,
            "node_id": self.node_id,
            "avatar_url": f"https://avatars.example.test/u/{self.id}",
            "gravatar_id": "",
            "url": f"{api}/users/{self.login}",
            "html_url": f"https://github.test/{self.login}",
            "followers_url": f"{api}/users/{self.login}/followers",
            "following_url": f"{api}/users/{self.login}/following{{/other_user}}",
            "gists_url": f"{api}/users/{self.login}/gists{{/gist_id}}",
            "starred_url": f"{api}/users/{self.login}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/users/{self.login}/subscriptions",
            "organizations_url": f"{api}/users/{self.login}/orgs",
            "repos_url": f"{api}/users/{self.login}/repos",
            "events_url": f"{api}/users/{self.login}/events{{/privacy}}",
            "received_events_url": f"{api}/users/{self.login}/received_events",
            "type": self.type,
            "site_admin": False,
            "user_view_type": "public",
        }


@dataclass
class Repo:
    id: int
    owner: Account
    name: str
    private: bool = False
    fork: bool = False
    archived: bool = False
    disabled: bool = False
    default_branch: str = "main"
    language: str | None = "Python"
    topics: list[str] = field(default_factory=list)
    description: str | None = None
    license_key: str | None = "mit"
    stargazers: int = 0
    forks: int = 0
    open_issues: int = 0
    size: int = 100
    created_at: datetime = EPOCH
    updated_at: datetime = EPOCH
    pushed_at: datetime = EPOCH
    # Logins allowed to push (traffic needs push access); None: every token that sees the repo.
    pushers: set[str] | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    @property
    def node_id(self) -> str:
        return f"R_{self.id}"


@dataclass
class TokenInfo:
    token: str
    login: str
    orgs: set[str] = field(default_factory=set)
    limit: int = 5000
    graphql_limit: int = 5000


@dataclass
class Installation:
    id: int
    account: Account
    repo_ids: list[int] | None = None  # None: all of the account's repositories
    token_lifetime: int = 3600


@dataclass
class App:
    app_id: str
    private_key_pem: str
    public_key_pem: str
    installations: dict[int, Installation] = field(default_factory=dict)

    @classmethod
    def generate(cls, app_id: str) -> App:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return cls(app_id, private, public)


# name -> seed(world, rng); each family module registers itself (see simulator/__init__.py).
FAMILIES: dict[str, Callable[[World, random.Random], None]] = {}


class World:
    """Everything the simulated GitHub knows. Guard mutations with `world.lock`."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.repos: dict[int, Repo] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.apps: dict[str, App] = {}
        # installation token -> (installation id, expiry)
        self.installation_tokens: dict[str, tuple[int, float]] = {}
        self.scale: dict[str, int] = {}
        self._families: dict[str, Any] = {}
        self._next_id = 1000

    # -- helpers for family modules ------------------------------------------------------------

    def family(self, name: str, factory: Callable[[], T]) -> T:
        if name not in self._families:
            self._families[name] = factory()
        return self._families[name]  # type: ignore[no-any-return]

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), tz=timezone.utc)

    # -- accounts and repositories -------------------------------------------------------------

    def account(self, login: str, kind: str = "User") -> Account:
        key = login.lower()
        if key not in self.accounts:
            self.accounts[key] = Account(login, self.new_id(), kind)
        return self.accounts[key]

    def add_repo(self, full_name: str, **attrs: Any) -> Repo:
        owner_login, name = full_name.split("/")
        kind = attrs.pop("owner_type", None)
        owner = self.accounts.get(owner_login.lower()) or self.account(owner_login, kind or "User")
        repo = Repo(id=self.new_id(), owner=owner, name=name, **attrs)
        with self.lock:
            self.repos[repo.id] = repo
        return repo

    def repo(self, owner: str, name: str) -> Repo | None:
        for repo in self.repos.values():
            if repo.full_name.lower() == f"{owner}/{name}".lower():
                return repo
        return None

    def add_token(
        self,
        token: str,
        login: str,
        orgs: set[str] | None = None,
        limit: int = 5000,
        graphql_limit: int = 5000,
    ) -> TokenInfo:
        self.account(login)
        info = TokenInfo(token, login, set(orgs or ()), limit, graphql_limit)
        self.tokens[token] = info
        return info

    def add_app(self, app_id: str = "4242") -> App:
        app = App.generate(app_id)
        self.apps[app_id] = app
        return app

    def install(
        self, app: App, owner: str, repo_ids: list[int] | None = None, token_lifetime: int = 3600
    ) -> Installation:
        installation = Installation(self.new_id(), self.account(owner), repo_ids, token_lifetime)
        app.installations[installation.id] = installation
        return installation

    # -- visibility ----------------------------------------------------------------------------

    def visible_to_token(self, info: TokenInfo, repo: Repo) -> bool:
        if not repo.private:
            return True
        return repo.owner.login.lower() == info.login.lower() or repo.owner.login in info.orgs

    def installation_repos(self, installation: Installation) -> list[Repo]:
        repos = [r for r in self.repos.values() if r.owner.login == installation.account.login]
        if installation.repo_ids is not None:
            repos = [r for r in repos if r.id in installation.repo_ids]
        return sorted(repos, key=lambda r: r.id)

    def seed_families(self, seed: int) -> None:
        for name, seed_family in FAMILIES.items():
            seed_family(self, random.Random(f"{seed}:{name}"))


def seeded_world(clock: Any, *, seed: int = 7, scale: dict[str, int] | None = None) -> World:
    """A small organization with a variety of repositories, plus every family's data."""
    world = World(clock)
    world.scale = {"repos": 3, **(scale or {})}
    rng = random.Random(seed)
    world.account("acme", "Organization")
    world.add_token("ghp_alice", "alice", orgs={"acme"})
    now = world.now()
    names = [
        "api",
        "web",
        "infra",
        "docs",
        "mobile",
        "data",
        "auth",
        "billing",
        "search",
        "notify",
        "gateway",
        "ml",
    ]
    for index in range(world.scale["repos"]):
        name = names[index] if index < len(names) else f"service-{index}"
        created = now - timedelta(days=400 + 30 * index)
        world.add_repo(
            f"acme/{name}",
            private=index % 2 == 1,
            language=rng.choice(["Python", "Go", "TypeScript", None]),
            topics=sorted(rng.sample(["backend", "frontend", "ci", "ops", "ml"], 2)),
            description=f"The {name} service",
            stargazers=rng.randint(0, 500),
            forks=rng.randint(0, 50),
            open_issues=rng.randint(0, 30),
            size=rng.randint(10, 90000),
            created_at=created,
            updated_at=now - timedelta(days=1),
            pushed_at=now - timedelta(days=1),
        )
    world.seed_families(seed)
    return world
