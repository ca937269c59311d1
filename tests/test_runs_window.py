"""The re-run window's slices (tap_github_activity/fetch/runs_window.py): where they are cut, which
stay watched, what state keeps; and, through a sync, a run older than the window that was still
running."""

from __future__ import annotations

import itertools
import json
import random
from datetime import datetime, timedelta, timezone

from github_simulator import FakeClock, GitHubSimulator, World
from github_simulator import actions as sim
from github_simulator.world import Repo
from tap_github_activity.conditional import request_key
from tap_github_activity.fetch import actions, runs_window
from tap_github_activity.fetch.runs_window import (
    MAX_SEEN_RUNS,
    RunSeen,
    Slice,
    SliceRead,
    cut,
    fingerprint,
    live_slices,
    load_slices,
    unpack,
)
from tests.conftest import run_sync

NOW = datetime(2026, 6, 30, 12, tzinfo=timezone.utc)
WINDOW = NOW - timedelta(days=30)


def runs(count: int, *, every: timedelta, newest: datetime = NOW) -> list[RunSeen]:
    return [RunSeen(newest - every * index, completed=True) for index in range(count)]


def hourly_runs(world: World, count: int, seed: int) -> tuple[Repo, random.Random]:
    """acme/api with `count` more runs, one an hour back from now; its random source."""
    api = world.repo("acme", "api")
    assert api is not None
    rng = random.Random(seed)  # noqa: S311 -- reproducible test data, not cryptography
    for index in range(count):
        sim.add_run(world, api, rng, world.now() - timedelta(hours=index + 1), "success", jobs=1)
    return api, rng


def api_partition(state: dict) -> dict:
    """acme/api's workflow_runs state (the seeded world's first repository: the first id)."""
    partitions = state["bookmarks"]["workflow_runs"]["partitions"]
    return min(partitions, key=lambda p: p["context"]["repo_id"])


def test_slices_hold_a_page_each_and_cover_the_window_up():
    seen = runs(250, every=timedelta(hours=4))  # 41 days: 181 in the window

    slices = cut(Slice(None, None), seen, WINDOW)

    assert slices[0].low == WINDOW
    assert slices[-1].high is None
    for older, newer in itertools.pairwise(slices):
        assert older.high == newer.low - timedelta(seconds=1)  # type: ignore[operator]
    held = [
        sum(
            1
            for r in seen
            if r.created_at >= s.low and (s.high is None or r.created_at <= s.high)  # type: ignore[operator]
        )
        for s in slices
    ]
    assert held == [100, 81]


def test_runs_of_one_second_stay_in_one_slice():
    second = NOW - timedelta(days=1)
    older = runs(50, every=timedelta(minutes=1), newest=NOW - timedelta(days=2))
    seen = older + [RunSeen(second, completed=True)] * 60

    slices = cut(Slice(None, None), seen, WINDOW)

    # 50 + 60 is over a page: the cut falls before the second, not inside it.
    assert [(s.low, s.high) for s in slices] == [
        (WINDOW, second - timedelta(seconds=1)),
        (second, None),
    ]


def test_many_runs_make_slices_of_several_pages_not_more_slices():
    seen = runs(9_000, every=timedelta(minutes=4))  # 25 days

    slices = cut(Slice(None, None), seen, WINDOW, max_slices=40)

    assert len(slices) <= 40


def test_a_run_not_completed_keeps_its_old_slice_watched():
    old = RunSeen(NOW - timedelta(days=33), completed=False)
    slices = cut(Slice(None, None), [old, *runs(150, every=timedelta(hours=1))], WINDOW)
    assert slices[0].low == old.created_at

    expired = Slice(NOW - timedelta(days=40), NOW - timedelta(days=31), pending=False)
    waiting = Slice(NOW - timedelta(days=40), NOW - timedelta(days=31), pending=True)
    assert live_slices([expired, waiting, *slices], WINDOW) == [waiting, *slices]


