"""The dbt models in transform/: the real `meltano run tap-github-activity <loader>
dbt-<warehouse>:build` loads the simulated world and builds the marts, whose figures must equal
what this test computes on its own from the simulator's ground truth (github_simulator/truth.py),
on DuckDB and on PostgreSQL alike. Two loads on different days check that traffic is kept past
GitHub's 14 days.
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from github_simulator import FakeClock, GitHubSimulator, World
from github_simulator.actions import latest_attempts
from github_simulator.commits import git
from github_simulator.truth import EXPECTED, MUTATIONS
from tests.e2e.destinations import Destination, destination
from tests.e2e.project import EXTRACTOR, ROOT, MeltanoProject, require_installed
from tests.e2e.simulated import realtime_world, tap_settings

pytestmark = pytest.mark.meltano

WAREHOUSES = {"duckdb": "dbt-duckdb", "postgres": "dbt-postgres"}
MARTS = (
    "activity_events",
    "production_deployments",
    "deployed_changes",
    "dora_weekly",
    "contributor_activity_daily",
    "contributor_activity_weekly",
    "pull_request_flow_weekly",
    "ci_health_weekly",
    "repository_health",
    "traffic_daily",
)
FAILED = {"failure", "timed_out", "startup_failure"}
DAYS_BETWEEN_LOADS = 3


@dataclass
class Loaded:
    """One warehouse after two loads and builds, and the world's truth at each load."""

    destination: Destination
    world: World
    seen_attempts: set[tuple[int, int]]

    def mart(self, name: str) -> list[dict[str, Any]]:
        return self.destination.rows(name, schema="analytics")


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Loaded]]:
    """Both warehouses loaded from the same world, twice, DAYS_BETWEEN_LOADS days apart."""
    workdir = tmp_path_factory.mktemp("models")
    clock, world = realtime_world()
    with (
        GitHubSimulator(world) as github,
        destination("duckdb", workdir / "duckdb") as duckdb_tables,
        destination("postgres", workdir / "postgres") as postgres_tables,
    ):
        loaded = {"duckdb": duckdb_tables, "postgres": postgres_tables}
        projects = {}
        for warehouse, tables in loaded.items():
            require_installed(tables.loader, WAREHOUSES[warehouse])
            projects[warehouse] = MeltanoProject(
                workdir / warehouse / "meltano",
                {**tap_settings(github.api_url), **tables.env(), **tables.transformer_env()},
            )
        seen: set[tuple[int, int]] = set()
        for load in range(2):
            if load:
                _visited_daily(clock, world, DAYS_BETWEEN_LOADS)
                for name, mutation in MUTATIONS.items():  # a day of every kind of activity
                    if name != "traffic":
                        mutation(world, random.Random(f"models:{name}"))  # noqa: S311 -- data
            seen |= latest_attempts(world)
            for warehouse, project in projects.items():
                transformer = f"{WAREHOUSES[warehouse]}:build"
                run = project.run("run", EXTRACTOR, loaded[warehouse].loader, transformer)
                assert "Completed successfully" in run.log, run.tail()
        yield {name: Loaded(tables, world, seen) for name, tables in loaded.items()}


def _visited_daily(clock: FakeClock, world: World, days: int) -> None:
    """`days` days pass, each with views and clones of every repository."""
    for day in range(days):
        clock.advance(86400)
        MUTATIONS["traffic"](world, random.Random(f"models:traffic:{day}"))  # noqa: S311 -- data


# -- the truth, computed here from the simulator's ------------------------------------------


def _time(value: str | None) -> datetime | None:
    return (
        datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None) if value else None
    )


def _day(value: Any) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else value.date()


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def expected_daily_activity(world: World) -> dict[tuple[Any, ...], Counter[str]]:
    """(day, repo_id, person) -> counts, straight from the simulator's records."""
    daily: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for (repo_id, _sha), commit in EXPECTED["commits"](world).items():
        person = commit["author_login"] or commit["author_name"]
        counts = daily[(_time(commit["committed_at"]).date(), repo_id, person)]
        counts["commits"] += 1
        counts["lines_added"] += commit["additions"] or 0
        counts["lines_removed"] += commit["deletions"] or 0
    for pull in EXPECTED["pull_requests"](world).values():
        daily[(_time(pull["created_at"]).date(), pull["repo_id"], pull["author_login"])][
            "pull_requests_opened"
        ] += 1
        if pull["merged"]:
            daily[(_time(pull["merged_at"]).date(), pull["repo_id"], pull["author_login"])][
                "pull_requests_merged"
            ] += 1
    for review in EXPECTED["pull_request_reviews"](world).values():
        if review.get("submitted_at"):
            key = (_time(review["submitted_at"]).date(), review["repo_id"], review["author_login"])
            daily[key]["reviews_submitted"] += 1
    for comment in EXPECTED["issue_comments"](world).values():
        key = (_time(comment["created_at"]).date(), comment["repo_id"], comment["author_login"])
        daily[key]["issue_comments"] += 1
    return daily


