"""GitHub Actions: workflow runs, their attempts (re-runs) and jobs.

REST: GET /repos/{owner}/{repo}/actions/runs lists the latest attempt of each run, newest first,
filtered by `created` (GitHub's date syntax: >=, >, <=, <, a..b), status, branch, event, actor,
head_sha; a filtered listing serves at most 1,000 runs. GET .../runs/{run_id}/attempts/{n} is one
attempt; GET .../runs/{run_id}/jobs (filter=latest|all) and .../attempts/{n}/jobs list jobs.
GraphQL: a run is a `WorkflowRun` node ("WFR_<id>"); its `checkSuite.checkRuns` are the jobs of
its latest attempt (a job's id is its check run's databaseId).

A repository in `ActionsStore.unavailable` answers every Actions request with that status (403:
the credential lacks the Actions permission; 404: Actions is disabled).
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from github_simulator.graphql_api import NODE_RESOLVERS, connection
from github_simulator.rest_core import NAME, OWNER, can_see, repo_payload, visible_repo
from github_simulator.server import ROUTER, HTTPError, Listing, Request
from github_simulator.world import FAMILIES, Account, Repo, World, iso

RUN = r"(?P<run_id>\d+)"
ATTEMPT = r"(?P<attempt>\d+)"
LISTING_CAP = 1000  # GitHub serves at most this many runs of a filtered listing
CAPPED_FILTERS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
JOB_NAMES = ["build", "test (3.11)", "test (3.12)", "lint", "docs", "package"]
# A run's repository and head_repository: GitHub's minimal repository without counts or dates.
RUN_REPOSITORY_KEYS = frozenset(
    {
        "archive_url",
        "assignees_url",
        "blobs_url",
        "branches_url",
        "collaborators_url",
        "comments_url",
        "commits_url",
        "compare_url",
        "contents_url",
        "contributors_url",
        "deployments_url",
        "description",
        "downloads_url",
        "events_url",
        "fork",
        "forks_url",
        "full_name",
        "git_commits_url",
        "git_refs_url",
        "git_tags_url",
        "git_url",
        "hooks_url",
        "html_url",
        "id",
        "issue_comment_url",
        "issue_events_url",
        "issues_url",
        "keys_url",
        "labels_url",
        "languages_url",
        "merges_url",
        "milestones_url",
        "name",
        "node_id",
        "notifications_url",
        "owner",
        "private",
        "pulls_url",
        "releases_url",
        "ssh_url",
        "stargazers_url",
        "statuses_url",
        "subscribers_url",
        "subscription_url",
        "tags_url",
        "teams_url",
        "trees_url",
        "url",
    }
)
LABELS = [["ubuntu-latest"], ["ubuntu-22.04"], ["self-hosted", "linux", "x64"], ["macos-14"]]


@dataclass
class Workflow:
    id: int
    name: str
    path: str
    created_at: datetime


@dataclass
class Step:
    name: str
    number: int
    status: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None


@dataclass
class Job:
    id: int
    name: str
    status: str
    conclusion: str | None
    created_at: datetime
    started_at: datetime
    completed_at: datetime | None
    runner_name: str | None
    labels: list[str]
    steps: list[Step] = field(default_factory=list)

    @property
    def failed_steps(self) -> list[str]:
        return [s.name for s in self.steps if s.conclusion == "failure"]


@dataclass
class Attempt:
    number: int
    status: str
    conclusion: str | None
    run_started_at: datetime
    updated_at: datetime
    triggering_actor: Account
    jobs: list[Job] = field(default_factory=list)


@dataclass
class Run:
    id: int
    repo_id: int
    run_number: int
    workflow: Workflow
    event: str
    head_branch: str
    head_sha: str
    display_title: str
    actor: Account
    created_at: datetime
    check_suite_id: int
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return f"WFR_{self.id}"

    @property
    def latest(self) -> Attempt:
        return self.attempts[-1]


@dataclass
class ActionsStore:
    """Per repository id: workflows and runs (oldest first); unavailable repositories."""

    workflows: dict[int, list[Workflow]] = field(default_factory=dict)
    runs: dict[int, list[Run]] = field(default_factory=dict)
    unavailable: dict[int, int] = field(default_factory=dict)  # repo id -> 403 or 404
    # By id, for GraphQL's node lookups (up to 100 a query): kept by add_run and add_attempt.
    run_by_id: dict[int, Run] = field(default_factory=dict)
    job_by_id: dict[int, tuple[Run, Job]] = field(default_factory=dict)


def store(world: World) -> ActionsStore:
    return world.family("actions", ActionsStore)


def runs_of(world: World, repo: Repo) -> list[Run]:
    return store(world).runs.setdefault(repo.id, [])


# -- building the world ------------------------------------------------------------------------


def workflows_of(world: World, repo: Repo) -> list[Workflow]:
    workflows = store(world).workflows.setdefault(repo.id, [])
    if not workflows:
        for name, file in (("CI", "ci.yml"), ("Release", "release.yml")):
            workflows.append(
                Workflow(world.new_id(), name, f".github/workflows/{file}", repo.created_at)
            )
    return workflows


def _steps(rng: random.Random, start: datetime, outcome: str) -> tuple[list[Step], datetime]:
    """The steps of a job that `outcome`s ("success", "failure", "in_progress", "queued")."""
    names = [
        "Set up job",
        "Run actions/checkout@v4",
        "Install dependencies",
        "Run tests",
        "Complete job",
    ][: rng.randint(3, 5)]
    if names[-1] != "Complete job":
        names.append("Complete job")
    steps, moment = [], start
    failing = len(names) - 2 if outcome == "failure" else -1
    running = len(names) // 2 if outcome == "in_progress" else -1
    failed = False
    for number, name in enumerate(names, start=1):
        index = number - 1
        if outcome == "queued" or (running != -1 and index > running):
            steps.append(Step(name, number, "queued", None, None, None))
            continue
        if index == running:
            steps.append(Step(name, number, "in_progress", None, moment, None))
            continue
        took = timedelta(seconds=rng.randint(1, 90))
        if failed and name != "Complete job":
            steps.append(Step(name, number, "completed", "skipped", moment, moment))
            continue
        conclusion = "failure" if index == failing else "success"
        failed = failed or conclusion == "failure"
        steps.append(Step(name, number, "completed", conclusion, moment, moment + took))
        moment += took
    return steps, moment


def make_jobs(
    world: World, rng: random.Random, start: datetime, outcome: str, count: int
) -> tuple[list[Job], datetime]:
    """`count` jobs starting at `start`; a failing attempt has one failed job, an attempt in
    progress has its last job running. Returns the jobs and when the last one ended."""
    jobs, end = [], start
    for index, name in enumerate(rng.sample(JOB_NAMES, count)):
        # A failing or running attempt fails or runs in its last job; the others succeeded.
        last = index == count - 1
        job_outcome = outcome if outcome in ("queued", "success") or last else "success"
        steps, finished = _steps(rng, start, job_outcome)
        labels = list(rng.choice(LABELS))
        completed = job_outcome in ("success", "failure")
        jobs.append(
            Job(
                id=world.new_id(),
                name=name,
                status="completed" if completed else job_outcome,
                conclusion=job_outcome if completed else None,
                created_at=start,
                started_at=start,
                completed_at=finished if completed else None,
                runner_name=None
                if job_outcome == "queued"
                else f"GitHub Actions {rng.randint(1, 99)}",
                labels=labels,
                steps=steps,
            )
        )
        end = max(end, finished)
    return jobs, end


def add_attempt(
    world: World,
    run: Run,
    rng: random.Random,
    started: datetime,
    outcome: str,
    *,
    triggering_actor: Account | None = None,
    jobs: int | None = None,
) -> Attempt:
    """A new (latest) attempt of `run`, started at `started`, ending in `outcome`."""
    job_list, end = make_jobs(world, rng, started, outcome, jobs or rng.randint(1, 3))
    completed = outcome in ("success", "failure")
    attempt = Attempt(
        number=len(run.attempts) + 1,
        status="completed" if completed else outcome,
        conclusion=outcome if completed else None,
        run_started_at=started,
        updated_at=end if completed else started + timedelta(seconds=30),
        triggering_actor=triggering_actor or run.actor,
        jobs=job_list,
    )
    run.attempts.append(attempt)
    store(world).job_by_id.update({job.id: (run, job) for job in job_list})
    return attempt


def add_run(
    world: World,
    repo: Repo,
    rng: random.Random,
    created: datetime,
    outcome: str,
    *,
    jobs: int | None = None,
) -> Run:
    """A new run of one of `repo`'s workflows created at `created` (its first attempt too)."""
    runs = runs_of(world, repo)
    workflow = rng.choice(workflows_of(world, repo))
    event = rng.choice(["push", "push", "pull_request", "schedule"])
    branch = repo.default_branch if event != "pull_request" else f"feature-{rng.randint(1, 40)}"
    run = Run(
        id=world.new_id(),
        repo_id=repo.id,
        run_number=1 + sum(r.workflow.id == workflow.id for r in runs),
        workflow=workflow,
        event=event,
        head_branch=branch,
        head_sha=f"{rng.getrandbits(160):040x}",
        display_title=f"Change {len(runs) + 1}",
        actor=world.account(rng.choice(["alice", "bob", "carol"])),
        created_at=created,
        check_suite_id=world.new_id(),
    )
    store(world).run_by_id[run.id] = run
    add_attempt(world, run, rng, created, outcome, jobs=jobs)
    runs.append(run)
    return run


