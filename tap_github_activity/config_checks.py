"""Checks of the configuration as a whole, before any request: keys nobody reads (a misspelled
setting would be silently ignored) and a GitHub App key that cannot sign."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tap_github_activity.errors import ConfigError

__all__ = ["refuse_unknown", "signing_key"]

# Read by singer-sdk from any tap's config although no capability declares it.
SDK_READS = frozenset({"emit_activate_version_messages"})
# Settings of earlier versions -> what replaced them, and how.
REPLACED = {
    "workflow_runs_lookback_days": (
        "workflow_runs_rerun_window_days",
        "runs are now watched over GitHub's whole re-run window, 30 days by default",
    ),
}


def refuse_unknown(config: dict[str, Any], ours: list[str], builtin: Iterable[str]) -> None:
    """A misspelled setting would be ignored (`repos` would select every repository): refuse
    every key that neither the tap nor singer-sdk reads, naming the closest valid one."""
    known = set(ours) | set(builtin) | SDK_READS
    unknown = [key for key in config if key not in known]
    if unknown:
        raise ConfigError("; ".join(_unknown(key, ours) for key in unknown))


def _unknown(key: str, valid: list[str]) -> str:
    if key in REPLACED:
        replacement, why = REPLACED[key]
        return f"setting {key!r} was replaced by {replacement!r} ({why}): remove it or rename it"
    lowered = key.lower().replace("-", "_")
    prefixed = [name for name in valid if name.startswith(lowered) or lowered.startswith(name)]
    close = difflib.get_close_matches(
        lowered, prefixed or valid, n=1, cutoff=0 if prefixed else 0.5
    )
    if close:
        return f"unknown setting {key!r}: did you mean {close[0]!r}?"
    return f"unknown setting {key!r}: `tap-github-activity --about` lists the settings"


def signing_key(pem: str, where: str) -> str:
    """The PEM text, once it is known to load as an RSA private key (the App's JWT is signed
    with it at the first request: a bad key must fail here, before any)."""
    fix = "use the private key (.pem) generated in the App's settings on GitHub, whole"
    if "PUBLIC KEY-----" in pem:
        msg = f"{where} holds a public key, not the App's private key: {fix}."
        raise ConfigError(msg)
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = str(exc).split(". See https://", 1)[0]
        msg = f"{where} is not a readable RSA private key ({reason}): {fix}."
        raise ConfigError(msg) from None
    if not isinstance(key, RSAPrivateKey):
        msg = f"{where} is not an RSA key (GitHub Apps sign with RS256): {fix}."
        raise ConfigError(msg)
    return pem
