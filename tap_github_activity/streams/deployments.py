"""Deployments and their statuses: one GraphQL fetch (fetch/deployments.py) feeds both streams.

FULL_TABLE in singer's terms (the fetch keeps its own state: the newest deployment read and the
open ones) but only new deployments and new statuses are emitted: targets upsert by `id`.
"""

from __future__ import annotations

from tap_github_activity.streams.repositories import RepositoryStream

__all__ = ["DeploymentStatusesStream", "DeploymentsStream"]


class DeploymentsStream(RepositoryStream):
    """Deployments, with their latest status; a deployment comes again with each new status."""

    name = "deployments"
    family = "deployments"
    primary_keys = ("id",)
    replication_key = None
    emits_event_uuid = True


class DeploymentStatusesStream(RepositoryStream):
    """Every status of every deployment (queued, in_progress, success, failure, inactive...),
    keyed by GitHub's node id (GraphQL gives statuses no database id)."""

    name = "deployment_statuses"
    family = "deployments"
    primary_keys = ("id",)
    replication_key = None
    emits_event_uuid = True