RERUN_WINDOW = timedelta(days=30)  # GitHub re-runs a run up to 30 days after it was created


def rerun(
    world: World, run: Run, rng: random.Random, started: datetime, outcome: str = "success"
) -> Attempt:
    """Re-run `run` (a new attempt, keeping the run's created_at), by someone other than its
    actor at times; refused, as GitHub refuses it, 30 days after the run was created."""
    if started - run.created_at > RERUN_WINDOW:
        raise ValueError(f"run {run.id} is over 30 days old: GitHub refuses to re-run it")
    started = max(started, run.latest.updated_at + timedelta(seconds=1))
    who = world.account(rng.choice(["alice", "bob", "carol"]))
    return add_attempt(world, run, rng, started, outcome, triggering_actor=who)


OLD_RUN_DAYS = (25, 12)  # the seeded repositories' two oldest runs, in days before now


def seed_actions(world: World, rng: random.Random) -> None:
    """`runs_per_repo` (default 10) runs per repository, one every ~4 hours up to now except
    the two oldest, created 25 and 12 days ago (old enough to be re-run, too old for a short
    look back): the newest in progress, some failed (with failed steps), some re-run once
    (attempt 2)."""
    count = world.scale.get("runs_per_repo", 10)
    now = world.now()
    for repo in sorted(world.repos.values(), key=lambda r: r.id):
        for index in range(count):
            created = now - timedelta(hours=4 * (count - index), minutes=rng.randint(0, 120))
            if index < len(OLD_RUN_DAYS) < count:
                created = now - timedelta(days=OLD_RUN_DAYS[index], minutes=rng.randint(0, 120))
            newest = index == count - 1
            outcome = (
                "in_progress"
                if newest
                else ("failure" if index == 1 or rng.random() < 0.25 else "success")
            )
            run = add_run(world, repo, rng, created, outcome)
            if not newest and (index == 2 or rng.random() < 0.2):
                rerun(world, run, rng, run.latest.updated_at + timedelta(minutes=20))


