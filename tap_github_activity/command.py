"""What the tap's command line adds to singer-sdk's: `--test`'s connection report, the tap's own
errors as one line, and the exit code of a run that failed in part (failures.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

import click

from tap_github_activity.accounting import RunSummary
from tap_github_activity.client import GitHubClient
from tap_github_activity.errors import GitHubActivityError
from tap_github_activity.failures import PartialFailureError

__all__ = ["report_connection", "with_exit_codes"]

# Repositories named in the connection report, at most.
NAMED = 20


def report_connection(
    logger: logging.Logger,
    client: GitHubClient,
    repositories: Callable[[], list[dict[str, Any]]],
    summary: RunSummary,
) -> None:
    """Who the credentials are, their rate limits, and the selection (resolved after the
    credentials were checked)."""
    who, credential = client.viewer()
    if who == credential.label or who.startswith(credential.label + " "):
        logger.info("Authenticated as %s", who)  # a GitHub App installation
    else:
        logger.info("Authenticated as %s with %s", who, credential.label)
    selected = repositories()
    for resource in ("core", "graphql"):
        budget = client.limits.remaining(credential.key, resource)
        if budget is not None:
            logger.info(
                "Rate limit %s: %d of %d points left", resource, budget.remaining, budget.limit
            )
    logger.info(
        "%d repositories selected: %s",
        len(selected),
        ", ".join(r["full_name"] for r in selected[:NAMED])
        + (" ..." if len(selected) > NAMED else ""),
    )
    client.ledger.log_summary(logger, summary)


def with_exit_codes(command: click.Command, logger: logging.Logger) -> click.Command:
    """singer-sdk's command, with the tap's errors logged as one line (no traceback) and a run
    that failed in part exiting with its own code, through click."""
    default_hook = command.excepthook  # type: ignore[attr-defined]

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, GitHubActivityError):
            logger.error("%s", exc)
            return
        default_hook(exc_type, exc, tb)

    command.excepthook = excepthook  # type: ignore[attr-defined]
    invoke = command.callback
    assert invoke is not None

    def callback(**params: Any) -> Any:
        try:
            return invoke(**params)
        except PartialFailureError as exc:
            logger.error("%s", exc)
            raise click.exceptions.Exit(exc.exit_code) from None

    command.callback = callback
    return command
