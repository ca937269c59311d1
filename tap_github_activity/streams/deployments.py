"""Deployments and their statuses: one GraphQL fetch (fetch/deployments.py) feeds both streams.

FULL_TABLE in singer's terms (the fetch keeps its own state: the newest deployment read and the
open ones) but only new deployments and new statuses are emitted: targets upsert by `id`.
"""

from __future__ import annotations

from tap_github_activity.streams.repositories import RepositoryStream

__all__ = ["DeploymentStatusesStream", "DeploymentsStream"]


class DeploymentsStream(RepositoryStream):
    """Deployments, with their latest status; a deployment comes again with each new status.

    Incremental: new deployments, and every status GitHub adds to an open one (latest status not
    failure, error or inactive: success after in_progress, inactive when a newer one succeeds).
    Not a status a client posts later to a finished deployment."""

    name = "deployments"
    family = "deployments"
    primary_keys = ("id",)
    replication_key = None
    emits_event_uuid = True


class DeploymentStatusesStream(RepositoryStream):
    """Every status of every deployment (queued, in_progress, success, failure, inactive...),
    keyed by GitHub's node id (GraphQL gives statuses no database id).

    Incremental: the statuses of new and open deployments, as for deployments."""

    name = "deployment_statuses"
    family = "deployments"
    primary_keys = ("id",)
    replication_key = None
    emits_event_uuid = True