def finish(
    world: World, run: Run, rng: random.Random, when: datetime, outcome: str = "success"
) -> None:
    """The latest attempt of a queued or running `run` completes at `when`."""
    attempt = run.latest
    when = max(when, attempt.updated_at)
    attempt.status, attempt.conclusion, attempt.updated_at = "completed", outcome, when
    for job in attempt.jobs:
        if job.status == "completed":
            continue
        job.status, job.conclusion, job.completed_at = "completed", outcome, when
        job.runner_name = job.runner_name or f"GitHub Actions {rng.randint(1, 99)}"
        for step in job.steps:
            if step.status != "completed":
                step.status, step.conclusion = "completed", "success"
                step.started_at = step.started_at or when
                step.completed_at = when


def mutate_actions(world: World, rng: random.Random) -> None:
    """In every repository: runs in progress finish, a finished run is re-run (a new attempt),
    and so is the oldest run GitHub still lets re-run (up to 30 days old: its new attempt keeps
    its created_at), and two new runs start (one completes, one is still running)."""
    with world.lock:
        now = world.now()
        for repo in sorted(world.repos.values(), key=lambda r: r.id):
            runs = runs_of(world, repo)
            for run in runs:
                if run.latest.status != "completed":
                    finish(world, run, rng, now)
            rerunnable = [
                r
                for r in runs
                if r.latest.status == "completed"
                and now - r.created_at <= RERUN_WINDOW - timedelta(hours=1)
            ]
            if rerunnable:
                pick = rng.choice(rerunnable[:-1] or rerunnable)
                rerun(world, pick, rng, now - timedelta(minutes=5))
                oldest = min(rerunnable, key=lambda r: (r.created_at, r.id))
                rerun(world, oldest, rng, now - timedelta(minutes=4))
            add_run(world, repo, rng, now - timedelta(minutes=9), "success")
            add_run(world, repo, rng, now - timedelta(minutes=1), "in_progress")


