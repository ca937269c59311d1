"""Credentials: personal tokens, and GitHub App installations found per owner.

A `Credential` is one rate-limit budget: a token, or one App installation's token. Its `key`
identifies it across runs without revealing the secret.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from tap_github_activity.clock import Clock
from tap_github_activity.errors import AuthenticationError, ConfigError, NotAccessibleError
from tap_github_activity.timestamps import parse_time

__all__ = ["AppInstallations", "Credential", "JwtRequest"]

logger = logging.getLogger("tap_github_activity.auth")

JWT_BACKDATE_SECONDS = 60
JWT_LIFETIME_SECONDS = 600
TOKEN_REFRESH_MARGIN_SECONDS = 300

# (method, path, jwt) -> (status, json body); the client supplies it so App calls are counted too.
JwtRequest = Callable[[str, str, str], "tuple[int, Any]"]


@dataclass
class Credential:
    """One rate-limit budget and the Authorization header that spends it."""

    key: str
    label: str
    token: str
    expires_at: float | None = None

    @classmethod
    def personal(cls, token: str, setting: str) -> Credential:
        """A personal access token from the setting `setting`."""
        digest = hashlib.sha256(token.encode()).hexdigest()[:12]
        return cls(key=f"token:{digest}", label=f"{setting} (ending …{token[-4:]})", token=token)

    @property
    def authorization(self) -> str:
        """The Authorization header value."""
        return f"Bearer {self.token}"


@dataclass
class AppInstallations:
    """A GitHub App: signs JWTs and keeps one installation token per owner, refreshed in time."""

    app_id: str
    private_key: str
    installation_id: int | None
    clock: Clock
    request: JwtRequest
    _owners: dict[str, int] = field(default_factory=dict)
    _tokens: dict[int, Credential] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _refresh_lock: threading.RLock = field(default_factory=threading.RLock)
    _not_installed: set[str] = field(default_factory=set)

    def jwt(self) -> str:
        """An RS256 JWT: issued 60 s in the past (clock drift), valid 10 minutes."""
        now = int(self.clock.now())
        claims = {
            "iat": now - JWT_BACKDATE_SECONDS,
            "exp": now + JWT_LIFETIME_SECONDS,
            "iss": self.app_id,
        }
        try:
            return jwt.encode(claims, self.private_key, algorithm="RS256")
        except (ValueError, TypeError) as exc:
            msg = f"private_key cannot sign a GitHub App JWT: {exc}. Check the PEM text."
            raise ConfigError(msg) from None

    def installations(self) -> list[tuple[int, str]]:
        """Every installation of the App, as (id, account login)."""
        if self.installation_id is not None:
            return [(self.installation_id, "")]
        status, body = self.request("GET", "/app/installations?per_page=100", self.jwt())
        self._raise_for_app(status, "/app/installations")
        return [(item["id"], item["account"]["login"]) for item in body]

    def credential_for(self, owner: str | None) -> Credential:
        """The installation token that reads `owner`'s repositories (fetched or refreshed)."""
        installation = self._installation_for(owner)
        cached = self._fresh(installation)
        if cached is not None:
            return cached
        # One exchange at a time: concurrent requests wait for the token the first one fetches.
        with self._refresh_lock:
            cached = self._fresh(installation)
            if cached is not None:
                return cached
            path = f"/app/installations/{installation}/access_tokens"
            status, body = self.request("POST", path, self.jwt())
            self._raise_for_app(status, path)
            expires = parse_time(body["expires_at"]).timestamp()
            credential = Credential(
                key=f"installation:{installation}",
                label=f"GitHub App {self.app_id} installation {installation}",
                token=body["token"],
                expires_at=expires,
            )
            with self._lock:
                self._tokens[installation] = credential
            logger.info(
                "GitHub App %s: installation %d token valid until %s",
                self.app_id,
                installation,
                body["expires_at"],
            )
            return credential

    def _fresh(self, installation: int) -> Credential | None:
        """The cached token, unless it expires within the refresh margin."""
        with self._lock:
            cached = self._tokens.get(installation)
        if (
            cached
            and cached.expires_at
            and (cached.expires_at - self.clock.now() > TOKEN_REFRESH_MARGIN_SECONDS)
        ):
            return cached
        return None

    def invalidate(self, credential: Credential) -> None:
        """Forget a token GitHub refused, so the next use fetches a new one."""
        with self._lock:
            self._tokens = {k: v for k, v in self._tokens.items() if v is not credential}

    def remember_owner(self, owner: str, installation: int) -> None:
        """Record which installation serves `owner` (learned from the installations list)."""
        with self._lock:
            self._owners[owner.lower()] = installation

    def _installation_for(self, owner: str | None) -> int:
        if self.installation_id is not None:
            return self.installation_id
        if owner is None:
            msg = "A GitHub App without installation_id needs an owner for every request."
            raise ConfigError(msg)
        with self._lock:
            known = self._owners.get(owner.lower())
        if known is not None:
            return known
        with self._refresh_lock:
            with self._lock:
                known = self._owners.get(owner.lower())
            if known is not None:
                return known
            if owner.lower() in self._not_installed:
                raise NotAccessibleError(
                    f"/orgs/{owner}/installation",
                    404,
                    f"GitHub App {self.app_id} is not installed on {owner}",
                )
            # An organization's installation, else a user's (GET /orgs/... is 404 for users).
            for kind in ("orgs", "users"):
                path = f"/{kind}/{owner}/installation"
                status, body = self.request("GET", path, self.jwt())
                if status == 200:
                    self.remember_owner(owner, body["id"])
                    return int(body["id"])
                if status != 404:
                    self._raise_for_app(status, path)
            self._not_installed.add(owner.lower())
        raise NotAccessibleError(
            f"/orgs/{owner}/installation",
            404,
            f"GitHub App {self.app_id} is not installed on {owner}",
        )

    def _raise_for_app(self, status: int, path: str) -> None:
        if status in (401, 403):
            msg = (
                f"GitHub refused the App JWT for {path} (status {status}): check app_id "
                f"{self.app_id!r} and that private_key is this App's current key."
            )
            raise AuthenticationError(msg)
        if status >= 400:
            msg = f"GitHub App request {path} answered {status}."
            raise AuthenticationError(msg)
