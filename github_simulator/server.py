"""A real HTTP server on 127.0.0.1 that answers as GitHub does.

The request pipeline: prefix (GitHub Enterprise Server mode) -> faults (injected, or the seeded
profile of github_simulator/chaos.py) -> authentication -> primary rate limit -> route ->
pagination -> ETag/304 -> cost -> record -> faults that spoil a served answer (a GraphQL error,
a connection reset, a truncated body).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt

from github_simulator.chaos import GATEWAY_HTML, FaultProfile
from github_simulator.world import App, Installation, TokenInfo, World

DOCS = "https://docs.github.com/rest"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
# What the web site (GitHub Enterprise Server outside /api/v3) answers an API path with.
WEB_NOT_FOUND = b"<!DOCTYPE html><html><head><title>Page not found</title></head></html>"
# Response header by which the pipeline tells the HTTP handler to break the connection.
CONNECTION_FAULT = "x-sim-connection"


class HTTPError(Exception):
    """A handler's refusal: status and GitHub's JSON error body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Listing:
    """A paginated array (or {key: array, total_count} when `wrap` is set)."""

    items: list[Any]
    wrap: str | None = None


@dataclass
class Reply:
    """A non-listing answer."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Caller:
    """Who is asking: a token, an App installation token, or an App JWT."""

    kind: str  # "token", "installation", "jwt"
    key: str  # the rate-limit identity
    token: TokenInfo | None = None
    installation: Installation | None = None
    app: App | None = None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    caller: Caller
    params: dict[str, str]
    world: World
    api: str
    rate: dict[str, str] = field(default_factory=dict)


class Incoming(NamedTuple):
    """The request as it arrived (path without the Enterprise prefix)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    status: int
    caller: str
    resource: str
    points: int
    if_none_match: str | None
    authorization: str | None
    at: float = 0.0  # the world's clock when it was answered
    fault: str | None = None  # the fault served instead of (or spoiling) the answer


@dataclass
class Fault:
    """Injected trouble for requests whose path matches `path` (a regex), `times` times."""

    path: str
    status: int | None = None
    body: bytes | None = None  # raw body to send instead (e.g. truncated JSON)
    latency: float = 0.0
    secondary: float | None = None  # retry-after seconds of a secondary rate limit
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    advance: float = 0.0  # move the world's (fake) clock this far before answering
    method: str | None = None  # only requests of this method
    until: float | None = None  # only while the world's clock is before this moment
    connection: str | None = None  # "reset" or "truncate" the served answer
    graphql: str | None = None  # spoil a served GraphQL answer: a chaos.py graphql_* mode
    label: str = "injected"  # as recorded (Recorded.fault)

    @property
    def alters_answer(self) -> bool:
        """Whether the answer is other than the route's (not only later, or at another time)."""
        return bool(
            self.status is not None or self.secondary is not None or self.connection or self.graphql
        )


Handler = Callable[[Request], Any]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler, str]] = []

    def add(self, method: str, pattern: str, handler: Handler, auth: str = "token") -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler, auth))

    def get(self, pattern: str, auth: str = "token") -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add("GET", pattern, handler, auth)
            return handler

        return register

    def post(self, pattern: str, auth: str = "token") -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add("POST", pattern, handler, auth)
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str], str] | None:
        for route_method, pattern, handler, auth in self.routes:
            found = pattern.match(path)
            if found and route_method == method:
                return handler, found.groupdict(), auth
        return None


ROUTER = Router()
GRAPHQL_HANDLERS: list[Handler] = []  # filled by simulator.graphql_api