FAMILIES["actions"] = seed_actions


# -- REST --------------------------------------------------------------------------------------


def actions_repo(request: Request) -> Repo:
    repo = visible_repo(request, request.params["owner"], request.params["repo"])
    status = store(request.world).unavailable.get(repo.id)
    if status == 403:
        raise HTTPError(403, "Resource not accessible by personal access token")
    if status is not None:
        raise HTTPError(status, "Not Found")
    return repo


def find_run(request: Request, repo: Repo) -> Run:
    run_id = int(request.params["run_id"])
    for run in runs_of(request.world, repo):
        if run.id == run_id:
            return run
    raise HTTPError(404, "Not Found")


def find_attempt(request: Request, run: Run) -> Attempt:
    number = int(request.params["attempt"])
    if not 1 <= number <= len(run.attempts):
        raise HTTPError(404, "Not Found")
    return run.attempts[number - 1]


def run_payload(request: Request, repo: Repo, run: Run, attempt: Attempt) -> dict[str, Any]:
    api = request.api
    base = f"{api}/repos/{repo.full_name}/actions/runs/{run.id}"
    minimal = {
        key: value
        for key, value in repo_payload(repo, api, full=False).items()
        if key in RUN_REPOSITORY_KEYS
    }
    return {
        "id": run.id,
        "name": run.workflow.name,
        "node_id": run.node_id,
        "check_suite_id": run.check_suite_id,
        "check_suite_node_id": f"CS_{run.check_suite_id}",
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": f"{run.workflow.path}@refs/heads/{run.head_branch}",
        "display_title": run.display_title,
        "run_number": run.run_number,
        "event": run.event,
        "status": attempt.status,
        "conclusion": attempt.conclusion,
        "workflow_id": run.workflow.id,
        "url": base,
        "html_url": f"https://github.test/{repo.full_name}/actions/runs/{run.id}",
        "pull_requests": [],
        "created_at": iso(run.created_at),
        "updated_at": iso(attempt.updated_at),
        "actor": run.actor.payload(api),
        "run_attempt": attempt.number,
        "referenced_workflows": [],
        "run_started_at": iso(attempt.run_started_at),
        "triggering_actor": attempt.triggering_actor.payload(api),
        "jobs_url": f"{base}/jobs",
        "logs_url": f"{base}/logs",
        "check_suite_url": f"{api}/repos/{repo.full_name}/check-suites/{run.check_suite_id}",
        "artifacts_url": f"{base}/artifacts",
        "cancel_url": f"{base}/cancel",
        "rerun_url": f"{base}/rerun",
        "previous_attempt_url": None
        if attempt.number == 1
        else f"{base}/attempts/{attempt.number - 1}",
        "workflow_url": f"{api}/repos/{repo.full_name}/actions/workflows/{run.workflow.id}",
        "head_commit": {
            "id": run.head_sha,
            "tree_id": f"{run.id:040x}",
            "message": run.display_title,
            "timestamp": iso(run.created_at),
            "author": {"name": run.actor.login, "email": f"{run.actor.login}@acme.test"},
            "committer": {"name": "GitHub", "email": "noreply@github.test"},
        },
        "repository": minimal,
        "head_repository": minimal,
    }


