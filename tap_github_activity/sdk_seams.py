"""The tap's only uses of singer-sdk members that are not its public surface, in one place.

singer-sdk writes the whole tap state after every partition: at 200 repositories that is about
2,000 STATE messages of 400 KB. It has no hook to space them, nor one after a sync. So, here:
- `ThrottledStateStream._write_state_message` (private) writes only when the tap says a
  checkpoint is due (at most one per `STATE_MESSAGE_INTERVAL` seconds);
- `ThrottledStateTap.sync_all` and `run_sync_dry_run` (`@final`) end with the state the
  throttle held back (and run `after_sync`, also when the sync fails, then
  `after_successful_sync` when it did not);
- `mark_state_changed` sets `state_manager.is_flushed` for state changed outside a record;
- `finalize_partition` makes a partition's bookmark final at its end (`state_manager`), which
  singer-sdk does itself only for a partition named by its whole context (ours are named by the
  repository id: state_layout.py).
tests/test_sdk_seams.py pins the singer-sdk behaviour these rely on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from time import monotonic
from typing import Any

from singer_sdk import Stream, Tap
from typing_extensions import override

__all__ = [
    "STATE_MESSAGE_INTERVAL",
    "ThrottledStateStream",
    "ThrottledStateTap",
    "finalize_partition",
    "mark_state_changed",
]

# Least seconds between two STATE messages while a run goes on.
STATE_MESSAGE_INTERVAL = 30.0


def mark_state_changed(stream: Stream) -> None:
    """The stream's state changed: the next checkpoint writes it."""
    stream.state_manager.is_flushed = False


def finalize_partition(stream: Stream, context: Mapping[str, Any]) -> None:
    """The end of a partition: its bookmark is final (progress markers promoted), and the next
    checkpoint writes it; a partition that holds nothing but its name is dropped (one is made
    again when a stream asks for it)."""
    state = stream.get_context_state(dict(context))
    stream.state_manager.finalize_state(state)
    if set(state) == {"context"}:
        partitions = stream.stream_state.get("partitions") or []
        partitions[:] = [partition for partition in partitions if partition is not state]


class ThrottledStateTap(Tap):
    """A tap whose streams write its state at most once per interval, and once at the end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_state_message = monotonic()

    def state_checkpoint_due(self) -> bool:
        """Whether a stream may write the tap's state now. A run killed before a checkpoint
        reads again what it read since the last one (upserts make that safe)."""
        now = monotonic()
        if now - self._last_state_message < STATE_MESSAGE_INTERVAL:
            return False
        self._last_state_message = now
        return True

    def write_final_state(self) -> None:
        """The run's last state, if a stream changed it since the last STATE message."""
        pending = [s for s in self.streams.values() if not s.state_manager.is_flushed]
        if pending:
            self.state_writer.write_state(self.state)
            for stream in pending:
                stream.state_manager.is_flushed = True
            self._last_state_message = monotonic()

    def after_sync(self) -> None:
        """Runs after every sync, also a failed one (the subclass's cleanup and summary)."""

    def after_successful_sync(self) -> None:
        """Runs after a sync that did not raise, once its state and summary are out: may raise
        to say the run failed in part."""

    @override  # type: ignore[misc]  # final in singer-sdk: see the module
    def sync_all(self) -> None:
        try:
            super().sync_all()
            self.write_final_state()  # a failed run leaves its last checkpoint
        finally:
            self.after_sync()
        self.after_successful_sync()

    @override  # type: ignore[misc]  # final in singer-sdk: see the module
    def run_sync_dry_run(
        self, dry_run_record_limit: int | None = 1, streams: Iterable[Stream] | None = None
    ) -> bool:
        succeeded = super().run_sync_dry_run(dry_run_record_limit, streams)
        self.write_final_state()
        return succeeded


class ThrottledStateStream(Stream):
    """A stream that writes the tap's state only when its `ThrottledStateTap` says it is due."""

    def __init__(self, tap: Tap, *args: Any, **kwargs: Any) -> None:
        super().__init__(tap, *args, **kwargs)
        assert isinstance(tap, ThrottledStateTap)
        self.throttle = tap

    @override
    def _write_state_message(self) -> None:
        if not self.state_manager.is_flushed and self.throttle.state_checkpoint_due():
            super()._write_state_message()
