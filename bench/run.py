"""Cost and speed benchmark (issue 6): prints figures, asserts nothing.

    .venv/bin/python -m bench.run --scale medium --latency 0.05 [--incumbent]
                                  [--runs first,repeat,mutate] [--sequential-baseline]

It seeds the simulator's world at a scale (bench/scales.py), serves it on 127.0.0.1 with a
per-request latency, and runs the tap as a separate process (its own wall time, CPU time and
peak memory) for each run: `first` (empty state), `repeat` (the state of the run before, nothing
changed), `mutate` (every registered mutation of github_simulator/truth.py, then a sync with the
state of the run before). For each run and stream it prints requests by resource and status,
304s, REST and GraphQL points, seconds waited and records, beside the physical minimum
(bench/minimum.py) and the ratio; with --incumbent, meltanolabs-tap-github runs the same runs on
the same world, and the two are printed side by side.

Every run starts with a full rate-limit budget (the simulator's windows are reset), as if the
syncs were an hour apart. Results are also written as JSON to --out (default .bench-out/).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import fleet, incumbent
from bench.minimum import STREAMS as MODELLED
from bench.minimum import Cost, Snapshot, batched_floor, minimum, snapshot
from bench.readings import ReadingScores
from bench.scales import SCALES, Scale
from github_simulator import (
    Fault,
    FaultProfile,
    GitHubSimulator,
    World,
    actions,
    commits,
    graphql_api,
    rest_extra,
    seeded_world,
)
from github_simulator.forked_graphql import ForkedGraphQL
from github_simulator.graphql_cost import READINGS
from github_simulator.pulls import pulls_of
from github_simulator.server import Caller, RateLimiter, Reply, Request
from github_simulator.truth import EXPECTED, MUTATIONS, SEEN_ATTEMPTS_STREAMS
from github_simulator.world import RealClock

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "ghp_alice"  # noqa: S105 -- the simulated world's token, not a secret
OWNER = "acme"
OURS = "tap-github-activity"
THEIRS = f"{incumbent.PACKAGE} {incumbent.VERSION}"
RUNS = ("first", "repeat", "mutate")
# Copies of the simulator executing GraphQL side by side: the tap's default concurrency.
GRAPHQL_PROCESSES = 4
# Our tap's request_timeout under --faults: a read timeout of the fault profile costs this much.
FAULTS_REQUEST_TIMEOUT = 5
METRIC = re.compile(r"METRIC: (\{.*\})\s*$")
# The tap's log of a wait for a rate limit (primary or secondary): when, and how long.
WAIT = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*(?:sleeping|waiting) "
    r"([\d.]+) s\b"
)
TABLE_START = "GitHub requests this run:"


class WindowLimiter(RateLimiter):
    """The simulator's primary limit with a window of `seconds` instead of an hour."""

    def __init__(self, world: World, seconds: int) -> None:
        super().__init__(world)
        self.seconds = seconds

    def window(self, caller: Caller, resource: str) -> list[float]:
        now = self.world.clock.now()
        key = (caller.key, resource)
        current = self.windows.get(key)
        if current is None or current[1] <= now:
            current = [0, float(int(now) + self.seconds), self.limit_for(caller, resource)]
            self.windows[key] = current
        return current


# -- figures -----------------------------------------------------------------------------------


@dataclass
class StreamFigures:
    """One stream's share of a run."""

    requests: Counter[str] = field(default_factory=Counter)  # "core 200" -> count
    core_points: int = 0
    graphql_points: int = 0
    waited: float = 0.0
    records: int = 0

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def not_modified(self) -> int:
        return sum(n for key, n in self.requests.items() if key.endswith(" 304"))

    @property
    def points(self) -> int:
        return self.core_points + self.graphql_points


@dataclass
class RunResult:
    """One tool's run."""

    tool: str
    run: str
    exit_code: int
    wall: float
    cpu: float
    peak_rss_mb: float
    simulator_cpu: float
    streams: dict[str, StreamFigures]
    # From the simulator's log: "core 200" -> requests, and points by resource.
    log_requests: Counter[str]
    log_points: Counter[str]
    expected: dict[str, int] = field(default_factory=dict)
    # Refused requests by status, method and path shape (ids as {n}).
    failures: Counter[str] = field(default_factory=Counter)
    output_mb: float = 0.0  # the tap's stdout
    states: int = 0  # STATE messages
    state_kb: float = 0.0  # the last STATE message
    waited_wall: float = 0.0  # wall time spent waiting for rate limits
    # Points (core + GraphQL) under each reading of GitHub's cost rule, the largest single
    # GraphQL query's (points, operation), and the tap's "GitHub charged" warnings.
    by_reading: dict[str, int] = field(default_factory=dict)
    largest: dict[str, tuple[int, str]] = field(default_factory=dict)
    cost_warnings: int = 0

    @property
    def records(self) -> int:
        return sum(s.records for s in self.streams.values())

    def stream(self, name: str) -> StreamFigures:
        return self.streams.get(name) or StreamFigures()


# -- running a tap -----------------------------------------------------------------------------


@dataclass
class Measured:
    exit_code: int
    wall: float
    cpu: float
    peak_rss_mb: float
    simulator_cpu: float
    records: Counter[str]
    state: dict[str, Any] | None
    output_bytes: int = 0
    states: int = 0
    state_bytes: int = 0