def test_state_round_trips_in_a_few_characters():
    rows = [{"id": index, "run_attempt": 1, "status": "completed"} for index in range(100)]
    read = SliceRead()
    read.page(not_modified=False)
    for row in rows:
        read.add({"created_at": "2026-06-30T11:00:00Z", "status": "completed"}, fingerprint(row))
    piece = Slice(WINDOW, None, pending=True, seen=read.seen(None))
    saved = json.loads(json.dumps([piece.state()]))

    assert load_slices(saved) == [piece]
    assert unpack(saved[0]["seen"][0]) == {fingerprint(row) for row in rows}
    # With its page's ETag in the conditional store: about 220 characters per slice, and 8
    # per run (a fingerprint of 6 bytes).
    entry = {
        request_key("/actions/runs", piece.params): {"etags": ['W/"' + "a" * 40 + '"'], "pages": 1}
    }
    assert len(saved[0]["seen"][0]) == 8 * 100
    assert len(json.dumps(saved)) + len(json.dumps(entry)) < 240 + 8 * 100
    # A state of an earlier version has no fingerprints.
    del saved[0]["seen"]
    assert load_slices(saved)[0].seen is None


def test_a_fingerprint_changes_with_any_field_of_the_row():
    row = {"id": 7, "run_attempt": 2, "status": "completed", "conclusion": "success"}
    assert fingerprint(row) == fingerprint(dict(reversed(row.items())))
    assert len(fingerprint(row)) == 6
    assert len({fingerprint({**row, name: "x"}) for name in row} | {fingerprint(row)}) == 5


def test_fingerprints_of_pages_that_answered_304_are_kept():
    before = ["AAAAAAAA", "BBBBBBBB", "CCCCCCCC"]
    read = SliceRead()
    read.page(not_modified=True)
    assert not read.changed
    read.page(not_modified=False)
    read.add({"created_at": "2026-06-30T11:00:00Z", "status": "completed"}, b"\xff" * 6)
    read.page(not_modified=True)
    assert read.changed
    assert read.seen(before) == ["AAAAAAAA", "________", "CCCCCCCC"]
    # Not known: a page that answered 304 beyond those recorded, or no record at all.
    assert read.seen(before[:2]) is None
    assert read.seen(None) is None


def test_a_slice_over_githubs_cap_keeps_no_fingerprints():
    read = SliceRead()
    read.page(not_modified=False)
    for index in range(MAX_SEEN_RUNS + 1):
        read.add(
            {"created_at": "2026-06-30T11:00:00Z", "status": "completed"},
            index.to_bytes(6, "big"),
        )
    assert read.seen(None) is None
    read.runs.pop()
    read.pages[0].pop()  # type: ignore[union-attr]
    assert [len(page) for page in read.seen(None) or []] == [8 * MAX_SEEN_RUNS]


