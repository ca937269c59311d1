"""singer-sdk's log lines that do not belong in this tap's default log, kept out in one place.

singer-sdk logs its per-stream and per-partition lines at INFO (on the tap's logger and the
streams' child loggers) and two warnings that are wrong for this tap (docs/architecture.md,
"singer-sdk's log lines"). A logging filter, installed when the tap starts, turns the first
into DEBUG lines and drops the second. It matches singer-sdk's message texts, which
tests/test_logs.py pins: an upgrade that rewords one fails there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["DEMOTED", "DROPPED", "quiet_sdk_lines"]

# Per-run or per-partition chatter: DEBUG.
DEMOTED = (
    "Skipping parse of env var settings",
    "Parsing env var for settings config",
    "Added '%s' as child stream",
    "Skipping deselected stream",
    "Beginning sync of '%s'",
    "Starting incremental sync of '%s'",
)
# Wrong for this tap: never shown.
DROPPED = (
    "Stream is assumed to be unsorted, progress is not resumable",
    "Stream descendent '%s' is selected and its parent",
)

# singer-sdk's logger of the "not resumable" warning (singer_sdk/helpers/_state.py).
SDK_STATE_LOGGER = "singer_sdk"


class _SdkLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if message.startswith(DROPPED):
            return False
        if message.startswith(DEMOTED):
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_FILTER = _SdkLines()


def quiet_sdk_lines(loggers: Iterable[logging.Logger]) -> None:
    """Filter these loggers' singer-sdk lines (a filter applies only to the logger it is on,
    not to its children: the tap's logger and each stream's). Adding it twice adds it once."""
    for logger in [*loggers, logging.getLogger(SDK_STATE_LOGGER)]:
        logger.addFilter(_FILTER)
