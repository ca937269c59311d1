"""What happens to a (repository, family) whose fetch failed: the one place for that policy."""

from __future__ import annotations

import logging

from tap_github_activity.accounting import RunSummary
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.fetch import Repository

__all__ = ["TRAFFIC_SUMMARY_NAME", "handle_failure"]

# The name the run summary counts repositories without traffic access under.
TRAFFIC_SUMMARY_NAME = "traffic"
TRAFFIC = "traffic"

logger = logging.getLogger("tap_github_activity")


def handle_failure(
    stream: str,
    family: str,
    repository: Repository,
    error: Exception,
    *,
    summary: RunSummary,
    reported: set[tuple[str, Repository]],
) -> None:
    """Skip a repository these credentials may not read (warned about, counted in the run
    summary, once per family for traffic); re-raise anything else."""
    if not isinstance(error, NotAccessibleError):
        raise error
    if family == TRAFFIC:
        if (family, repository) in reported:
            return
        reported.add((family, repository))
        logger.warning(
            "Skipping the traffic of %s: %s answered %s (%s). Traffic needs write access "
            "to the repository (classic token: repo scope; fine-grained token or GitHub "
            "App: Administration read permission).",
            repository.full_name,
            error.url,
            error.status,
            error.message,
        )
        summary.skip(
            TRAFFIC_SUMMARY_NAME,
            repository.full_name,
            f"{error.status} {error.message}".strip(),
        )
        return
    logger.warning(
        "%s: skipping %s: %s answered %s (%s)",
        stream,
        repository.full_name,
        error.url,
        error.status,
        error.message,
    )
    summary.skip(stream, repository.full_name, str(error.status))
