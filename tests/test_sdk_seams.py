"""The singer-sdk behaviour tap_github_activity/sdk_seams.py relies on (its only uses of members
outside singer-sdk's public surface). If one of these fails after an upgrade, the seam must
change with it."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.helpers.types import Context

from tap_github_activity import sdk_seams
from tap_github_activity.tap import TapGitHubActivity


class Parts(Stream):
    """A parent: one child partition per record, as repositories is."""

    name = "parts"
    primary_keys = ("p",)
    schema = th.PropertiesList(th.Property("p", th.IntegerType)).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        yield from ({"p": p} for p in range(3))

    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        return {"p": record["p"]}


class Numbers(Stream):
    name = "numbers"
    parent_stream_type = Parts
    primary_keys = ("n",)
    replication_key = "n"
    schema = th.PropertiesList(
        th.Property("n", th.IntegerType), th.Property("p", th.IntegerType)
    ).to_dict()
    writes: ClassVar[list[bool]] = []

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        yield {"n": context["p"] * 10 + 1}

    def _write_state_message(self) -> None:
        Numbers.writes.append(self.state_manager.is_flushed)
        super()._write_state_message()


class PlainTap(Tap):
    name = "tap-plain"
    config_jsonschema = th.PropertiesList().to_dict()

    def discover_streams(self) -> list[Stream]:
        return [Parts(tap=self), Numbers(tap=self)]


def messages(run: Any) -> list[dict[str, Any]]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run()
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


def test_the_sdk_writes_the_state_through_the_stream_after_every_partition():
    Numbers.writes = []
    tap = PlainTap(config={})
    written = messages(tap.sync_all)
    # A call at the end of each partition, each with the state changed (not flushed).
    assert Numbers.writes[:3] == [False, False, False]
    states = [m for m in written if m["type"] == "STATE"]
    assert len(states) >= 3
    # ... and is_flushed is what tells whether a write is due.
    assert all(stream.state_manager.is_flushed for stream in tap.streams.values())


def test_sync_all_and_the_dry_run_are_final_and_end_without_a_state_of_their_own():
    for name in ("sync_all", "run_sync_dry_run"):
        assert getattr(getattr(Tap, name), "__final__", False), name
    Numbers.writes = []
    tap = PlainTap(config={})
    # With the stream's own writes suppressed, sync_all writes at most the state it started
    # with: the last state must come from the seam.
    original = Numbers._write_state_message
    Numbers._write_state_message = lambda self: None  # type: ignore[method-assign]
    Parts._write_state_message = lambda self: None  # type: ignore[method-assign]
    try:
        written = messages(tap.sync_all)
    finally:
        Numbers._write_state_message = original  # type: ignore[method-assign]
        del Parts._write_state_message
    assert [m for m in written if m["type"] == "STATE"] == []
    assert not tap.streams["numbers"].state_manager.is_flushed  # changed, never written


def test_the_throttle_holds_states_back_and_the_end_writes_the_last(monkeypatch):
    class Throttled(sdk_seams.ThrottledStateStream, Numbers):
        pass

    class ThrottledParts(sdk_seams.ThrottledStateStream, Parts):
        pass

    Throttled.parent_stream_type = ThrottledParts

    class ThrottledTap(sdk_seams.ThrottledStateTap, PlainTap):
        def discover_streams(self) -> list[Stream]:
            return [ThrottledParts(tap=self), Throttled(tap=self)]

    monkeypatch.setattr(sdk_seams, "monotonic", lambda: 0.0)  # never due during the run
    tap = ThrottledTap(config={})
    written = messages(tap.sync_all)
    states = [m["value"] for m in written if m["type"] == "STATE"]
    assert len(states) == 1
    assert states[0] == tap.state
    assert written[-1]["type"] == "STATE"


def test_the_command_runs_the_sync_in_its_callback_so_a_wrapper_can_set_the_exit_code():
    # tap.get_singer_command (command.py) wraps the callback to turn PartialFailureError into
    # exit code 3
    # (tests/test_isolation.py checks the code through the real command line).
    command = Tap.get_singer_command.__func__(TapGitHubActivity)
    assert command.callback == TapGitHubActivity.invoke
    assert TapGitHubActivity.get_singer_command().callback != TapGitHubActivity.invoke


class NamedParts(Parts):
    """A parent whose child context carries more than the child's state partition's name."""

    name = "named_parts"

    def get_child_context(self, record: dict[str, Any], context: Context | None) -> dict[str, Any]:
        return {"p": record["p"], "label": f"part {record['p']}"}


class NamedNumbers(Numbers):
    """Partitions named by `p` alone (state_layout.py's way); `finish` at each one's end."""

    name = "named_numbers"
    parent_stream_type = NamedParts
    finish: ClassVar[bool] = False
    schema = th.PropertiesList(
        th.Property("n", th.IntegerType),
        th.Property("p", th.IntegerType),
        th.Property("label", th.StringType),
    ).to_dict()
    seen: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state_partitioning_keys = ("p",)

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        assert context is not None
        yield {"n": context["p"] * 10 + 1}
        # Unsorted: the bookmark waits in progress markers until the partition is final.
        NamedNumbers.seen.append(json.loads(json.dumps(self.get_context_state(context))))
        if NamedNumbers.finish:
            sdk_seams.finalize_partition(self, context)
            NamedNumbers.seen.append(json.loads(json.dumps(self.get_context_state(context))))


class NamedTap(PlainTap):
    name = "tap-named"

    def discover_streams(self) -> list[Stream]:
        return [NamedParts(tap=self), NamedNumbers(tap=self)]


def test_a_partition_named_by_fewer_keys_than_its_context_is_the_tap_s_to_finish():
    # singer-sdk adds to a record only the keys its state partition is named by (the tap's
    # post_process adds the rest of the context), and does not make the partition's bookmark
    # final at its end (finalize_partition does).
    NamedNumbers.seen, NamedNumbers.finish = [], False
    written = messages(NamedTap(config={}).sync_all)
    records = [
        m["record"] for m in written if m["type"] == "RECORD" and m["stream"] == "named_numbers"
    ]
    assert records[0] == {"n": 1, "p": 0}
    states = [m["value"] for m in written if m["type"] == "STATE"]
    middle = states[1]["bookmarks"]["named_numbers"]["partitions"]
    assert all("replication_key_value" not in p for p in middle)  # not final yet
    assert all(p["context"] == {"p": p["context"]["p"]} for p in middle)

    NamedNumbers.seen, NamedNumbers.finish = [], True
    messages(NamedTap(config={}).sync_all)
    before, after = NamedNumbers.seen[:2]
    assert "progress_markers" in before
    assert "replication_key_value" not in before
    assert after["replication_key_value"] == 1
    assert "progress_markers" not in after
