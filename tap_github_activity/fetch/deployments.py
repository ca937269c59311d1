"""Deployments and their statuses of one repository (streams `deployments` and
`deployment_statuses`), from GraphQL: statuses nest in the deployments connection, so 100
deployments with up to 100 statuses each cost one point (one request per deployment in REST;
each query family's cost is declared below and checked by cost_check.py).

Deployments have no `since` (REST or GraphQL) and are listed by creation. A sync reads:
- the deployments created since the bookmark, newest first, stopping at the first one known;
- the deployments still "open" at the last sync, by node id (`nodes(ids:)`): those whose latest
  status was not failure, error or inactive, i.e. which GitHub may still give a status (queued
  -> in_progress -> success/failure; success -> inactive when a newer deployment of the same
  environment succeeds). The ids of their statuses created in the newest second are kept (one
  id as itself, several as a list): a status created since is one created later, or in that
  second with another id, so a new status is seen exactly, without guessing from `updatedAt`
  (which moves when a status is added). (Before, every status id was kept: read the same way.)
Nothing is asked when the change probe (probe.py) shows the newest deployment known and, for
each open one, a latest status whose id is kept: GitHub's latest status is its newest.
Residual limit: a status that a client posts later to a deployment already finished (failure,
error, inactive) is not seen; a full sync (bookmarks cleared) reads it.

GraphQL gives deployment statuses no database id: their `id` is GitHub's node id. It gives no
production/transient flags either (REST only), and `ref` is null once the ref is deleted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tap_github_activity.cost_check import QueryFamily, register
from tap_github_activity.errors import NotAccessibleError
from tap_github_activity.fetch import Item, Keep, Request, Row
from tap_github_activity.fetch.text import without_nul
from tap_github_activity.timestamps import format_time

__all__ = ["DEPLOYMENT_FIELDS", "STATUS_FIELDS", "fetch_deployments"]

DEPLOYMENTS = "deployments"
STATUSES = "deployment_statuses"
FINISHED = frozenset({"failure", "error", "inactive"})
# Cost (GitHub's rule, expensive reading): the deployments page is one request and each
# deployment's nested `statuses` page one more, whatever its size: 1 + N requests for a page of
# N, so N = 100 is 1 point (101 requests) and the statuses page may be 100 too (nothing is
# nested in a status). A deployment with more than 100 statuses gets the rest from
# MORE_STATUSES_QUERY (1 request a page), so no status is lost to the page size.
PAGE_SIZE = 100
# Deployments asked after the first sync (the new ones are few; the point is the same).
INCREMENTAL_PAGE_SIZE = 20
STATUS_PAGE_SIZE = 100
# Open deployments asked by id in one query: 100 ids, each one `statuses` request (GitHub's
# expensive reading of `nodes(ids:)`: what is inside counted once per id), 1 point; beside an
# incremental page (1 + 20 requests) 121, still 1 point.
WATCH_BATCH = 100

# Record field -> the REST path of the same value (the schema is derived from GitHub's REST
# description; the values are read from GraphQL).
DEPLOYMENT_FIELDS = {
    "id": "id",
    "node_id": "node_id",
    "environment": "environment",
    "original_environment": "original_environment",
    "ref": "ref",
    "sha": "sha",
    "task": "task",
    "description": "description",
    "creator_login": "creator.login",
    "creator_id": "creator.id",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
# (`state` is GraphQL's, which knows more states than REST's enum: see the derive script.)
STATUS_FIELDS = {
    "description": "description",
    "environment": "environment",
    "creator_login": "creator.login",
    "creator_id": "creator.id",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "log_url": "log_url",
    "environment_url": "environment_url",
}

ACTOR = "login ... on User { databaseId } ... on Bot { databaseId }"
STATUS = (
    "id state description environment environmentUrl logUrl createdAt updatedAt"
    f" creator {{ {ACTOR} }}"
)
DEPLOYMENT = f"""
fragment D on Deployment {{
  id databaseId commitOid createdAt updatedAt description environment originalEnvironment task
  ref {{ name }}
  creator {{ {ACTOR} }}
  latestStatus {{ id state createdAt }}
  statuses(first: {STATUS_PAGE_SIZE}) {{
    nodes {{ {STATUS} }} pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
NEWEST = """
  repository(owner: $owner, name: $name) {
    deployments(first: $first, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
      nodes { ...D }
      pageInfo { hasNextPage endCursor }
    }
  }"""
OPEN = "nodes(ids: $ids) { ... on Deployment { ...D } }"
NEWEST_VARIABLES = "$owner: String!, $name: String!, $first: Int!, $after: String"
NEWEST_QUERY = (
    f"query DeploymentPage({NEWEST_VARIABLES}) {{ {NEWEST} rateLimit {{ cost }} }}" + DEPLOYMENT
)
# The first page of new deployments and the first open ones, in one request (one point).
NEWEST_AND_OPEN_QUERY = (
    f"query DeploymentPageAndOpen({NEWEST_VARIABLES}, $ids: [ID!]!) "
    f"{{ {NEWEST} {OPEN} rateLimit {{ cost }} }}" + DEPLOYMENT
)
OPEN_QUERY = f"query OpenDeployments($ids: [ID!]!) {{ {OPEN} rateLimit {{ cost }} }}" + DEPLOYMENT
MORE_STATUSES_QUERY = f"""
query DeploymentStatuses($id: ID!, $after: String) {{
  node(id: $id) {{
    ... on Deployment {{
      statuses(first: {STATUS_PAGE_SIZE}, after: $after) {{
        nodes {{ {STATUS} }} pageInfo {{ hasNextPage endCursor }}
      }}
    }}
  }}
  rateLimit {{ cost }}
}}"""


def _page_requests(variables: Mapping[str, Any]) -> int:
    return 1 + int(variables["first"])


def _open_requests(variables: Mapping[str, Any]) -> int:
    return len(variables["ids"])


for _family in (
    QueryFamily(
        "DeploymentPage",
        "deployments page",
        lambda _query, variables: _page_requests(variables),
        page_variable="first",
        designed=PAGE_SIZE,
        smaller="pages of {size} deployments",
    ),
    QueryFamily(
        "DeploymentPageAndOpen",
        "deployments page with open deployments",
        lambda _query, variables: _page_requests(variables) + _open_requests(variables),
        page_variable="first",
        designed=INCREMENTAL_PAGE_SIZE,
        smaller="pages of {size} deployments",
    ),
    QueryFamily(
        "OpenDeployments",
        "open deployments",
        lambda _query, variables: _open_requests(variables),
        designed=WATCH_BATCH,
        smaller="{size} open deployments a query",
    ),
    QueryFamily("DeploymentStatuses", "more deployment statuses", lambda _query, _v: 1),
):
    register(_family)


def fetch_deployments(request: Request) -> Iterator[Item]:
    """The new deployments and the new statuses of the open ones, then the state (kept by
    `deployments`; statuses come nested whatever is selected, and only the wanted rows are
    yielded). Nothing when the change probe shows no change since the state."""
    reader = _Reader(request)
    if reader.unchanged():
        return
    for item in reader.rows():
        if request.wants(item.stream):
            yield item
    yield Keep(DEPLOYMENTS, reader.state())


class _Reader:
    """One repository's read. Its state: the newest creation time read and the ids created
    then, and `open`: node id -> status node ids of each deployment that may still change."""

    def __init__(self, request: Request) -> None:
        self.request = request
        saved = request.state.get(DEPLOYMENTS) or {}
        self.known_open: dict[str, list[str]] = {
            node_id: [ids] if isinstance(ids, str) else list(ids)
            for node_id, ids in (saved.get("open") or {}).items()
        }
        self.still_open: dict[str, str | list[str]] = {}
        newest = saved.get("newest_created_at")
        start = request.settings.start_date
        if newest is None and start is not None:
            newest = format_time(start)  # a first sync reads from start_date on
        self.newest = _Newest(newest, set(saved.get("newest_ids") or ()))

    def unchanged(self) -> bool:
        """Whether the change probe shows that a read would find nothing: no deployment created
        since the state's newest, and each open one's latest status one the state knows."""
        changes = self.request.changes()
        if (
            changes is None
            or not changes.deployments_asked
            or not self.request.state.get(DEPLOYMENTS)
        ):
            return False  # not seen, or a first sync
        newest = changes.newest_deployment
        if newest is not None and not self.newest.known_at(newest.at, newest.database_id):
            return False
        for node_id, statuses in self.known_open.items():
            if node_id not in changes.latest_statuses:
                return False  # not seen, or deleted: the read drops it
            latest = changes.latest_statuses[node_id]
            # GitHub's latest status is the newest: a status added since is not known.
            if (latest is None and statuses) or (latest is not None and latest not in statuses):
                return False
        return True

    def state(self) -> dict[str, Any]:
        return {
            "newest_created_at": self.newest.latest,
            "newest_ids": sorted(self.newest.latest_ids),
            "open": self.still_open,
        }

    def rows(self) -> Iterator[Row]:
        variables: dict[str, Any] = {
            "first": PAGE_SIZE if self.newest.bookmark is None else INCREMENTAL_PAGE_SIZE,
            "after": None,
        }
        ids = list(self.known_open)
        if ids:
            variables["ids"] = ids[:WATCH_BATCH]
            first_page = self._query(NEWEST_AND_OPEN_QUERY, variables)
        else:
            first_page = self._query(NEWEST_QUERY, variables)
        yield from self._open(first_page)
        checks = self.request.client.ledger.cost_check
        start = len(variables.get("ids", ()))
        while start < len(ids):
            batch = ids[start : start + checks.size("OpenDeployments", WATCH_BATCH)]
            start += len(batch)
            yield from self._open(self._query(OPEN_QUERY, {"ids": batch}))
        yield from self._created(first_page)

    def _open(self, data: Mapping[str, Any]) -> Iterator[Row]:
        """The new statuses of deployments open at the last sync (`nodes` of an answer)."""
        for node in data.get("nodes") or []:
            if not node:  # deleted: nothing more will come
                continue
            statuses = self._statuses(node)
            added = _created_since(statuses, set(self.known_open.get(node["id"], ())))
            if added:
                yield Row(DEPLOYMENTS, _deployment(node))
                for status in added:
                    yield Row(STATUSES, _status(node, status))
            self._keep_if_open(node, statuses)

    def _created(self, data: Mapping[str, Any]) -> Iterator[Row]:
        """The deployments created since the last sync, newest first, with their statuses,
        from the first page's answer on."""
        while True:
            connection = (data.get("repository") or {}).get("deployments") or {}
            for node in connection.get("nodes") or []:
                if self.newest.known(node):
                    return  # newest first: everything from here on was read before
                if node["id"] in self.known_open:
                    continue  # read with the open ones
                statuses = self._statuses(node)
                yield Row(DEPLOYMENTS, _deployment(node))
                for status in statuses:
                    yield Row(STATUSES, _status(node, status))
                self._keep_if_open(node, statuses)
                self.newest.read(node)
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return
            data = self._query(NEWEST_QUERY, {"first": PAGE_SIZE, "after": page.get("endCursor")})

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        request = self.request
        repository = request.repository
        if "$owner" in query:
            variables = {"owner": repository.owner, "name": repository.name, **variables}
        data = request.client.graphql(query, variables, stream=DEPLOYMENTS, owner=repository.owner)
        if "$owner" in query and data.get("repository") is None:
            # A repository GitHub does not show (null, NOT_FOUND) is not accessible.
            raise NotAccessibleError(
                request.settings.graphql_url, 404, "GraphQL NOT_FOUND: repository not visible"
            )
        return data

    def _statuses(self, node: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every status of a deployment: the nested page, then any further pages."""
        connection = node.get("statuses") or {}
        statuses = list(connection.get("nodes") or [])
        page = connection.get("pageInfo") or {}
        while page.get("hasNextPage"):
            data = self._query(
                MORE_STATUSES_QUERY, {"id": node["id"], "after": page.get("endCursor")}
            )
            connection = (data.get("node") or {}).get("statuses") or {}
            statuses.extend(connection.get("nodes") or [])
            page = connection.get("pageInfo") or {}
        return statuses

    def _keep_if_open(self, node: Mapping[str, Any], statuses: list[dict[str, Any]]) -> None:
        latest = node.get("latestStatus")
        if latest is None or str(latest["state"]).lower() not in FINISHED:
            newest = max((str(s["createdAt"]) for s in statuses), default=None)
            ids = sorted(s["id"] for s in statuses if str(s["createdAt"]) == newest)
            self.still_open[node["id"]] = ids[0] if len(ids) == 1 else ids  # one: as itself


def _created_since(statuses: list[dict[str, Any]], known: set[str]) -> list[dict[str, Any]]:
    """The statuses created after those `known` (ids kept at the last sync: those of its newest
    second, or all): later than the newest of them, or in its second with another id."""
    seen = [str(s["createdAt"]) for s in statuses if s["id"] in known]
    if not seen:
        return statuses  # none known (a deployment read for the first time)
    newest = max(seen)
    return [
        s
        for s in statuses
        if str(s["createdAt"]) > newest or (str(s["createdAt"]) == newest and s["id"] not in known)
    ]


def _deployment(node: Mapping[str, Any]) -> dict[str, Any]:
    latest = node.get("latestStatus") or {}
    creator = node.get("creator") or {}
    record = {
        "id": node["databaseId"],
        "node_id": node["id"],
        "environment": node.get("environment"),
        "original_environment": node.get("originalEnvironment"),
        "ref": (node.get("ref") or {}).get("name"),
        "sha": node.get("commitOid"),
        "task": node.get("task"),
        "description": node.get("description"),
        "creator_login": creator.get("login"),
        "creator_id": creator.get("databaseId"),
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "latest_status_state": str(latest["state"]).lower() if latest else None,
        "latest_status_at": latest.get("createdAt"),
    }
    return without_nul(record)  # type: ignore[no-any-return]


def _status(deployment: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    creator = status.get("creator") or {}
    record = {
        "id": status["id"],
        "deployment_id": deployment["databaseId"],
        "state": str(status["state"]).lower(),
        "description": status.get("description"),
        "environment": status.get("environment"),
        "creator_login": creator.get("login"),
        "creator_id": creator.get("databaseId"),
        "created_at": status["createdAt"],
        "updated_at": status.get("updatedAt"),
        "log_url": status.get("logUrl"),
        "environment_url": status.get("environmentUrl"),
    }
    return without_nul(record)  # type: ignore[no-any-return]


class _Newest:
    """The newest creation time read (GitHub's timestamps order as strings) and the ids
    created then: the bookmark of the newest-first walk."""

    def __init__(self, bookmark: str | None, ids: set[int]) -> None:
        self.bookmark, self.bookmark_ids = bookmark, ids
        self.latest, self.latest_ids = bookmark, set(ids)

    def known(self, node: Mapping[str, Any]) -> bool:
        return self.known_at(str(node["createdAt"]), int(node["databaseId"]))

    def known_at(self, created: str, database_id: int) -> bool:
        if self.bookmark is None:
            return False
        return created < self.bookmark or (
            created == self.bookmark and database_id in self.bookmark_ids
        )

    def read(self, node: Mapping[str, Any]) -> None:
        created = str(node["createdAt"])
        if self.latest is None or created > self.latest:
            self.latest, self.latest_ids = created, set()
        if created == self.latest:
            self.latest_ids.add(int(node["databaseId"]))