# -- the marts against it ---------------------------------------------------------------------


@pytest.mark.parametrize("warehouse", sorted(WAREHOUSES))
def test_contributor_activity_daily_counts_every_action(warehouses, warehouse):
    loaded = warehouses[warehouse]
    truth = expected_daily_activity(loaded.world)
    fields = (
        "commits",
        "lines_added",
        "lines_removed",
        "pull_requests_opened",
        "pull_requests_merged",
        "reviews_submitted",
        "issue_comments",
    )
    built = {
        (_day(row["day"]), row["repo_id"], row["person"]): {f: int(row[f]) for f in fields}
        for row in loaded.mart("contributor_activity_daily")
    }
    expected = {key: {f: counts[f] for f in fields} for key, counts in truth.items()}
    assert built == expected
    weekly = loaded.mart("contributor_activity_weekly")
    assert sum(int(row["commits"]) for row in weekly) == len(EXPECTED["commits"](loaded.world))


@pytest.mark.parametrize("warehouse", sorted(WAREHOUSES))
def test_pull_request_flow_weekly(warehouses, warehouse):
    loaded = warehouses[warehouse]
    pulls = list(EXPECTED["pull_requests"](loaded.world).values())
    opened = Counter((p["repo_id"], _week(_time(p["created_at"]).date())) for p in pulls)
    merged: dict[tuple[int, date], list[dict[str, Any]]] = defaultdict(list)
    for pull in pulls:
        if pull["merged"]:
            merged[(pull["repo_id"], _week(_time(pull["merged_at"]).date()))].append(pull)
    built = {
        (row["repo_id"], _day(row["week_start"])): row
        for row in loaded.mart("pull_request_flow_weekly")
    }
    assert set(built) == set(opened) | set(merged)
    for key, row in built.items():
        assert row["opened"] == opened.get(key, 0), key
        week_merged = merged.get(key, [])
        assert row["merged"] == len(week_merged), key
        if week_merged:
            hours = statistics.median(
                (_time(p["merged_at"]) - _time(p["created_at"])).total_seconds() / 3600
                for p in week_merged
            )
            assert float(row["median_hours_to_merge"]) == pytest.approx(hours), key
            unreviewed = sum(p["review_count"] == 0 for p in week_merged) / len(week_merged)
            assert float(row["share_merged_without_review"]) == pytest.approx(unreviewed), key


@pytest.mark.parametrize("warehouse", sorted(WAREHOUSES))
def test_ci_health_weekly_failure_and_rerun_rates(warehouses, warehouse):
    loaded = warehouses[warehouse]
    attempts = EXPECTED["workflow_runs"](loaded.world, loaded.seen_attempts)
    latest: dict[int, tuple[int, dict[str, Any]]] = {}
    for (run_id, attempt), row in attempts.items():
        if run_id not in latest or attempt > latest[run_id][0]:
            latest[run_id] = (attempt, row)
    groups: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "attempts": 0, "completed": 0, "failed": 0, "reruns": 0}
    )
    for row in attempts.values():
        key = (row["repo_id"], row["workflow_id"], _week(_time(row["created_at"]).date()))
        groups[key]["attempts"] += 1
    for last_attempt, row in latest.values():
        group = groups[(row["repo_id"], row["workflow_id"], _week(_time(row["created_at"]).date()))]
        group["runs"] += 1
        group["completed"] += row["status"] == "completed"
        group["failed"] += row["conclusion"] in FAILED
        group["reruns"] += last_attempt > 1
    built = {
        (row["repo_id"], row["workflow_id"], _day(row["week_start"])): row
        for row in loaded.mart("ci_health_weekly")
    }
    assert set(built) == set(groups)
    for key, group in groups.items():
        row = built[key]
        assert (row["runs"], row["attempts"], row["completed_runs"], row["failed_runs"]) == (
            group["runs"],
            group["attempts"],
            group["completed"],
            group["failed"],
        ), key
        if group["completed"]:
            assert float(row["failure_rate"]) == pytest.approx(group["failed"] / group["completed"])
        assert float(row["rerun_rate"]) == pytest.approx(group["reruns"] / group["runs"])


