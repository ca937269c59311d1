"""GraphQL answered by forked copies of the benchmark process, side by side.

GitHub answers concurrent requests on separate servers. The simulator answers them on the
threads of one Python process: its pure-Python GraphQL execution (about 15 ms of CPU for a
page of pull requests) runs one query at a time, so four requests in flight queue behind each
other there, and the benchmark would measure the simulator's lock rather than the tap's
concurrency. Each run, the benchmark forks `processes` copies of itself after the world has
been prepared for it (the world does not change during a run): a POST /graphql is routed,
authenticated, rate-limited, recorded and ETagged by the simulator as always, and only its
execution is sent to an idle copy, which answers the JSON payload.

The sequential baseline (`max_concurrent_requests: 1`) is served the same way.
"""

from __future__ import annotations

import os
import pickle
import queue
import socket
import struct
import traceback
from typing import Any

from github_simulator import GitHubSimulator
from github_simulator.graphql_api import execute
from github_simulator.server import HTTPError, Reply, Request, encode_json

__all__ = ["ForkedGraphQL"]

_LENGTH = struct.Struct("!I")


class ForkedGraphQL:
    """`with ForkedGraphQL(simulator, 4):` around a run."""

    def __init__(self, simulator: GitHubSimulator, processes: int) -> None:
        self.simulator = simulator
        self.processes = processes  # 0: none, GraphQL executed by the simulator's threads
        self.cpu_seconds = 0.0  # the copies' own, once they have ended
        self._idle: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._children: list[tuple[int, socket.socket]] = []

    def __enter__(self) -> ForkedGraphQL:
        for _ in range(self.processes):
            ours, theirs = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the copy: answer until the benchmark closes its end
                ours.close()
                for _, earlier in self._children:  # or the earlier copies never see theirs close
                    earlier.close()
                try:
                    _serve(self.simulator, theirs)
                finally:
                    os._exit(0)
            theirs.close()
            self._children.append((pid, ours))
            self._idle.put(ours)
        if self._children:
            self.simulator.graphql_executor = self.execute
        return self

    def __exit__(self, *exc: object) -> None:
        self.simulator.graphql_executor = None
        for pid, connection in self._children:
            connection.close()
            _, _, usage = os.wait4(pid, 0)
            self.cpu_seconds += usage.ru_utime + usage.ru_stime
        self._children.clear()

    def execute(self, request: Request) -> Reply:
        """Execute `request` in an idle copy (the caller is identified there again, by its
        Authorization header). A refusal (HTTPError) or a bug there is raised here."""
        connection = self._idle.get()
        try:
            _send(connection, (request.headers.get("authorization"), request.body, request.rate))
            outcome, answer = _receive(connection)
        finally:
            self._idle.put(connection)
        if outcome == "refused":
            raise HTTPError(*answer)
        if outcome == "failed":
            raise RuntimeError(f"the GraphQL executor failed: {answer}")
        status, headers, payload = answer
        return Reply(payload, status=status, headers=headers)


def _serve(simulator: GitHubSimulator, connection: socket.socket) -> None:
    while True:
        try:
            authorization, body, rate = _receive(connection)
        except EOFError:
            return
        try:
            caller = simulator._authenticate(authorization, "token")  # its own copy
            request = Request(
                "POST",
                "/graphql",
                {},
                {"authorization": authorization},
                body,
                caller,
                {},
                simulator.world,
                simulator.api_url,
                rate,
            )
            reply = execute(request)
            payload = None if reply.body is None else encode_json(reply.body)
            answer: tuple[str, Any] = ("answered", (reply.status, reply.headers, payload))
        except HTTPError as exc:
            answer = ("refused", (exc.status, exc.message, exc.headers))
        except Exception:  # a bug: reported to the benchmark, which raises it
            answer = ("failed", traceback.format_exc())
        _send(connection, answer)


def _send(connection: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    connection.sendall(_LENGTH.pack(len(data)) + data)


def _receive(connection: socket.socket) -> Any:
    header = _exactly(connection, _LENGTH.size)
    return pickle.loads(_exactly(connection, _LENGTH.unpack(header)[0]))  # noqa: S301 -- our own


def _exactly(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError
        chunks += chunk
    return bytes(chunks)