class PeakMemory(threading.Thread):
    """The child's peak resident memory: VmHWM of /proc/<pid>/status, read until it exits.

    Not wait4's ru_maxrss: Linux carries the RSS of the process a child was forked from into
    it (the memory mapping replaced by exec counts), so every child of the benchmark, whose
    simulator holds the whole world, would show at least the benchmark's own size. VmHWM is
    the high-water mark of the tap's own memory; being monotonic, sampling it misses only
    growth during its last interval."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.path = Path(f"/proc/{pid}/status")
        self.interval = interval
        self.stop = threading.Event()
        self.kilobytes = 0
        self.start()

    def run(self) -> None:
        while True:
            try:
                for line in self.path.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.kilobytes = max(self.kilobytes, int(line.split()[1]))
            except (OSError, ValueError, IndexError):
                return
            if self.stop.wait(self.interval):
                return

    @property
    def megabytes(self) -> float:
        return self.kilobytes / 1024


def execute(command: list[str], env: dict[str, str], stderr_path: Path) -> Measured:
    """Run a tap, its stdout read as it comes by bench/sink.py (records counted per stream,
    the last STATE kept), its stderr to a file. CPU time is the child's own (wait4), peak
    memory its VmHWM."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=ROOT
        )
        assert process.stdout is not None
        sink = subprocess.Popen(
            [sys.executable, "-m", "bench.sink"],
            stdin=process.stdout,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        process.stdout.close()  # the sink's now: it sees the end when the tap exits
        peak = PeakMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        peak.stop.set()
        peak.join()
        read, _ = sink.communicate()
    after = resource.getrusage(resource.RUSAGE_SELF)
    output = json.loads(read)
    last_state = output["last_state"]
    state = json.loads(last_state)["value"] if last_state else None
    return Measured(
        process.returncode,
        wall,
        usage.ru_utime + usage.ru_stime,
        peak.megabytes,
        (after.ru_utime + after.ru_stime) - (own.ru_utime + own.ru_stime),
        Counter(output["records"]),
        state,
        output["bytes"],
        output["states"],
        len(last_state.encode()),
    )


def discover(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    found = subprocess.run(
        [*command, "--discover"],
        capture_output=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if found.returncode != 0:
        message = found.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise SystemExit(f"{command[0]} --discover failed:\n  " + "\n  ".join(message))
    return json.loads(found.stdout)


def _shape(path: str) -> str:
    """A request path with its repository as {owner}/{repo} and its numbers as {n}."""
    path = re.sub(r"^/repos/[^/]+/[^/]+", "/repos/{owner}/{repo}", path)
    return re.sub(r"/\d+(?=/|$)", "/{n}", path)


class Tool:
    """A tap the benchmark runs: its command, config, catalog, state, and how its requests are
    attributed to streams."""

    name: str

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.state: dict[str, Any] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def setup(self, api_url: str) -> None:
        raise NotImplementedError

    def streams(self, stderr: Path, log: list[Any]) -> dict[str, StreamFigures]:
        raise NotImplementedError

    def wall_waits(self, stderr: Path) -> float:
        """Seconds of wall time during which the tap waited for a rate limit (None: unknown)."""
        return 0.0

    def run(self, bench: Bench, run: str) -> RunResult:
        files = self.workdir
        args = [
            *self.command(),
            "--config",
            str(files / "config.json"),
            "--catalog",
            str(files / "catalog.json"),
        ]
        if run != "first" and self.state:
            (files / f"state-before-{run}.json").write_text(json.dumps(self.state))
            args += ["--state", str(files / f"state-before-{run}.json")]
        else:
            self.state = None
        bench.before_run()
        stderr = files / f"{run}.stderr.log"
        executors = ForkedGraphQL(bench.simulator, bench.graphql_processes)
        with executors:  # copies of the world as it is now, for this run
            bench.score_readings()
            measured = execute(args, self.env(), stderr)
        log = bench.simulator.requests()
        if measured.state is not None:
            self.state = measured.state
        streams = self.streams(stderr, log)
        for name, count in measured.records.items():
            streams.setdefault(name, StreamFigures()).records = count
        log_requests: Counter[str] = Counter()
        log_points: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for entry in log:
            log_requests[f"{entry.resource} {entry.status}"] += 1
            if entry.if_none_match:
                log_requests["conditional"] += 1
            log_points[entry.resource] += entry.points
            if entry.status >= 400:
                failures[f"{entry.status} {entry.method} {_shape(entry.path)}"] += 1
        served = Counter(entry.fault for entry in log if entry.fault)
        if served:
            retried = [
                line.split("Retried after failures: ", 1)[1].strip()
                for line in stderr.read_text(errors="replace").splitlines()
                if "Retried after failures: " in line
            ]
            print(
                f"faults served during {self.name} {run}: {dict(sorted(served.items()))}; "
                f"requests after a fault: {len(log)}; retried: {retried[-1] if retried else '-'}",
                flush=True,
            )
        if measured.exit_code != 0:
            tail = stderr.read_text(errors="replace").splitlines()[-15:]
            print(
                f"!! {self.name} exited {measured.exit_code}; the end of {stderr}:\n  "
                + "\n  ".join(tail),
                flush=True,
            )
        return RunResult(
            self.name,
            run,
            measured.exit_code,
            measured.wall,
            measured.cpu,
            measured.peak_rss_mb,
            measured.simulator_cpu + executors.cpu_seconds,
            streams,
            log_requests,
            log_points,
            failures=failures,
            output_mb=measured.output_bytes / 2**20,
            states=measured.states,
            state_kb=measured.state_bytes / 1024,
            waited_wall=self.wall_waits(stderr),
            by_reading={
                name: log_points.get("core", 0)
                + bench.scores.under(name, log_points.get("graphql", 0))
                for name in READINGS
            },
            largest=dict(bench.scores.largest),
            cost_warnings=stderr.read_text(errors="replace").count("GitHub charged "),
        )


class Ours(Tool):
    name = OURS

    def __init__(
        self,
        workdir: Path,
        *,
        streams: set[str] | None,
        runner_details: bool,
        earlier_attempts: bool,
        concurrency: int | None,
        credentials: dict[str, Any],
        request_timeout: int | None = None,
    ) -> None:
        super().__init__(workdir)
        self.credentials = credentials  # auth_token or app_id/private_key, and the selection
        self.request_timeout = request_timeout
        self.selection = streams
        self.runner_details = runner_details
        self.earlier_attempts = earlier_attempts
        self.concurrency = concurrency

    def command(self) -> list[str]:
        return [str(Path(sys.executable).with_name("tap-github-activity"))]

    def setup(self, api_url: str) -> None:
        config: dict[str, Any] = {"api_url": api_url, **self.credentials}
        if self.concurrency is not None:
            config["max_concurrent_requests"] = self.concurrency
        if self.request_timeout is not None:
            config["request_timeout"] = self.request_timeout
        if self.runner_details:
            config["workflow_jobs_runner_details"] = True
        if self.earlier_attempts:
            config["workflow_runs_earlier_attempts"] = True
        (self.workdir / "config.json").write_text(json.dumps(config, indent=1))
        catalog = discover(
            [*self.command(), "--config", str(self.workdir / "config.json")], self.env()
        )
        for entry in catalog["streams"]:
            chosen = self.selection is None or entry["tap_stream_id"] in self.selection
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = chosen
        (self.workdir / "catalog.json").write_text(json.dumps(catalog, indent=1))

    def streams(self, stderr: Path, log: list[Any]) -> dict[str, StreamFigures]:
        """From the tap's own accounting: its METRIC lines and its request table."""
        figures: dict[str, StreamFigures] = {}
        in_table = False
        with stderr.open(errors="replace") as lines:
            for line in lines:
                found = METRIC.search(line)
                if found:
                    in_table = False
                    metric = json.loads(found.group(1))
                    tags = metric.get("tags", {})
                    if "resource" not in tags:
                        continue
                    stream = figures.setdefault(tags["stream"], StreamFigures())
                    if metric["metric"] == "http_request_count":
                        stream.requests[f"{tags['resource']} {tags['http_status_code']}"] += metric[
                            "value"
                        ]
                    elif metric["metric"] == "rate_limit_points":
                        if tags["resource"] == "graphql":
                            stream.graphql_points += metric["value"]
                        else:
                            stream.core_points += metric["value"]
                    continue
                if TABLE_START in line:
                    in_table = True
                    continue
                parts = line.split()
                if in_table and " | " in line:  # the next log line: the table has ended
                    in_table = False
                elif in_table and len(parts) >= 7 and parts[0] not in ("stream", "total"):
                    stream = figures.setdefault(parts[0], StreamFigures())
                    stream.waited = float(parts[5])
        return figures

    def wall_waits(self, stderr: Path) -> float:
        """The union of the waits the tap logged (concurrent requests wait together: the
        per-stream `waited` figures add them up)."""
        spans = []
        with stderr.open(errors="replace") as lines:
            for line in lines:
                found = WAIT.search(line)
                if found:
                    start = time.mktime(time.strptime(found.group(1)[:19], "%Y-%m-%d %H:%M:%S"))
                    start += int(found.group(1)[20:]) / 1000
                    spans.append((start, start + float(found.group(2))))
        total, end = 0.0, float("-inf")
        for low, high in sorted(spans):
            if high > end:
                total += high - max(low, end)
                end = high
        return total


class Incumbent(Tool):
    name = THEIRS

    def __init__(self, workdir: Path, streams: set[str] | None) -> None:
        super().__init__(workdir)
        self.selection = {
            theirs
            for ours, theirs in incumbent.STREAMS.items()
            if theirs and (streams is None or ours in streams)
        }
        self.api_url = ""

    def command(self) -> list[str]:
        return [str(incumbent.executable())]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(incumbent.site_dir())
        env["BENCH_GITHUB_API_URL"] = self.api_url
        return env

    def setup(self, api_url: str) -> None:
        incumbent.ensure_installed()
        self.api_url = api_url
        (self.workdir / "config.json").write_text(
            incumbent.dumps(incumbent.config(api_url, OWNER, TOKEN))
        )
        catalog = discover(
            [*self.command(), "--config", str(self.workdir / "config.json")], self.env()
        )
        (self.workdir / "catalog.json").write_text(
            incumbent.dumps(incumbent.select(catalog, self.selection))
        )

    def streams(self, stderr: Path, log: list[Any]) -> dict[str, StreamFigures]:
        """From the simulator's log, by request path."""
        figures: dict[str, StreamFigures] = {}
        for entry in log:
            stream = figures.setdefault(incumbent.classify(entry.path), StreamFigures())
            stream.requests[f"{entry.resource} {entry.status}"] += 1
            if entry.resource == "graphql":
                stream.graphql_points += entry.points
            else:
                stream.core_points += entry.points
        return figures


# -- the benchmark -----------------------------------------------------------------------------


class Bench:
    """The world, the simulator serving it, and the runs."""

    def __init__(
        self,
        scale: Scale,
        latency: float,
        seed: int,
        *,
        graphql_processes: int = GRAPHQL_PROCESSES,
        faults: FaultProfile | None = None,
        reading: str = "expensive",
    ) -> None:
        rest_extra.register()  # REST pull requests and reviews, which the incumbent reads
        self.scale = scale
        # A forked copy knows the installation tokens issued before it was forked only.
        self.graphql_processes = 0 if scale.app else graphql_processes
        started = time.monotonic()
        self.world = seeded_world(RealClock(), seed=seed, scale=scale.world)
        world_reading = graphql_api.cost_reading(self.world)
        world_reading.count_only_connections = READINGS[reading].count_only_connections
        world_reading.nodes_multiply = READINGS[reading].nodes_multiply
        self.reading = reading
        self.scores = ReadingScores()
        info = self.world.tokens[TOKEN]
        info.limit = info.graphql_limit = scale.token_limit
        if scale.shape is not None:
            scale.shape(self.world)
        self.credentials: dict[str, Any] = {
            "auth_token": TOKEN,
            "repositories": [f"{OWNER}/*"],
        }
        if scale.app:
            app = self.world.add_app("4242")
            self.world.install(app, OWNER)
            self.credentials = {
                "app_id": app.app_id,
                "private_key": app.private_key_pem,
                "organizations": [OWNER],
            }
        self.seed_seconds = time.monotonic() - started
        self.simulator = GitHubSimulator(self.world)
        # Built once per process, before any run is timed (GitHub's is not built per request).
        graphql_api.schema()
        if scale.window_seconds != 3600:
            self.simulator.limiter = WindowLimiter(self.world, scale.window_seconds)
        elif scale.app:
            self.simulator.limiter = fleet.InstallationLimiter(self.world)
        if latency > 0:
            self.simulator.inject(Fault(path=".", latency=latency, times=10**9))
        self.simulator.chaos = faults
        self.mutations = 0

    def __enter__(self) -> Bench:
        self.simulator.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.simulator.stop()

    def before_run(self) -> None:
        """A full budget and an empty log for the next run."""
        with self.simulator.limiter.lock:
            self.simulator.limiter.windows.clear()
        self.simulator.reset_log()
        self.scores.reset()

    def score_readings(self) -> None:
        """Score every GraphQL query of the run under each reading (bench/readings.py)."""
        executor = self.simulator.graphql_executor
        if executor is None:  # executed here: under the world's lock, as the simulator does

            def executor(request: Request) -> Reply:
                with self.world.lock:
                    return graphql_api.execute(request)  # type: ignore[no-any-return]

        self.simulator.graphql_executor = self.scores.wrap(executor)

    def mutate(self) -> None:
        self.mutations += 1
        if self.scale.mutation is not None:
            self.scale.mutation(self.world, random.Random(f"bench:{self.mutations}"))  # noqa: S311 -- data
            return
        for name, mutation in MUTATIONS.items():
            mutation(self.world, random.Random(f"bench:{name}:{self.mutations}"))  # noqa: S311 -- data

    def expected(self, *, earlier_attempts: bool) -> dict[str, int]:
        """Records a first sync must emit per stream (the ground truth's keys): of the runs'
        latest attempts only, unless `earlier_attempts`."""
        latest = None if earlier_attempts else actions.latest_attempts(self.world)
        return {
            name: len(
                truth(self.world, latest) if name in SEEN_ATTEMPTS_STREAMS else truth(self.world)
            )
            for name, truth in EXPECTED.items()
        }


# -- printing ----------------------------------------------------------------------------------


def table(headers: list[str], rows: Iterable[list[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for number, row in enumerate(cells):
        lines.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 or value == 0 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(ours: int, least: int) -> str:
    if least == 0:
        return "-" if ours == 0 else "inf"
    return f"{ours / least:.2f}"


def statuses(requests: Counter[str]) -> str:
    return " ".join(f"{key.replace(' ', ':')}x{n}" for key, n in sorted(requests.items()))


def totals(least: dict[str, Cost]) -> tuple[int, int]:
    """(minimum, floor) points of a run: per-repository queries; GraphQL queries shared by
    repositories and streams."""
    return (
        sum(c.points for c in least.values()),
        sum(c.core_points for c in least.values()) + batched_floor(least),
    )


def print_run(
    result: RunResult, least: dict[str, Cost], pairs: list[tuple[str, str]], title: str
) -> None:
    """`pairs`: (the tool's stream, the stream of ours whose minimum applies)."""
    rows = []
    total = StreamFigures()
    streams = [name for name, _ in pairs]
    for name, ours in pairs:
        figures = result.stream(name)
        cost = least.get(ours, Cost())
        rows.append(
            [
                name,
                figures.total,
                figures.not_modified,
                figures.core_points,
                figures.graphql_points,
                figures.waited,
                figures.records,
                result.expected.get(ours),
                cost.total_requests,
                cost.points,
                cost.floor,
                ratio(figures.points, cost.points),
                ratio(figures.points, cost.floor),
                statuses(figures.requests),
            ]
        )
    for name in sorted(n for n in result.streams if n not in streams):
        figures = result.streams[name]
        rows.append(
            [
                name,
                figures.total,
                figures.not_modified,
                figures.core_points,
                figures.graphql_points,
                figures.waited,
                figures.records,
                None,
                None,
                None,
                None,
                None,
                None,
                statuses(figures.requests),
            ]
        )
    for figures in result.streams.values():
        total.requests.update(figures.requests)
        total.core_points += figures.core_points
        total.graphql_points += figures.graphql_points
        total.waited += figures.waited
        total.records += figures.records
    least_points, floor = totals({ours: least[ours] for _, ours in pairs if ours in least})
    rows.append(
        [
            "total",
            total.total,
            total.not_modified,
            total.core_points,
            total.graphql_points,
            total.waited,
            total.records,
            sum(result.expected.values()) if result.expected else None,
            sum(least[o].total_requests for _, o in pairs if o in least),
            least_points,
            floor,
            ratio(total.points, least_points),
            ratio(total.points, floor),
            statuses(total.requests),
        ]
    )
    print(f"\n{title}")
    print(
        f"exit {result.exit_code}; wall {result.wall:.1f} s; CPU {result.cpu:.1f} s; peak RSS "
        f"{result.peak_rss_mb:.0f} MB; {result.records:,} records, "
        f"{result.records / result.wall if result.wall else 0:,.0f} records/s; output "
        f"{result.output_mb:,.1f} MB with {result.states:,} STATE messages (the last "
        f"{result.state_kb:,.0f} KB); waited for rate limits {result.waited_wall:,.0f} s of "
        f"the wall time; simulator CPU {result.simulator_cpu:.1f} s"
    )
    answered = Counter({k: n for k, n in result.log_requests.items() if k != "conditional"})
    print(
        f"simulator log: {statuses(answered)}; points: core "
        f"{result.log_points.get('core', 0):,}, graphql {result.log_points.get('graphql', 0):,};"
        f" {result.log_requests.get('conditional', 0):,} requests with If-None-Match"
    )
    print(
        table(
            [
                "stream",
                "requests",
                "304",
                "core pts",
                "gql pts",
                "waited s",
                "records",
                "expected",
                "min req",
                "min pts",
                "floor",
                "x min",
                "x floor",
                "requests by resource:status",
            ],
            rows,
        )
    )
    if result.failures:
        print(
            "refused requests: "
            + "; ".join(f"{key} x{n}" for key, n in result.failures.most_common(6))
        )


def print_side_by_side(
    ours: RunResult, theirs: RunResult, least: dict[str, Cost], streams: list[str]
) -> None:
    rows = []
    for name in streams:
        other = incumbent.STREAMS.get(name)
        mine, their = ours.stream(name), theirs.stream(other) if other else None
        cost = least.get(name, Cost())
        rows.append(
            [
                name,
                other,
                mine.total,
                their.total if their else None,
                mine.points,
                their.points if their else None,
                cost.points,
                cost.floor,
                ratio(mine.points, cost.points),
                ratio(their.points, cost.points) if their else None,
                mine.records,
                their.records if their else None,
            ]
        )
    for name in sorted(n for n in theirs.streams if n not in incumbent.STREAMS.values()):
        their = theirs.streams[name]
        rows.append(
            [
                None,
                name,
                None,
                their.total,
                None,
                their.points,
                None,
                None,
                None,
                None,
                None,
                their.records,
            ]
        )
    for name in sorted(n for n in ours.streams if n not in streams):
        mine = ours.streams[name]
        rows.append(
            [
                name,
                None,
                mine.total,
                None,
                mine.points,
                None,
                None,
                None,
                None,
                None,
                mine.records,
                None,
            ]
        )
    mine_points = sum(f.points for f in ours.streams.values())
    their_points = sum(f.points for f in theirs.streams.values())
    least_points, floor = totals(least)
    rows.append(
        [
            "total",
            None,
            sum(f.total for f in ours.streams.values()),
            sum(f.total for f in theirs.streams.values()),
            mine_points,
            their_points,
            least_points,
            floor,
            ratio(mine_points, least_points),
            ratio(their_points, least_points),
            ours.records,
            theirs.records,
        ]
    )
    print(f"\nside by side, {ours.run} run: {OURS} vs {THEIRS}")
    print(
        table(
            [
                "stream (ours)",
                "stream (theirs)",
                "req ours",
                "req theirs",
                "pts ours",
                "pts theirs",
                "min pts",
                "floor",
                "ours x min",
                "theirs x min",
                "rec ours",
                "rec theirs",
            ],
            rows,
        )
    )
    print(
        f"wall {ours.wall:.1f} s vs {theirs.wall:.1f} s; CPU {ours.cpu:.1f} s vs "
        f"{theirs.cpu:.1f} s; peak RSS {ours.peak_rss_mb:.0f} MB vs "
        f"{theirs.peak_rss_mb:.0f} MB; exit {ours.exit_code} vs {theirs.exit_code}"
    )


# -- main --------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the simulator waits before answering each request",
    )
    parser.add_argument(
        "--runs", default=",".join(RUNS), help="comma-separated, in order: first, repeat, mutate"
    )
    parser.add_argument(
        "--incumbent",
        action="store_true",
        help=f"also run {incumbent.PACKAGE} {incumbent.VERSION} "
        "(installed in .bench-venv/incumbent on first use)",
    )
    parser.add_argument(
        "--streams", help="comma-separated streams of ours to select (default: all)"
    )
    parser.add_argument(
        "--runner-details",
        action="store_true",
        help="workflow_jobs_runner_details: true for our tap (jobs from REST "
        "with runner_name and labels; the minimum follows)",
    )
    parser.add_argument(
        "--earlier-attempts",
        action="store_true",
        help="workflow_runs_earlier_attempts: true for our tap (the attempts "
        "before each re-run's latest, and their jobs; the minimum and "
        "the expected records follow)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="max_concurrent_requests for our tap (default: its own default)",
    )
    parser.add_argument(
        "--sequential-baseline",
        action="store_true",
        help="after the first sync, run it again with max_concurrent_requests=1 "
        "(empty state, same world) and print the wall-time ratio",
    )
    parser.add_argument(
        "--token-limit",
        type=int,
        help="the token's budget per window, core and graphql each (default: the scale's)",
    )
    parser.add_argument(
        "--window",
        type=int,
        help="seconds of the simulator's rate-limit window (default: the "
        "scale's; GitHub's is 3600)",
    )
    parser.add_argument(
        "--graphql-processes",
        type=int,
        default=GRAPHQL_PROCESSES,
        help="forked copies of the simulator that execute GraphQL queries side "
        "by side, as GitHub's servers do (github_simulator/forked_graphql.py);"
        " 0: "
        "executed on the simulator's threads, one at a time (default: "
        "%(default)s)",
    )
    parser.add_argument(
        "--faults",
        type=int,
        metavar="SEED",
        help="serve the simulator's fault profile (github_simulator/chaos.py) seeded with SEED, "
        f"in real time: our tap's request_timeout is {FAULTS_REQUEST_TIMEOUT} s, so that a read "
        "timeout stalls that long and a bit",
    )
    parser.add_argument(
        "--outage",
        type=float,
        default=60.0,
        help="with --faults: seconds the profile's outage lasts (its own default, 600, is for "
        "tests on a fake clock; default here: %(default)s)",
    )
    parser.add_argument(
        "--reading",
        choices=sorted(READINGS),
        default="expensive",
        help="how the simulator charges the cases GitHub's cost rule leaves open "
        "(github_simulator/graphql_cost.py); every run is also scored under the "
        "other (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / ".bench-out",
        help="where configs, catalogs, states, logs and results.json go",
    )
    args = parser.parse_args(argv)
    args.run_list = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = set(args.run_list) - set(RUNS)
    if unknown:
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    scale = SCALES[args.scale]
    if args.token_limit or args.window:
        scale = Scale(
            scale.world,
            token_limit=args.token_limit or scale.token_limit,
            window_seconds=args.window or scale.window_seconds,
            note=scale.note,
        )
    command = " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])])
    print(f"# {command}")
    faults = (
        FaultProfile(
            args.faults, outage_seconds=args.outage, timeout_stall=FAULTS_REQUEST_TIMEOUT + 1
        )
        if args.faults is not None
        else None
    )
    with Bench(
        scale,
        args.latency,
        args.seed,
        graphql_processes=args.graphql_processes,
        faults=faults,
        reading=args.reading,
    ) as bench:
        session = Session(args, bench)
        print(
            f"scale {args.scale}: {scale.note}\nworld: {session.counts} (seeded in "
            f"{bench.seed_seconds:.1f} s); latency {args.latency:g} s per request; token "
            f"budget {scale.token_limit:,} points per {scale.window_seconds} s window; "
            f"GraphQL charged under the {args.reading} reading",
            flush=True,
        )
        previous: Snapshot | None = None
        for run in args.run_list:
            previous = session.phase(run, previous)
            if run == "first" and args.sequential_baseline:
                # On the same world as the first sync (before any mutation).
                session.sequential_baseline()
        print("\nsummary")
        print(
            table(
                [
                    "run",
                    "tool",
                    "points",
                    "min pts",
                    "floor",
                    "x min",
                    "x floor",
                    "waited s",
                    "wall s",
                    "CPU s",
                    "peak MB",
                    "records",
                    "exit",
                ],
                session.summary,
            )
        )
        print("\npoints under each reading of GitHub's cost rule (core + GraphQL)")
        print(
            table(
                [
                    "run",
                    "tool",
                    *[
                        f"{reading} {column}"
                        for reading in READINGS
                        for column in ("points", "min", "x min", "largest query")
                    ],
                    "cost warnings",
                ],
                session.readings,
            )
        )
        session.targets()
        session.write(command)
    return 0


class Session:
    """The tools, and what their runs gave."""

    def __init__(self, args: argparse.Namespace, bench: Bench) -> None:
        self.args = args
        self.bench = bench
        self.counts = world_counts(bench.world)
        self.selection = set(args.streams.split(",")) if args.streams else None
        self.out = args.out / f"{args.scale}-latency{args.latency:g}"
        self.streams = [s for s in MODELLED if self.selection is None or s in self.selection]
        self.tools: list[Tool] = [
            Ours(
                self.out / "ours",
                streams=self.selection,
                runner_details=args.runner_details,
                earlier_attempts=args.earlier_attempts,
                concurrency=args.concurrency,
                request_timeout=FAULTS_REQUEST_TIMEOUT if args.faults is not None else None,
                credentials=bench.credentials,
            )
        ]
        if args.incumbent:
            self.tools.append(Incumbent(self.out / "incumbent", self.selection))
        for tool in self.tools:
            tool.setup(bench.simulator.api_url)
        self.results: list[RunResult] = []
        self.minimums: dict[str, dict[str, Cost]] = {}
        self.least_by_reading: dict[str, dict[str, int]] = {}  # run -> reading -> minimum
        self.readings: list[list[Any]] = []
        self.summary: list[list[Any]] = []
        self.json: list[dict[str, Any]] = []

    def phase(self, run: str, previous: Snapshot | None) -> Snapshot:
        """One run of every tool on the same world; returns the world as the run found it."""
        bench, streams = self.bench, self.streams
        if run == "mutate":
            bench.mutate()
        now = snapshot(bench.world)
        by_reading = {
            reading: {
                k: v
                for k, v in minimum(
                    previous if run != "first" else None,
                    now,
                    jobs_by_graphql=not self.args.runner_details,
                    earlier_attempts=self.args.earlier_attempts,
                    reading=reading,
                ).items()
                if k in streams
            }
            for reading in READINGS
        }
        least = by_reading[self.args.reading]
        self.minimums[run] = least
        self.least_by_reading[run] = {r: totals(c)[0] for r, c in by_reading.items()}
        expected = (
            {
                k: v
                for k, v in bench.expected(earlier_attempts=self.args.earlier_attempts).items()
                if k in streams
            }
            if run == "first"
            else {}
        )
        by_tool: dict[str, RunResult] = {}
        for tool in self.tools:
            result = tool.run(bench, run)
            by_tool[tool.name] = result
            if isinstance(tool, Ours):
                result.expected = expected
                pairs = [(s, s) for s in streams]
            else:
                pairs = [(t, s) for s in streams if (t := incumbent.STREAMS.get(s))]
            print_run(
                result,
                least,
                pairs,
                f"== {run} sync: {tool.name} "
                f"({self.args.scale}, latency {self.args.latency:g} s) ==",
            )
            self.record(result, least)
        if OURS in by_tool and THEIRS in by_tool:
            print_side_by_side(by_tool[OURS], by_tool[THEIRS], least, streams)
        least_points, floor = totals(least)
        print(
            f"\nphysical minimum, {run} run: {least_points:,} points with one repository "
            f"per query ({sum(c.core_points for c in least.values()):,} core, "
            f"{sum(c.graphql_points for c in least.values()):,} graphql); floor {floor:,} "
            f"with GraphQL queries shared by repositories ({batched_floor(least):,} graphql)",
            flush=True,
        )
        return now

    def record(self, result: RunResult, least: dict[str, Cost] | None) -> None:
        self.results.append(result)
        points = sum(f.points for f in result.streams.values())
        least_points, floor = totals(least) if least is not None else (None, None)
        self.summary.append(
            [
                result.run,
                result.tool,
                points,
                least_points,
                floor,
                ratio(points, least_points) if least_points is not None else None,
                ratio(points, floor) if floor is not None else None,
                result.waited_wall,
                result.wall,
                result.cpu,
                result.peak_rss_mb,
                result.records,
                result.exit_code,
            ]
        )
        self.json.append(_as_json(result, least or {}))
        least_by_reading = self.least_by_reading.get(result.run, {}) if least else {}
        row: list[Any] = [result.run, result.tool]
        for reading in READINGS:
            least_points = least_by_reading.get(reading)
            points = result.by_reading.get(reading, 0)
            largest = result.largest.get(reading, (0, "-"))
            row += [
                points,
                least_points,
                ratio(points, least_points) if least_points is not None else None,
                f"{largest[0]} ({largest[1]})",
            ]
        self.readings.append([*row, result.cost_warnings])

    def sequential_baseline(self) -> None:
        """Our first sync once more, one request at a time."""
        baseline = Ours(
            self.out / "ours-sequential",
            streams=self.selection,
            runner_details=self.args.runner_details,
            earlier_attempts=self.args.earlier_attempts,
            concurrency=1,
            credentials=self.bench.credentials,
        )
        baseline.name = f"{OURS} (max_concurrent_requests=1)"
        baseline.setup(self.bench.simulator.api_url)
        result = baseline.run(self.bench, "first")
        self.record(result, None)
        concurrent = self.ours("first")
        if concurrent:
            print(
                f"\nwall time of the first sync: {concurrent.wall:.1f} s with "
                f"max_concurrent_requests={self.args.concurrency or 'default'}, "
                f"{result.wall:.1f} s with 1: ratio {concurrent.wall / result.wall:.2f}",
                flush=True,
            )

    def ours(self, run: str, tool: str = OURS) -> RunResult | None:
        return next((r for r in self.results if r.run == run and r.tool == tool), None)

    def targets(self) -> None:
        """Issue 6's targets (written for the medium scale), met or not."""
        lines = []

        def points(result: RunResult) -> int:
            return sum(f.points for f in result.streams.values())

        def modelled(result: RunResult, least: int) -> str:
            # bench/minimum.py models the streams in its STREAMS (the probe serves two of them);
            # the others are shown apart, without a minimum.
            ours = sum(
                f.points
                for name, f in result.streams.items()
                if name in MODELLED or name == "change_probe"
            )
            if ours == points(result):
                return ""
            return (
                f"; the streams the minimum models: {ours:,} = {ratio(ours, least)} x, the "
                f"others (no minimum modelled): {points(result) - ours:,}"
            )

        first, repeat, mutate = self.ours("first"), self.ours("repeat"), self.ours("mutate")
        if first:
            least, floor = totals(self.minimums["first"])
            lines.append(f"first sync <= 400 points: {points(first):,}")
            lines.append(
                f"first sync <= 1.3 x the physical minimum: {points(first):,} = "
                f"{ratio(points(first), least)} x the minimum with one repository per "
                f"query ({least:,}), {ratio(points(first), floor)} x the floor "
                f"({floor:,})" + modelled(first, least)
            )
        if repeat:
            least, floor = totals(self.minimums["repeat"])
            lines.append(
                f"repeated sync, no change, <= 25 points: {points(repeat):,} "
                f"(minimum {least:,}, floor {floor:,})"
            )
        if mutate:
            least, floor = totals(self.minimums["mutate"])
            lines.append(
                f"after a change, points proportional to it: {points(mutate):,} "
                f"for a minimum of {least:,} ({ratio(points(mutate), least)} x), "
                f"floor {floor:,} ({ratio(points(mutate), floor)} x)" + modelled(mutate, least)
            )
        sequential = self.ours("first", f"{OURS} (max_concurrent_requests=1)")
        if first and sequential:
            lines.append(
                f"wall time <= 1/3 of a sequential run: {first.wall:.1f} s / "
                f"{sequential.wall:.1f} s = {first.wall / sequential.wall:.2f}"
            )
        ours = [r for r in self.results if r.tool.startswith(OURS)]
        if ours:
            lines.append(f"peak memory < 150 MB: {max(r.peak_rss_mb for r in ours):.0f} MB")
            waited = sum(r.waited_wall for r in ours)
            failed = [f"{r.run} ({r.exit_code})" for r in ours if r.exit_code]
            lines.append(
                f"completes, waiting out the budget: exit codes "
                f"{'all 0' if not failed else ', '.join(failed)}, {waited:,.0f} s "
                "waited"
            )
        print(f"\nissue 14 targets (medium scale, {self.args.reading} reading), {OURS}:")
        for line in lines:
            print(f"- {line}")

    def write(self, command: str) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "results.json").write_text(
            json.dumps(
                {
                    "command": command,
                    "scale": self.args.scale,
                    "world": self.counts,
                    "latency": self.args.latency,
                    "runs": self.json,
                    "summary": self.summary,
                },
                indent=1,
            )
        )
        print(f"\n(results: {self.out / 'results.json'})")


def world_counts(world: World) -> dict[str, int]:
    repos = list(world.repos.values())
    pulls = [p for v in pulls_of(world).by_repo.values() for p in v]
    runs = [r for repo in repos for r in actions.runs_of(world, repo)]
    history = 0
    for repo in repos:
        data = commits.git(world, repo)
        head = data.branches.get(repo.default_branch)
        history += len(data.reachable(head)) if head else 0
    return {
        "repositories": len(repos),
        "pull_requests": len(pulls),
        "reviews": sum(r.state != "PENDING" for p in pulls for r in p.reviews),
        "commits": history,
        "workflow_runs": len(runs),
        "run_attempts": sum(len(r.attempts) for r in runs),
        "jobs": sum(len(a.jobs) for r in runs for a in r.attempts),
    }


def _as_json(result: RunResult, least: dict[str, Cost]) -> dict[str, Any]:
    return {
        "tool": result.tool,
        "run": result.run,
        "exit_code": result.exit_code,
        "wall_seconds": round(result.wall, 2),
        "cpu_seconds": round(result.cpu, 2),
        "peak_rss_mb": round(result.peak_rss_mb, 1),
        "simulator_cpu_seconds": round(result.simulator_cpu, 2),
        "waited_wall_seconds": round(result.waited_wall, 1),
        "records": result.records,
        "output_mb": round(result.output_mb, 2),
        "state_messages": result.states,
        "last_state_kb": round(result.state_kb, 1),
        "streams": {
            name: {
                "requests": dict(f.requests),
                "core_points": f.core_points,
                "graphql_points": f.graphql_points,
                "waited": f.waited,
                "records": f.records,
            }
            for name, f in result.streams.items()
        },
        "minimum": {name: {**asdict(c), "floor": c.floor} for name, c in least.items()},
        "simulator_log": {"requests": dict(result.log_requests), "points": dict(result.log_points)},
    }


if __name__ == "__main__":
    sys.exit(main())