@pytest.mark.parametrize("warehouse", sorted(WAREHOUSES))
def test_traffic_daily_keeps_days_beyond_githubs_14(warehouses, warehouse):
    loaded = warehouses[warehouse]
    # Every day served by either load, with the last value served (the truth of both loads).
    views = EXPECTED["traffic_views"](loaded.world)
    clones = EXPECTED["traffic_clones"](loaded.world)
    expected = {
        (repo_id, _time(stamp).date()): (
            views.get((repo_id, stamp), {}).get("count", 0),
            clones.get((repo_id, stamp), {}).get("count", 0),
        )
        for repo_id, stamp in {*views, *clones}
    }
    built = {
        (row["repo_id"], _day(row["day"])): (row["views"], row["clones"])
        for row in loaded.mart("traffic_daily")
    }
    assert built == expected
    per_repository = Counter(repo_id for repo_id, _day_ in built)
    assert per_repository, "no traffic loaded"
    assert max(per_repository.values()) == 14 + DAYS_BETWEEN_LOADS


@pytest.mark.parametrize("warehouse", sorted(WAREHOUSES))
def test_activity_events_have_unique_stable_uuids(warehouses, warehouse):
    events = warehouses[warehouse].mart("activity_events")
    uuids = [str(row["event_uuid"]) for row in events]
    assert len(uuids) == len(set(uuids))
    kinds = Counter(row["kind"] for row in events)
    world = warehouses[warehouse].world
    assert kinds["commit"] == len(EXPECTED["commits"](world))
    assert kinds["pull_request_opened"] == len(EXPECTED["pull_requests"](world))


def test_both_warehouses_give_the_same_answers(warehouses):
    for mart in MARTS:
        answers = [
            sorted((_comparable(row) for row in warehouses[w].mart(mart)), key=repr)
            for w in sorted(WAREHOUSES)
        ]
        assert answers[0], f"{mart} is empty"
        assert answers[0] == answers[1], mart


def _comparable(row: dict[str, Any]) -> tuple[Any, ...]:
    values = []
    for name in sorted(row):
        value = row[name]
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None).isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, float) or type(value).__name__ == "Decimal":
            value = round(float(value), 6)
        elif value is not None and not isinstance(value, (int, str, bool)):
            value = str(value)
        values.append((name, value))
    return tuple(values)


def _documented_mart_queries() -> list[str]:
    readme = (ROOT / "docs" / "models.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", readme, flags=re.DOTALL)
    statements = [s.strip() for block in blocks for s in block.split(";")]
    return [s for s in statements if "analytics." in s]


@pytest.mark.parametrize("warehouse", sorted(WAREHOUSES))
def test_documented_mart_queries_run(warehouses, warehouse):
    queries = _documented_mart_queries()
    assert len(queries) >= 3
    for query in queries:
        assert warehouses[warehouse].destination.query(query), query


# -- DORA -------------------------------------------------------------------------------------


@dataclass
class Deployed:
    key: str
    repo_id: int
    environment: str
    sha: str
    outcome: str
    finished_at: datetime | None


def expected_production_deployments(world: World) -> list[Deployed]:
    """GitHub deployments to production-like environments, finished by their first success (or
    failure) status: the simulator's deployments have no workflow-run fallback to consider."""
    statuses: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for status in EXPECTED["deployment_statuses"](world).values():
        statuses[status["deployment_id"]].append(status)
    deployed = []
    for (deployment_id,), deployment in EXPECTED["deployments"](world).items():
        if not re.search("production|prod", deployment["environment"], re.IGNORECASE):
            continue
        times = defaultdict(list)
        for status in statuses[deployment_id]:
            times[status["state"]].append(_time(status["created_at"]))
        failure = min(times["failure"] + times["error"], default=None)
        success = min(times["success"], default=None)
        outcome = "success" if success else "failure" if failure else "pending"
        deployed.append(
            Deployed(
                f"deployment:{deployment_id}",
                deployment["repo_id"],
                deployment["environment"],
                deployment["sha"],
                outcome,
                success or failure,
            )
        )
    return deployed


def expected_deployed_changes(world: World) -> dict[tuple[str, str], float]:
    """(deployment key, commit sha) -> lead time in hours, by ancestry in the simulator's git."""
    commits = EXPECTED["commits"](world)
    repositories = {repo.id: repo for repo in world.repos.values()}
    successful: dict[tuple[int, str], list[Deployed]] = defaultdict(list)
    for deployment in expected_production_deployments(world):
        if deployment.outcome == "success":
            successful[(deployment.repo_id, deployment.environment)].append(deployment)
    changes = {}
    for (repo_id, _environment), deployments in successful.items():
        data = git(world, repositories[repo_id])
        deployments.sort(key=lambda d: (d.finished_at, d.key))
        for previous, deployment in itertools.pairwise(deployments):
            shipped = data.reachable(deployment.sha) - data.reachable(previous.sha)
            for sha in shipped:
                committed = _time(commits[(repo_id, sha)]["committed_at"])
                hours = (deployment.finished_at - committed).total_seconds() / 3600
                changes[(deployment.key, sha)] = hours
    return changes