class RateLimiter:
    """Primary limits per caller and resource, in hourly windows on the world's clock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.windows: dict[tuple[str, str], list[float]] = {}  # -> [used, reset_at, limit]
        self.lock = threading.Lock()

    def limit_for(self, caller: Caller, resource: str) -> int:
        if caller.token:
            return caller.token.graphql_limit if resource == "graphql" else caller.token.limit
        return 5000

    def window(self, caller: Caller, resource: str) -> list[float]:
        now = self.world.clock.now()
        key = (caller.key, resource)
        current = self.windows.get(key)
        if current is None or current[1] <= now:
            current = [0, float(int(now) + 3600), self.limit_for(caller, resource)]
            self.windows[key] = current
        return current

    def remaining(self, caller: Caller, resource: str) -> int:
        with self.lock:
            used, _, limit = self.window(caller, resource)
            return int(limit - used)

    def spend(self, caller: Caller, resource: str, points: int) -> None:
        with self.lock:
            self.window(caller, resource)[0] += points

    def headers(self, caller: Caller, resource: str) -> dict[str, str]:
        with self.lock:
            used, reset, limit = self.window(caller, resource)
        return {
            "x-ratelimit-limit": str(int(limit)),
            "x-ratelimit-remaining": str(int(max(limit - used, 0))),
            "x-ratelimit-reset": str(int(reset)),
            "x-ratelimit-used": str(int(used)),
            "x-ratelimit-resource": resource,
        }


class GitHubSimulator:
    """Start with `with GitHubSimulator(world) as sim:`; `sim.api_url` is the tap's api_url."""

    def __init__(
        self,
        world: World,
        *,
        enterprise: bool = False,
        rate_limit_headers: bool = True,
        port: int = 0,
    ) -> None:
        self.world = world
        self.port = port  # 0: any free port
        self.enterprise = enterprise
        self.rate_limit_headers = rate_limit_headers
        self.limiter = RateLimiter(world)
        self.recorded: list[Recorded] = []
        self.faults: list[Fault] = []
        # A seeded profile of faults for every request (github_simulator/chaos.py), or None.
        self.chaos: FaultProfile | None = None
        self._spoiler = FaultProfile(0, modes=())
        self._current = threading.local()  # the fault of the request this thread serves
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests being answered at once
        # Where POST /graphql is executed instead of here, under the world's lock (the
        # benchmark's forked executors: github_simulator/forked_graphql.py).
        self.graphql_executor: Callable[[Request], Reply] | None = None
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> GitHubSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        simulator = self

        class _Handler(_RequestHandler):
            sim = simulator

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base_url + ("/api/v3" if self.enterprise else "")

    # -- what tests look at --------------------------------------------------------------------

    def requests(
        self, path: str | None = None, method: str | None = None, *, caller: str | None = None
    ) -> list[Recorded]:
        """Recorded requests, optionally those whose path matches a regex (and of one method,
        or one caller)."""
        with self.lock:
            return [
                r
                for r in self.recorded
                if (path is None or re.search(path, r.path))
                and (method is None or r.method == method)
                and (caller is None or r.caller == caller)
            ]

    def remaining(self, token: str, resource: str = "core") -> int:
        """What is left of a token's (or installation token's) hourly budget."""
        return self.limiter.remaining(self._authenticate(f"Bearer {token}", "token"), resource)

    def points(self, resource: str | None = None) -> int:
        return sum(r.points for r in self.requests() if resource in (None, r.resource))

    def reset_log(self) -> None:
        with self.lock:
            self.recorded.clear()

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    # -- the pipeline --------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._handle(method, raw_path, headers, body)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _handle(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        path = self._unprefixed(parts.path)
        if path is None:
            # The web site's page, as GitHub Enterprise Server answers outside its API.
            return 404, {"content-type": "text/html; charset=utf-8"}, WEB_NOT_FOUND
        incoming = Incoming(method, path, dict(parse_qsl(parts.query)), headers)
        resource = "graphql" if path == "/graphql" else "core"
        fault = self._take_fault(method, path)
        if fault is not None and not fault.alters_answer:
            self._fault_answer(fault)  # latency or the clock only: answered normally
            fault = None
        if fault is None and self.chaos is not None:
            mode = self.chaos.pick(method, path, self.world.clock.now())
            fault = self._chaos_fault(mode, resource) if mode else None
        self._current.fault = fault.label if fault else None
        if fault:
            answer = self._fault_answer(fault)
            if answer is not None:
                return self._record(incoming, None, resource, 0, answer)
        status, response_headers, payload = self._route(incoming, body, resource)
        if fault and fault.graphql and resource == "graphql" and status == 200:
            spoiler = self.chaos or self._spoiler
            request_id = response_headers.get("x-github-request-id", "SIM")
            payload = spoiler.spoil_graphql(fault.graphql, payload, request_id)
        if fault and fault.connection:
            connection = fault.connection
            if connection == "truncate" and not payload:
                # Nothing to cut off (a 304): the connection drops instead.
                connection = "reset"
                if self.chaos is not None and fault.label == "truncate":
                    self.chaos.recount("truncate", "reset")
            response_headers[CONNECTION_FAULT] = connection
        return status, response_headers, payload

    def _chaos_fault(self, mode: str, resource: str) -> Fault:
        """The fault a chaos.py mode stands for."""
        assert self.chaos is not None
        html = {"content-type": "text/html; charset=utf-8"}
        secondary = encode_json({"message": SECONDARY_MESSAGE, "documentation_url": DOCS})
        if mode == "server_error":
            fault = Fault(".", status=self.chaos.status())
        elif mode == "html_gateway" or (mode == "outage" and resource == "graphql"):
            status = 502 if mode == "html_gateway" else 504
            body = GATEWAY_HTML.replace(b"{status}", str(status).encode())
            fault = Fault(".", status=status, body=body, headers=html)
        elif mode == "outage":
            # GitHub's documented 503 body: code, message, documentation_url.
            unavailable = {"code": "unavailable", "message": "Service Unavailable"}
            fault = Fault(
                ".", status=503, body=encode_json({**unavailable, "documentation_url": DOCS})
            )
        elif mode in ("reset", "truncate"):
            fault = Fault(".", connection=mode)
        elif mode == "stats_202":
            fault = Fault(".", status=202, body=b"{}")
        elif mode == "timeout":
            fault = Fault(".", latency=self.chaos.timeout_stall)
        elif mode == "secondary_after":
            fault = Fault(".", secondary=30)
        elif mode in ("secondary_bare", "secondary_429"):
            fault = Fault(".", status=403 if mode == "secondary_bare" else 429, body=secondary)
        else:
            fault = Fault(".", graphql=mode)
        fault.label = mode
        return fault

    def _unprefixed(self, path: str) -> str | None:
        """The API path (GitHub Enterprise Server serves REST under /api/v3, GraphQL at
        /api/graphql); None outside the API."""
        if not self.enterprise:
            return path
        if path.startswith("/api/v3/"):
            return path[len("/api/v3") :]
        return "/graphql" if path == "/api/graphql" else None

    def _fault_answer(self, fault: Fault) -> tuple[int, dict[str, str], bytes] | None:
        if fault.latency:
            time.sleep(fault.latency)
        if fault.advance:
            self.world.clock.advance(fault.advance)
        if fault.secondary is not None:
            return (
                403,
                {"retry-after": str(int(fault.secondary)), **fault.headers},
                encode_json({"message": SECONDARY_MESSAGE, "documentation_url": DOCS}),
            )
        if fault.status is not None:
            return (
                fault.status,
                {"x-github-request-id": "SIM:FAULT", **fault.headers},
                fault.body if fault.body is not None else encode_json({"message": "Server Error"}),
            )
        return None  # latency or clock only: then answered normally

    def _route(
        self,
        incoming: Incoming,
        body: bytes,
        resource: str,
    ) -> tuple[int, dict[str, str], bytes]:
        method, path, query, headers = incoming
        if path == "/graphql":
            route: tuple[Handler, dict[str, str], str] | None = (GRAPHQL_HANDLERS[0], {}, "token")
        else:
            route = ROUTER.match(method, path)
        if route is None:
            return self._record(incoming, None, resource, 0, self._error(404, "Not Found"))
        handler, params, auth = route
        try:
            caller = self._authenticate(headers.get("authorization"), auth)
        except HTTPError as exc:
            return self._record(incoming, None, resource, 0, self._error(exc.status, exc.message))
        limit_headers = self._limit_headers(caller, resource)
        if caller.kind != "jwt" and self.limiter.remaining(caller, resource) <= 0:
            message = f"API rate limit exceeded for {caller.key}."
            # GraphQL answers 200 with an error of type RATE_LIMITED; REST answers 403.
            refusal = (
                (
                    200,
                    limit_headers,
                    encode_json(
                        {"data": None, "errors": [{"type": "RATE_LIMITED", "message": message}]}
                    ),
                )
                if resource == "graphql"
                else (
                    403,
                    limit_headers,
                    encode_json({"message": message, "documentation_url": DOCS}),
                )
            )
            return self._record(incoming, caller, resource, 0, refusal)
        parsed_body = json.loads(body) if body else None
        request = Request(
            method,
            path,
            query,
            headers,
            parsed_body,
            caller,
            params,
            self.world,
            self.api_url,
            limit_headers,
        )
        try:
            if path == "/graphql" and self.graphql_executor is not None:
                result = self.graphql_executor(request)
            else:
                with self.world.lock:
                    result = handler(request)
        except HTTPError as exc:
            points = self._spend(caller, resource, 1)
            return self._record(
                incoming,
                caller,
                resource,
                points,
                (
                    exc.status,
                    {**self._limit_headers(caller, resource), **exc.headers},
                    encode_json(
                        {
                            "message": exc.message,
                            "documentation_url": DOCS,
                            "status": str(exc.status),
                        }
                    ),
                ),
            )
        status, extra_headers, payload, points = self._render(request, result, resource)
        etag = 'W/"' + hashlib.sha256(payload).hexdigest()[:40] + '"'
        if status == 200 and headers.get("if-none-match") == etag:
            # A conditional request answered 304 is free.
            return self._record(
                incoming,
                caller,
                resource,
                0,
                (304, {**self._limit_headers(caller, resource), "etag": etag}, b""),
            )
        points = self._spend(caller, resource, points)
        response_headers = {**self._limit_headers(caller, resource), **extra_headers}
        if status == 200:
            response_headers["etag"] = etag
        return self._record(incoming, caller, resource, points, (status, response_headers, payload))

    def _render(
        self,
        request: Request,
        result: Any,
        resource: str,
    ) -> tuple[int, dict[str, str], bytes, int]:
        if isinstance(result, Listing):
            per_page = min(int(request.query.get("per_page", 30)), 100)
            page = int(request.query.get("page", 1))
            items = result.items[(page - 1) * per_page : page * per_page]
            last = max((len(result.items) + per_page - 1) // per_page, 1)
            body: Any = (
                items
                if result.wrap is None
                else {"total_count": len(result.items), result.wrap: items}
            )
            return 200, self._links(request, page, last), encode_json(body), 1
        if isinstance(result, Reply):
            points = int(result.headers.pop("x-sim-points", 1))
            payload = (
                b""
                if result.body is None
                else result.body
                if isinstance(result.body, bytes)
                else encode_json(result.body)
            )
            return result.status, result.headers, payload, points
        return 200, {}, encode_json(result), 1

    def _links(self, request: Request, page: int, last: int) -> dict[str, str]:
        def link(number: int, rel: str) -> str:
            query = urlencode({**request.query, "page": number})
            return f'<{request.api}{request.path}?{query}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return {"link": ", ".join(links)} if links else {}

    def _authenticate(self, header: str | None, auth: str) -> Caller:
        if not header:
            raise HTTPError(401, "Requires authentication")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not credential:
            raise HTTPError(401, "Bad credentials")
        if auth == "jwt":
            return self._verify_jwt(credential)
        info = self.world.tokens.get(credential)
        if info:
            return Caller("token", f"token:{info.login}:{credential[-4:]}", token=info)
        issued = self.world.installation_tokens.get(credential)
        if issued:
            installation_id, expires = issued
            if expires <= self.world.clock.now():
                raise HTTPError(401, "Bad credentials")
            for app in self.world.apps.values():
                if installation_id in app.installations:
                    return Caller(
                        "installation",
                        f"installation:{installation_id}",
                        installation=app.installations[installation_id],
                        app=app,
                    )
        raise HTTPError(401, "Bad credentials")

    def _verify_jwt(self, token: str) -> Caller:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            app = self.world.apps[str(unverified["iss"])]
            jwt.decode(
                token,
                app.public_key_pem,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False},
            )
        except (jwt.PyJWTError, KeyError) as exc:
            raise HTTPError(401, f"A JSON web token could not be decoded ({exc})") from None
        now = self.world.clock.now()
        # GitHub: iat not in the future (60 s in the past allows for drift); exp at most 10
        # minutes ahead, and not passed.
        if not unverified["iat"] <= now:
            raise HTTPError(
                401, "'Issued at' claim ('iat') must be an Integer representing a time in the past"
            )
        if not now < unverified["exp"] <= now + 600:
            raise HTTPError(
                401,
                "'Expiration time' claim ('exp') is too far in the future or the token has expired",
            )
        return Caller("jwt", f"app:{app.app_id}", app=app)

    def _limit_headers(self, caller: Caller, resource: str) -> dict[str, str]:
        if not self.rate_limit_headers or caller.kind == "jwt":
            return {}
        return self.limiter.headers(caller, resource)

    def _spend(self, caller: Caller, resource: str, points: int) -> int:
        """Charge the caller's budget; returns the points charged (a server without rate
        limits, and App JWT calls, charge none)."""
        if caller.kind == "jwt" or not self.rate_limit_headers:
            return 0
        self.limiter.spend(caller, resource, points)
        return points

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (
                    fault.times > 0
                    and re.search(fault.path, path)
                    and fault.method in (None, method)
                    and (fault.until is None or self.world.clock.now() < fault.until)
                ):
                    fault.times -= 1
                    return fault
        return None

    def _error(self, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        return (
            status,
            {},
            encode_json({"message": message, "documentation_url": DOCS, "status": str(status)}),
        )

    def _record(
        self,
        incoming: Incoming,
        caller: Caller | None,
        resource: str,
        points: int,
        response: tuple[int, dict[str, str], bytes],
    ) -> tuple[int, dict[str, str], bytes]:
        status, response_headers, payload = response
        with self.lock:
            response_headers.setdefault("x-github-request-id", f"SIM:{len(self.recorded) + 1}")
            self.recorded.append(
                Recorded(
                    incoming.method,
                    incoming.path,
                    incoming.query,
                    status,
                    caller.key if caller else "anonymous",
                    resource,
                    points,
                    incoming.headers.get("if-none-match"),
                    incoming.headers.get("authorization"),
                    self.world.clock.now(),
                    getattr(self._current, "fault", None),
                )
            )
        return status, response_headers, payload


class _RequestHandler(BaseHTTPRequestHandler):
    sim: GitHubSimulator
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm and the client's
    # delayed ACK hold every response back ~40 ms.
    disable_nagle_algorithm = True

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, response_headers, payload = self.sim.handle(method, self.path, headers, body)
        connection_fault = response_headers.pop(CONNECTION_FAULT, None)
        if connection_fault == "reset":
            self.close_connection = True  # closed without a word
            return
        if connection_fault == "truncate":
            self.close_connection = True  # after half the promised body
        try:
            self.send_response(status)
            response_headers.setdefault("content-type", "application/json; charset=utf-8")
            for name, value in response_headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            truncated = connection_fault == "truncate"
            self.wfile.write(payload[: len(payload) // 2] if truncated else payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a read timeout)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        return


def encode_json(body: Any) -> bytes:
    """A response body as the simulator writes it (its ETag is of these bytes)."""
    return json.dumps(body, separators=(",", ":")).encode()
