"""Where the benchmark's taps write: a process of its own, as a Singer target is.

Reads Singer messages from stdin as they come, and at the end of input prints one JSON object:
RECORD messages per stream, STATE messages, bytes read and the last STATE message.

Why a separate process: the benchmark's own process serves the simulated API on threads that
share one interpreter lock. Read there, a tap's output waits whenever the simulator computes,
the pipe fills, and the tap's writes block: the benchmark would time its own reading.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

RECORD_PREFIX = b'{"type":"RECORD","stream":"'
STATE_PREFIX = b'{"type":"STATE"'


def main() -> None:
    records: Counter[str] = Counter()
    last_state = b""
    output = states = 0
    start = len(RECORD_PREFIX)
    for line in sys.stdin.buffer:
        output += len(line)
        if line.startswith(RECORD_PREFIX):
            records[line[start : line.index(b'"', start)].decode()] += 1
        elif line.startswith(STATE_PREFIX):
            states += 1
            last_state = line
    json.dump(
        {"records": records, "states": states, "bytes": output, "last_state": last_state.decode()},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