@pytest.mark.parametrize("warehouse", sorted(WAREHOUSES))
def test_production_deployments_and_the_changes_they_shipped(warehouses, warehouse):
    loaded = warehouses[warehouse]
    expected = {d.key: d for d in expected_production_deployments(loaded.world)}
    built = {row["deployment_key"]: row for row in loaded.mart("production_deployments")}
    assert set(built) == set(expected)
    for key, deployment in expected.items():
        row = built[key]
        assert (row["outcome"], row["sha"]) == (deployment.outcome, deployment.sha), key
        finished = row["finished_at"].replace(tzinfo=None) if row["finished_at"] else None
        assert finished == deployment.finished_at, key
    changes = expected_deployed_changes(loaded.world)
    assert changes, "no deployment shipped a change: the test would prove nothing"
    shipped = {
        (row["deployment_key"], row["commit_sha"]): float(row["lead_time_hours"])
        for row in loaded.mart("deployed_changes")
    }
    assert shipped.keys() == changes.keys()
    for key, hours in changes.items():
        assert shipped[key] == pytest.approx(hours), key


@pytest.mark.parametrize("warehouse", sorted(WAREHOUSES))
def test_dora_weekly_frequency_lead_time_failures_and_restores(warehouses, warehouse):
    loaded = warehouses[warehouse]
    world = loaded.world
    deployments = [d for d in expected_production_deployments(world) if d.finished_at]
    successful = sorted(
        (d for d in deployments if d.outcome == "success"), key=lambda d: (d.finished_at, d.key)
    )
    incidents = [i for i in EXPECTED["issues"](world).values() if "incident" in i["labels"]]
    causes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for incident in incidents:
        before = [
            d
            for d in successful
            if d.repo_id == incident["repo_id"] and d.finished_at <= _time(incident["created_at"])
        ]
        if before:
            causes[before[-1].key].append(incident)
    weeks: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {
            "deployments": 0,
            "failed": 0,
            "caused": 0,
            "lead": [],
            "incidents": 0,
            "restore": [],
        }
    )
    for d in deployments:
        week = weeks[(d.repo_id, d.environment, _week(d.finished_at.date()))]
        week["deployments" if d.outcome == "success" else "failed"] += 1
        week["caused"] += d.key in causes
        if d.outcome == "failure":
            later = [
                s.finished_at
                for s in successful
                if s.repo_id == d.repo_id
                and s.environment == d.environment
                and s.finished_at > d.finished_at
            ]
            restore = weeks[(d.repo_id, d.environment, _week(d.finished_at.date()))]["restore"]
            if later:
                restore.append((min(later) - d.finished_at).total_seconds() / 3600)
    by_key = {d.key: d for d in deployments}
    for key, caused in causes.items():
        for incident in caused:
            started = _time(incident["created_at"])
            week = weeks[(by_key[key].repo_id, by_key[key].environment, _week(started.date()))]
            week["incidents"] += 1
            if incident["closed_at"]:
                week["restore"].append(
                    (_time(incident["closed_at"]) - started).total_seconds() / 3600
                )
    for (key, _sha), hours in expected_deployed_changes(world).items():
        d = by_key[key]
        weeks[(d.repo_id, d.environment, _week(d.finished_at.date()))]["lead"].append(hours)
    built = {
        (row["repo_id"], row["environment"], _day(row["week_start"])): row
        for row in loaded.mart("dora_weekly")
    }
    assert set(built) == set(weeks)
    assert any(w["incidents"] for w in weeks.values()), "no incident: the test would prove little"
    for key, week in weeks.items():
        row = built[key]
        assert (row["deployments"], row["failed_deployments"], row["incidents"]) == (
            week["deployments"],
            week["failed"],
            week["incidents"],
        ), key
        assert row["changes_deployed"] == len(week["lead"]), key
        if week["lead"]:
            assert float(row["median_lead_time_hours"]) == pytest.approx(
                statistics.median(week["lead"])
            )
        finished = week["deployments"] + week["failed"]
        if finished:
            rate = (week["failed"] + week["caused"]) / finished
            assert float(row["change_failure_rate"]) == pytest.approx(rate), key
        if week["restore"]:
            assert float(row["median_hours_to_restore"]) == pytest.approx(
                statistics.median(week["restore"])
            ), key