def test_a_run_older_than_the_window_still_running_is_seen_finishing(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    api, rng = hourly_runs(world, 130, seed=3)  # more than a slice: the window is cut
    waiting = sim.add_run(world, api, rng, world.now() - timedelta(days=33), "queued", jobs=1)
    first = run_sync(config, streams={"workflow_runs"})
    assert api_partition(first.state)["slices"][0]["pending"]
    clock.advance(3600)
    sim.finish(world, waiting, rng, world.now())
    github.reset_log()

    second = run_sync(config, state=first.state, streams={"workflow_runs"})

    assert [(r["id"], r["status"]) for r in second.records["workflow_runs"]] == [
        (waiting.id, "completed")
    ]
    assert github.points("core") == 1 + 1  # the repositories, and the one slice that changed


def test_only_the_open_slice_or_an_incomplete_read_is_cut():
    read = SliceRead(runs=runs(150, every=timedelta(minutes=1)), changed=True)
    two_pages = {"etags": ["a", "b"], "pages": 2}
    assert read.needs_cut(Slice(WINDOW, None), two_pages)
    assert not read.needs_cut(Slice(WINDOW, NOW), two_pages)  # closed: its pages are stable
    assert read.needs_cut(Slice(WINDOW, NOW), {})  # over GitHub's cap: several queries
    assert read.needs_cut(Slice(WINDOW, NOW), {"etags": ["a"] * 8, "pages": 9})


def test_a_repository_keeps_at_most_max_slices(
    config, github: GitHubSimulator, world: World, clock: FakeClock, monkeypatch
):
    monkeypatch.setattr(actions, "MAX_SLICES", 3)
    api, rng = hourly_runs(world, 450, seed=4)
    state: dict = {}
    seen: set = set()
    for sync in range(4):
        if sync:
            clock.advance(3600)
            for index in range(120):  # more than a page of new runs since the last sync
                created = world.now() - timedelta(seconds=20 * index)
                sim.add_run(world, api, rng, created, "success", jobs=1)
        result = run_sync(config, state=state, streams={"workflow_runs"})
        state = result.state
        seen |= {
            (r["id"], r["run_attempt"])
            for r in result.records.get("workflow_runs", [])
            if r["repo_id"] == api.id
        }
        assert len(api_partition(state)["slices"]) <= 3
    assert seen == {(run.id, run.latest.number) for run in sim.runs_of(world, api)}


def test_a_slice_of_several_pages_keeps_each_pages_fingerprints(
    config, github: GitHubSimulator, world: World, clock: FakeClock, monkeypatch
):
    monkeypatch.setattr(actions, "MAX_SLICES", 1)  # one slice of every run: three pages
    api, rng = hourly_runs(world, 250, seed=5)
    state = run_sync(config, streams={"workflow_runs"}).state
    assert [len(page) // 8 for page in api_partition(state)["slices"][0]["seen"]] == [100, 100, 60]
    # A re-run on the last page: the others answer 304 and keep their fingerprints.
    oldest = min(sim.runs_of(world, api), key=lambda r: r.created_at)
    clock.advance(3600)
    sim.rerun(world, oldest, rng, world.now())
    github.reset_log()
    result = run_sync(config, state=state, streams={"workflow_runs"})
    state = result.state
    assert [r.status for r in github.requests("/repos/acme/api/actions/runs$")] == [304, 304, 200]
    assert [(r["id"], r["run_attempt"]) for r in result.records["workflow_runs"]] == [
        (oldest.id, 2)
    ]
    assert [len(page) // 8 for page in api_partition(state)["slices"][0]["seen"]] == [100, 100, 60]
    # A run reaching the listing among older ones, behind the bookmark: every page shifts.
    clock.advance(60)
    late = sim.add_run(world, api, rng, world.now() - timedelta(hours=100, minutes=30), "success")
    github.reset_log()
    result = run_sync(config, state=state, streams={"workflow_runs"})
    assert [r.status for r in github.requests("/repos/acme/api/actions/runs$")] == [200] * 3
    assert [(r["id"], r["run_attempt"]) for r in result.records["workflow_runs"]] == [(late.id, 1)]


def test_a_slice_too_large_to_keep_fingerprints_is_judged_by_the_bookmark_and_said(
    config, world: World, clock: FakeClock, monkeypatch, caplog
):
    monkeypatch.setattr(actions, "MAX_SLICES", 1)
    for module in (runs_window, actions):
        monkeypatch.setattr(module, "MAX_SEEN_RUNS", 50)
    api, rng = hourly_runs(world, 120, seed=6)
    state = run_sync(config, streams={"workflow_runs"}).state
    partition = api_partition(state)
    bookmark = partition["replication_key_value"]
    assert [("seen" in piece) for piece in partition["slices"]] == [False]
    assert "acme/api: a slice holds over 50 runs" in caplog.text
    clock.advance(3600)
    run = sim.runs_of(world, api)[-1]
    rerun = sim.rerun(world, run, rng, world.now())
    result = run_sync(config, state=state, streams={"workflow_runs"})
    # The re-run, and (the bookmark is inclusive) the runs updated in the bookmark's second.
    emitted = {(r["id"], r["run_attempt"]): r for r in result.records["workflow_runs"]}
    assert (run.id, rerun.number) in emitted
    assert {r["updated_at"] for k, r in emitted.items() if k != (run.id, rerun.number)} <= {
        bookmark
    }
