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
from tap_github_activity.conditional import request_key
from tap_github_activity.fetch import actions
from tap_github_activity.fetch.runs_window import (
    RunSeen,
    Slice,
    SliceRead,
    cut,
    live_slices,
    load_slices,
)
from tests.conftest import run_sync

NOW = datetime(2026, 6, 30, 12, tzinfo=timezone.utc)
WINDOW = NOW - timedelta(days=30)


def runs(count: int, *, every: timedelta, newest: datetime = NOW) -> list[RunSeen]:
    return [RunSeen(newest - every * index, completed=True) for index in range(count)]


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
    piece = Slice(WINDOW, None, pending=True)
    saved = json.loads(json.dumps([piece.state()]))

    assert load_slices(saved) == [piece]
    # With its page's ETag in the conditional store: about 220 characters per slice.
    entry = {
        request_key("/actions/runs", piece.params): {"etags": ['W/"' + "a" * 40 + '"'], "pages": 1}
    }
    assert len(json.dumps(saved)) + len(json.dumps(entry)) < 240


def test_a_run_older_than_the_window_still_running_is_seen_finishing(
    config, github: GitHubSimulator, world: World, clock: FakeClock
):
    api = world.repo("acme", "api")
    assert api is not None
    rng = random.Random(3)  # noqa: S311 -- reproducible test data, not cryptography
    for index in range(130):  # more than a slice: the window is cut
        sim.add_run(world, api, rng, world.now() - timedelta(hours=index + 1), "success", jobs=1)
    waiting = sim.add_run(world, api, rng, world.now() - timedelta(days=33), "queued", jobs=1)
    first = run_sync(config, streams={"workflow_runs"})
    partition = next(
        p
        for p in first.state["bookmarks"]["workflow_runs"]["partitions"]
        if p["context"]["repo_id"] == api.id
    )
    assert partition["slices"][0]["pending"]
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
    api = world.repo("acme", "api")
    assert api is not None
    rng = random.Random(4)  # noqa: S311 -- reproducible test data, not cryptography
    for index in range(450):
        sim.add_run(world, api, rng, world.now() - timedelta(hours=index + 1), "success", jobs=1)
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
        slices = next(
            p["slices"]
            for p in state["bookmarks"]["workflow_runs"]["partitions"]
            if p["context"]["repo_id"] == api.id
        )
        assert len(slices) <= 3
    assert seen == {(run.id, run.latest.number) for run in sim.runs_of(world, api)}