def job_payload(
    request: Request, repo: Repo, run: Run, attempt: Attempt, job: Job
) -> dict[str, Any]:
    api = request.api
    return {
        "id": job.id,
        "run_id": run.id,
        "run_url": f"{api}/repos/{repo.full_name}/actions/runs/{run.id}",
        "run_attempt": attempt.number,
        "node_id": f"CR_{job.id}",
        "head_sha": run.head_sha,
        "url": f"{api}/repos/{repo.full_name}/actions/jobs/{job.id}",
        "html_url": f"https://github.test/{repo.full_name}/actions/runs/{run.id}/job/{job.id}",
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "completed_at": None if job.completed_at is None else iso(job.completed_at),
        "name": job.name,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "conclusion": s.conclusion,
                "number": s.number,
                "started_at": None if s.started_at is None else iso(s.started_at),
                "completed_at": None if s.completed_at is None else iso(s.completed_at),
            }
            for s in job.steps
        ],
        "check_run_url": f"{api}/repos/{repo.full_name}/check-runs/{job.id}",
        "labels": list(job.labels),
        "runner_id": None if job.runner_name is None else 1,
        "runner_name": job.runner_name,
        "runner_group_id": None if job.runner_name is None else 1,
        "runner_group_name": None if job.runner_name is None else "GitHub Actions",
        "workflow_name": run.workflow.name,
        "head_branch": run.head_branch,
    }


def _moment(text: str, *, end_of_day: bool) -> datetime:
    """A date or date-time of GitHub's search syntax; a bare date is its first (or last)
    second."""
    try:
        if "T" not in text:
            day = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
            return day + timedelta(days=1, seconds=-1) if end_of_day else day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPError(422, f"Invalid date: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def date_filter(value: str) -> tuple[datetime | None, datetime | None]:
    """GitHub's date qualifier (>=, >, <=, <, a..b with * for open ends, or one date) as an
    inclusive (lowest, highest) range; None is unbounded."""
    second = timedelta(seconds=1)
    if value.startswith(">="):
        return _moment(value[2:], end_of_day=False), None
    if value.startswith(">"):
        return _moment(value[1:], end_of_day=True) + second, None
    if value.startswith("<="):
        return None, _moment(value[2:], end_of_day=True)
    if value.startswith("<"):
        return None, _moment(value[1:], end_of_day=False) - second
    if ".." in value:
        low, high = value.split("..", 1)
        return (
            None if low == "*" else _moment(low, end_of_day=False),
            None if high == "*" else _moment(high, end_of_day=True),
        )
    return _moment(value, end_of_day=False), _moment(value, end_of_day=True)


def _within(moment: datetime, bounds: tuple[datetime | None, datetime | None]) -> bool:
    low, high = bounds
    return (low is None or moment >= low) and (high is None or moment <= high)


@ROUTER.get(f"/repos/{OWNER}/{NAME}/actions/runs")
def list_runs(request: Request) -> Any:
    repo = actions_repo(request)
    query = request.query
    runs = runs_of(request.world, repo)
    if "created" in query:
        bounds = date_filter(query["created"])
        runs = [r for r in runs if _within(r.created_at.replace(microsecond=0), bounds)]
    if "status" in query:
        runs = [r for r in runs if query["status"] in (r.latest.status, r.latest.conclusion)]
    for name, value in (
        ("branch", lambda r: r.head_branch),
        ("event", lambda r: r.event),
        ("actor", lambda r: r.actor.login),
        ("head_sha", lambda r: r.head_sha),
        ("check_suite_id", lambda r: str(r.check_suite_id)),
    ):
        if name in query:
            runs = [r for r in runs if value(r) == query[name]]
    runs = sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)
    if any(name in query for name in CAPPED_FILTERS):
        runs = runs[:LISTING_CAP]
    return Listing([run_payload(request, repo, r, r.latest) for r in runs], wrap="workflow_runs")


