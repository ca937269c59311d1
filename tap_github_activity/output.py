"""Singer messages to stdout, written in blocks rather than flushed one by one.

Records are written as one block before any other message (so a target holds every record
before the state that covers it), when the block is full or a second old, and before the main
thread waits for a fetch. Why: docs/design-notes.md.
"""

from __future__ import annotations

import sys
import threading
from time import monotonic

from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import Message, RecordMessage
from typing_extensions import override

__all__ = [
    "BLOCK_BYTES",
    "FLUSH_SECONDS",
    "BufferedSingerWriter",
    "flush_before_waiting",
    "write_kept",
]

# Most bytes of records kept before they are written (characters, ASCII JSON).
BLOCK_BYTES = 256 * 1024
# Longest time a record may be kept while the tap keeps working.
FLUSH_SECONDS = 1.0


class _Block:
    """The lines not written yet (one per process, as stdout is)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.since = monotonic()
        self.writer: threading.Thread | None = None  # the thread that writes messages

    def add(self, line: str, *, write_now: bool = False) -> None:
        now = monotonic()
        if not self.lines:
            self.since = now
        self.writer = threading.current_thread()
        self.lines.append(line)
        self.size += len(line)
        if write_now or self.size >= BLOCK_BYTES or now - self.since >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            sys.stdout.write("".join(self.lines))
            self.lines.clear()
            self.size = 0
        sys.stdout.flush()


_block = _Block()


class BufferedSingerWriter(SingerWriter):
    """singer-sdk's writer, writing blocks at the points above instead of every message."""

    @override
    def write_message(self, message: Message) -> None:
        _block.add(
            self.format_message(message) + "\n", write_now=not isinstance(message, RecordMessage)
        )


def flush_before_waiting() -> None:
    """Write what is kept if this is the thread that writes the messages (the feed calls it
    before the main thread waits; on any other thread it does nothing)."""
    if threading.current_thread() is _block.writer:
        write_kept()


def write_kept() -> None:
    """Write what is kept (at the end of a run, however it ends; on the writing thread)."""
    if _block.lines:
        _block.flush()
