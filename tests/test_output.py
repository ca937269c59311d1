"""Singer messages are written in blocks: in order, none kept past a STATE, a wait or a run's
end (tap_github_activity/output.py)."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from typing import Any

import pytest
from singer_sdk.singerlib import Message, RecordMessage, StateMessage

from tap_github_activity import output
from tap_github_activity.output import BufferedSingerWriter, flush_before_waiting, write_kept
from tap_github_activity.streams.pull_requests import PullRequestsStream
from tap_github_activity.tap import TapGitHubActivity
from tests.conftest import select


class CountingStdout(io.StringIO):
    """stdout that counts the writes reaching it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines()]


@pytest.fixture
def stdout() -> CountingStdout:
    """stdout for the test's body (pytest sets its own at each phase of a test: a fixture
    replacing sys.stdout would be undone)."""
    write_kept()  # nothing of another test's
    return CountingStdout()


# The pull request whose record fails in the failed run.
FAILING_NUMBER = 3


def record(number: int) -> RecordMessage:
    return RecordMessage(stream="pull_requests", record={"number": number})


def test_records_are_kept_until_a_state_then_written_in_order(stdout: CountingStdout) -> None:
    writer = BufferedSingerWriter()
    with contextlib.redirect_stdout(stdout):
        for number in range(3):
            writer.write_message(record(number))
        assert stdout.getvalue() == ""

        writer.write_message(StateMessage(value={"bookmarks": {"pull_requests": {"n": 2}}}))

    assert [m["type"] for m in stdout.messages()] == ["RECORD", "RECORD", "RECORD", "STATE"]
    assert [m["record"]["number"] for m in stdout.messages()[:3]] == [0, 1, 2]
    assert stdout.writes == 1  # one block, not a write per message


def test_a_full_block_is_written(stdout: CountingStdout, monkeypatch: pytest.MonkeyPatch) -> None:
    line = len(BufferedSingerWriter().format_message(record(0))) + 1
    monkeypatch.setattr(output, "BLOCK_BYTES", 3 * line)
    writer = BufferedSingerWriter()
    with contextlib.redirect_stdout(stdout):
        for number in range(7):
            writer.write_message(record(number))
        assert [m["record"]["number"] for m in stdout.messages()] == list(range(6))

        write_kept()

    assert [m["record"]["number"] for m in stdout.messages()] == list(range(7))


def test_a_record_is_not_kept_longer_than_flush_seconds(
    stdout: CountingStdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(output, "monotonic", lambda: now[0])
    writer = BufferedSingerWriter()
    with contextlib.redirect_stdout(stdout):
        writer.write_message(record(0))
        now[0] += output.FLUSH_SECONDS / 2
        writer.write_message(record(1))
        assert stdout.getvalue() == ""

        now[0] += output.FLUSH_SECONDS / 2
        writer.write_message(record(2))

    assert [m["record"]["number"] for m in stdout.messages()] == [0, 1, 2]


def test_the_writing_thread_writes_before_it_waits(stdout: CountingStdout) -> None:
    with contextlib.redirect_stdout(stdout):
        BufferedSingerWriter().write_message(record(0))
        worker = threading.Thread(target=flush_before_waiting)
        worker.start()
        worker.join()
        assert stdout.getvalue() == ""  # a worker's wait writes nothing: stdout is not its own

        flush_before_waiting()

    assert [m["record"]["number"] for m in stdout.messages()] == [0]


def test_a_failed_run_writes_the_records_it_kept(
    config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failure between two records, with no wait before it (a wait would have written them).
    post_process = PullRequestsStream.post_process

    def failing(
        stream: PullRequestsStream, row: dict[str, Any], context: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        if row["number"] == FAILING_NUMBER:
            raise ValueError("a bad pull request")
        return post_process(stream, row, context)

    monkeypatch.setattr(PullRequestsStream, "post_process", failing)
    given: list[dict[str, Any]] = []
    write = BufferedSingerWriter.write_message

    def counting(writer: BufferedSingerWriter, message: Message) -> None:
        if isinstance(message, RecordMessage):
            given.append(message.record)
        write(writer, message)

    monkeypatch.setattr(BufferedSingerWriter, "write_message", counting)
    discovered = TapGitHubActivity(config=config, validate_config=True)
    tap = TapGitHubActivity(
        config=config, state={}, validate_config=True, catalog=select(discovered.catalog_dict, None)
    )
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), pytest.raises(ValueError, match="a bad pull"):
        tap.sync_all()

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    written = [m["record"] for m in lines if m["type"] == "RECORD"]
    assert written == given
    assert "pull_request_id" not in written[-1]  # the last: a pull request, not a review