@ROUTER.get(f"/repos/{OWNER}/{NAME}/actions/runs/{RUN}/attempts/{ATTEMPT}")
def get_attempt(request: Request) -> Any:
    repo = actions_repo(request)
    run = find_run(request, repo)
    return run_payload(request, repo, run, find_attempt(request, run))


@ROUTER.get(f"/repos/{OWNER}/{NAME}/actions/runs/{RUN}/attempts/{ATTEMPT}/jobs")
def list_attempt_jobs(request: Request) -> Any:
    repo = actions_repo(request)
    run = find_run(request, repo)
    attempt = find_attempt(request, run)
    return Listing([job_payload(request, repo, run, attempt, j) for j in attempt.jobs], wrap="jobs")


@ROUTER.get(f"/repos/{OWNER}/{NAME}/actions/runs/{RUN}/jobs")
def list_run_jobs(request: Request) -> Any:
    repo = actions_repo(request)
    run = find_run(request, repo)
    which = request.query.get("filter", "latest")
    if which not in ("latest", "all"):
        raise HTTPError(422, f"Invalid value for parameter 'filter': {which!r}")
    attempts = run.attempts if which == "all" else [run.latest]
    return Listing(
        [job_payload(request, repo, run, a, j) for a in reversed(attempts) for j in a.jobs],
        wrap="jobs",
    )


# -- GraphQL -----------------------------------------------------------------------------------


def _upper(value: str | None) -> str | None:
    return None if value is None else value.upper()


def check_run_node(repo: Repo, job: Job) -> dict[str, Any]:
    url = f"https://github.test/{repo.full_name}/runs/{job.id}"
    steps = [
        {
            "__typename": "CheckStep",
            "name": s.name,
            "number": s.number,
            "status": s.status.upper(),
            "conclusion": _upper(s.conclusion),
            "startedAt": None if s.started_at is None else iso(s.started_at),
            "completedAt": None if s.completed_at is None else iso(s.completed_at),
            "secondsToCompletion": None
            if s.completed_at is None or s.started_at is None
            else int((s.completed_at - s.started_at).total_seconds()),
            "externalId": None,
        }
        for s in job.steps
    ]

    def step_connection(
        info: Any,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        number: int | None = None,
    ) -> dict[str, Any]:
        chosen = [s for s in steps if number is None or s["number"] == number]
        return connection(chosen, first=first, after=after, last=last, before=before)

    return {
        "__typename": "CheckRun",
        "id": f"CR_{job.id}",
        "databaseId": job.id,
        "name": job.name,
        "status": job.status.upper(),
        "conclusion": _upper(job.conclusion),
        "startedAt": iso(job.started_at),
        "completedAt": None if job.completed_at is None else iso(job.completed_at),
        "url": url,
        "permalink": url,
        "resourcePath": f"/{repo.full_name}/runs/{job.id}",
        "detailsUrl": url,
        "externalId": None,
        "title": None,
        "summary": None,
        "text": None,
        "steps": step_connection,
    }


def _node_id_number(node_id: str, prefix: str) -> int | None:
    try:
        return int(node_id.removeprefix(prefix))
    except ValueError:
        return None


def _visible_repo(request: Request, run: Run | None) -> Repo | None:
    """The repository of `run`, if the caller may see it and its Actions."""
    if run is None:
        return None
    repo = request.world.repos[run.repo_id]
    if not can_see(request, repo) or repo.id in store(request.world).unavailable:
        return None
    return repo


def workflow_run_node(request: Request, node_id: str) -> dict[str, Any] | None:
    """NODE_RESOLVERS["WFR_"]: the run, if the caller may see its repository."""
    run_id = _node_id_number(node_id, "WFR_")
    run = None if run_id is None else store(request.world).run_by_id.get(run_id)
    repo = _visible_repo(request, run)
    return None if repo is None or run is None else _run_node(repo, run)


def _run_node(repo: Repo, run: Run) -> dict[str, Any]:
    latest = run.latest
    html = f"https://github.test/{repo.full_name}/actions/runs/{run.id}"

    def check_runs(
        info: Any,
        *,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filterBy: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        wanted = filterBy or {}
        attempts = run.attempts if wanted.get("checkType") == "ALL" else [latest]
        nodes = [check_run_node(repo, job) for attempt in attempts for job in attempt.jobs]
        if wanted.get("checkName"):
            nodes = [n for n in nodes if n["name"] == wanted["checkName"]]
        statuses = wanted.get("statuses") or ([wanted["status"]] if wanted.get("status") else [])
        if statuses:
            nodes = [n for n in nodes if n["status"] in statuses]
        if wanted.get("conclusions"):
            nodes = [n for n in nodes if n["conclusion"] in wanted["conclusions"]]
        if wanted.get("appId") not in (None, 15368):  # GitHub Actions' app id
            nodes = []
        return connection(nodes, first=first, after=after, last=last, before=before)

    workflow = {
        "__typename": "Workflow",
        "id": f"W_{run.workflow.id}",
        "databaseId": run.workflow.id,
        "name": run.workflow.name,
        "createdAt": iso(run.workflow.created_at),
        "updatedAt": iso(run.workflow.created_at),
        "state": "ACTIVE",
        "url": f"https://github.test/{repo.full_name}/actions/workflows/"
        f"{run.workflow.path.rsplit('/', 1)[-1]}",
        "resourcePath": f"/{repo.full_name}/actions/workflows/"
        f"{run.workflow.path.rsplit('/', 1)[-1]}",
    }
    suite = {
        "__typename": "CheckSuite",
        "id": f"CS_{run.check_suite_id}",
        "databaseId": run.check_suite_id,
        "status": latest.status.upper(),
        "conclusion": _upper(latest.conclusion),
        "createdAt": iso(run.created_at),
        "updatedAt": iso(latest.updated_at),
        "url": f"https://github.test/{repo.full_name}/commit/{run.head_sha}/checks",
        "resourcePath": f"/{repo.full_name}/commit/{run.head_sha}/checks",
        "checkRuns": check_runs,
    }
    return {
        "__typename": "WorkflowRun",
        "id": run.node_id,
        "databaseId": run.id,
        "runNumber": run.run_number,
        "event": run.event,
        "createdAt": iso(run.created_at),
        "updatedAt": iso(latest.updated_at),
        "url": html,
        "resourcePath": f"/{repo.full_name}/actions/runs/{run.id}",
        "workflow": workflow,
        "checkSuite": suite,
        "file": None,
    }


def check_run_by_node(request: Request, node_id: str) -> dict[str, Any] | None:
    """NODE_RESOLVERS["CR_"]: a job's check run (any attempt), if the caller may see its
    repository."""
    job_id = _node_id_number(node_id, "CR_")
    run, job = (
        (None, None) if job_id is None else store(request.world).job_by_id.get(job_id, (None, None))
    )
    repo = _visible_repo(request, run)
    return None if repo is None or job is None else check_run_node(repo, job)


NODE_RESOLVERS["WFR_"] = workflow_run_node
NODE_RESOLVERS["CR_"] = check_run_by_node


# -- ground truth ------------------------------------------------------------------------------


def readable_repos(world: World) -> list[Repo]:
    """The repositories of alice's selection (acme/*) whose Actions she can read."""
    token = world.tokens["ghp_alice"]
    return [
        repo
        for repo in sorted(world.repos.values(), key=lambda r: r.id)
        if repo.owner.login == "acme"
        and not repo.fork
        and world.visible_to_token(token, repo)
        and repo.id not in store(world).unavailable
    ]


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else int((end - start).total_seconds())


def latest_attempts(world: World) -> set[tuple[int, int]]:
    """(run id, attempt) of every run's latest attempt: what a sync sees without the
    workflow_runs_earlier_attempts setting."""
    return {
        (run.id, run.latest.number)
        for repo in readable_repos(world)
        for run in runs_of(world, repo)
    }


def expected_workflow_runs(
    world: World,
    attempts: Collection[tuple[int, int]] | None = None,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id, run_attempt) -> the fields of every attempt of every run (only those of
    `attempts`, (run id, attempt) pairs, when given)."""
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for repo in readable_repos(world):
        for run in runs_of(world, repo):
            for attempt in run.attempts:
                if attempts is not None and (run.id, attempt.number) not in attempts:
                    continue
                expected[(run.id, attempt.number)] = {
                    "repo_id": repo.id,
                    "run_number": run.run_number,
                    "workflow_id": run.workflow.id,
                    "workflow_name": run.workflow.name,
                    "event": run.event,
                    "status": attempt.status,
                    "conclusion": attempt.conclusion,
                    "head_branch": run.head_branch,
                    "head_sha": run.head_sha,
                    "actor_login": run.actor.login,
                    "actor_id": run.actor.id,
                    "triggering_actor_login": attempt.triggering_actor.login,
                    "triggering_actor_id": attempt.triggering_actor.id,
                    "created_at": iso(run.created_at),
                    "updated_at": iso(attempt.updated_at),
                    "run_started_at": iso(attempt.run_started_at),
                    "duration_seconds": _seconds(attempt.run_started_at, attempt.updated_at)
                    if attempt.status == "completed"
                    else None,
                }
    return expected


def expected_workflow_jobs(
    world: World,
    attempts: Collection[tuple[int, int]] | None = None,
    *,
    runner_details: bool = False,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """(id,) -> the fields of every job of every attempt (of `attempts` only, when given).
    Runner name and labels come only with the workflow_jobs_runner_details setting (REST);
    otherwise they are null."""
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for repo in readable_repos(world):
        for run in runs_of(world, repo):
            for attempt in run.attempts:
                if attempts is not None and (run.id, attempt.number) not in attempts:
                    continue
                for job in attempt.jobs:
                    expected[(job.id,)] = {
                        "repo_id": repo.id,
                        "run_id": run.id,
                        "run_attempt": attempt.number,
                        "name": job.name,
                        "status": job.status,
                        "conclusion": job.conclusion,
                        "started_at": iso(job.started_at),
                        "completed_at": None if job.completed_at is None else iso(job.completed_at),
                        "duration_seconds": _seconds(job.started_at, job.completed_at)
                        if job.status == "completed"
                        else None,
                        "runner_name": job.runner_name if runner_details else None,
                        "labels": list(job.labels) if runner_details else None,
                        "failed_steps": job.failed_steps,
                    }
    return expected
