"""A local PSA, for development, tests and the benchmark.

`Simulator(kind)` is a WSGI app that answers as that PSA documents: its
authentication, fields, error bodies and pagination live in the kind's module
(`psasync/simulator/<kind>.py`, a `KindSim`); what every PSA shares lives here:
rate limits answered with 429 and Retry-After, a cap on requests in flight, and
injected faults (latency, 500s, timeouts and writes applied whose answer is lost).

Tests run it in-process (`with Simulator("connectwise").serve() as sim:`); the
`psa_simulator` command serves it on a port. Every request is recorded, so a test
can prove what left us (and what never did). `/_sim/...` is the simulator's own
control API (entries, tickets, stats, faults), never part of any PSA.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from django.utils.module_loading import import_string
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

KINDS = {
    "connectwise": "psasync.simulator.connectwise.ConnectWiseSim",
    "autotask": "psasync.simulator.autotask.AutotaskSim",
    "halopsa": "psasync.simulator.halopsa.HaloPsaSim",
    "syncro": "psasync.simulator.syncro.SyncroSim",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Faults:
    latency: float = 0.0  # seconds added to every request
    error_rate: float = 0.0  # share of requests answered 500, nothing done
    timeout_rate: float = 0.0  # share of writes applied, then answered after `hang` seconds
    lost_rate: float = 0.0  # share of writes applied, then the connection dropped unanswered
    hang: float = 30.0
    seed: int | None = None


@dataclass
class Limits:
    requests: int | None = None  # per tenant, in a rolling window of `per_seconds`
    per_seconds: float = 60.0
    max_concurrent: int | None = None  # per tenant, requests in flight at once


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    tenant: str = ""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def everything(self) -> str:
        """The whole request as text: for "this never left us" assertions."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        body = self.body.decode("utf-8", "replace")
        return f"{self.method} {self.path}?{self.query}\n{head}\n\n{body}"


@dataclass
class SimState:
    """The PSA's data: tickets and time entries by id (ids are ints, as in every PSA here)."""

    auto_tickets: bool = False  # a lookup of an unknown number creates the ticket (demo)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: Any = field(default_factory=lambda: itertools.count(1001))

    def new_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def add_ticket(self, number: str, **fields: Any) -> dict[str, Any]:
        with self.lock:
            ticket = {"id": self.new_id(), "number": number, **fields}
            self.tickets[ticket["id"]] = ticket
            return ticket

    def ticket_by_number(self, number: str) -> dict[str, Any] | None:
        with self.lock:
            for ticket in self.tickets.values():
                if ticket["number"] == number:
                    return ticket
            return self.add_ticket(number) if self.auto_tickets and number else None

    def ticket(self, ticket_id: Any) -> dict[str, Any] | None:
        try:
            return self.tickets.get(int(ticket_id))
        except (TypeError, ValueError):
            return None

    def add_entry(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            entry = {"id": self.new_id(), **fields}
            self.entries[entry["id"]] = entry
            return entry


class KindSim(ABC):
    """One PSA's API: routes, authentication and error bodies, over a SimState.

    `rules()` returns werkzeug Rules whose endpoint names a method of the subclass;
    that method gets (request, **url values) and returns a Response, and is only
    called once the request is authenticated, within limits and not faulted.
    """

    kind: ClassVar[str]
    api_root: ClassVar[str] = ""  # path under the server's URL that is the connector's base_url

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.url_map = Map(self.rules(), strict_slashes=False, merge_slashes=False)

    @abstractmethod
    def rules(self) -> list[Rule]: ...

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """The credentials this simulator accepts, as `set_psa --credentials` takes them."""

    @abstractmethod
    def authenticate(self, request: Request) -> str | Response:
        """The tenant the request acts for, or the PSA's answer to bad credentials."""

    @abstractmethod
    def error(self, status: int, message: str) -> Response:
        """An error in this PSA's documented body format."""

    def too_many_requests(self, retry_after: int) -> Response:
        response = self.error(429, "Rate limit exceeded; retry later.")
        response.headers["Retry-After"] = str(retry_after)
        return response

    def entry_view(self, entry: dict[str, Any]) -> dict[str, Any]:
        """An entry as `/_sim/entries` shows it (tests and the benchmark read these)."""
        return entry


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, default=str), status=status, headers=headers, mimetype="application/json"
    )


class _Lost(Exception):
    """The write was applied; the answer must never reach the client."""


class Simulator:
    def __init__(
        self,
        kind: str,
        *,
        faults: Faults | None = None,
        limits: Limits | None = None,
        auto_tickets: bool = False,
    ) -> None:
        self.state = SimState(auto_tickets=auto_tickets)
        self.sim: KindSim = import_string(KINDS[kind])(self.state)
        self.kind = kind
        self.faults = faults or Faults()
        self.limits = limits or Limits()
        self.requests: list[RecordedRequest] = []
        self.statuses: Counter[int] = Counter()
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._in_flight: Counter[str] = Counter()
        self.running: RunningSimulator | None = None

    # --- seeding and reading, for tests and commands ------------------------------

    def add_ticket(self, number: str, **fields: Any) -> dict[str, Any]:
        return self.state.add_ticket(number, **fields)

    def entries(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [self.sim.entry_view(dict(e)) for e in self.state.entries.values()]

    def credentials(self) -> dict[str, str]:
        return self.sim.credentials()

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    # --- WSGI ---------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith("/_sim/"):
            response = self._control(request)
        else:
            try:
                response = self._serve(request, environ)
            except _Lost:
                self._drop(environ)
                response = Response(b"", status=200)
        return response(environ, start_response)

    def _serve(self, request: Request, environ: dict[str, Any]) -> Response:
        body = request.get_data(cache=True)
        record = RecordedRequest(
            request.method,
            request.path,
            request.query_string.decode("latin-1"),
            dict(request.headers.items()),
            body,
        )
        with self._lock:
            self.requests.append(record)
            faults = self.faults
            roll = self._rng.random()
        if faults.latency:
            time.sleep(faults.latency)
        adapter = self.sim.url_map.bind_to_environ(environ)
        try:
            endpoint, values = adapter.match()
        except NotFound:
            return self._answer(self.sim.error(404, f"No route for {request.path}"))
        except MethodNotAllowed:
            return self._answer(self.sim.error(405, f"{request.method} is not allowed here"))
        tenant = self.sim.authenticate(request)
        if isinstance(tenant, Response):
            return self._answer(tenant)
        record.tenant = tenant
        refused = self._admit(tenant)
        if refused is not None:
            return self._answer(self.sim.too_many_requests(refused))
        try:
            write = request.method in WRITE_METHODS
            if roll < faults.error_rate:
                return self._answer(self.sim.error(500, "Internal server error (simulated)"))
            response = getattr(self.sim, endpoint)(request, **values)
            roll -= faults.error_rate
            if write and response.status_code < 300:
                if roll < faults.timeout_rate:
                    time.sleep(faults.hang)
                elif roll < faults.timeout_rate + faults.lost_rate:
                    self._answer(Response(status=599))
                    raise _Lost
            return self._answer(response)
        finally:
            with self._lock:
                self._in_flight[tenant] -= 1

    def _admit(self, tenant: str) -> int | None:
        """None when the request may go on, else the Retry-After to answer with."""
        limits = self.limits
        now = time.monotonic()
        with self._lock:
            if limits.requests:
                window = self._windows.setdefault(tenant, deque())
                while window and window[0] <= now - limits.per_seconds:
                    window.popleft()
                if len(window) >= limits.requests:
                    return max(1, int(window[0] + limits.per_seconds - now + 0.999))
            if limits.max_concurrent and self._in_flight[tenant] >= limits.max_concurrent:
                return 1
            if limits.requests:
                window.append(now)
            self._in_flight[tenant] += 1
        return None

    def _answer(self, response: Response) -> Response:
        with self._lock:
            self.statuses[response.status_code] += 1
        return response

    @staticmethod
    def _drop(environ: dict[str, Any]) -> None:
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # --- /_sim/: the simulator's own control API -----------------------------------

    def _control(self, request: Request) -> Response:
        name = request.path.removeprefix("/_sim/").strip("/")
        if name == "entries" and request.method == "GET":
            return json_response(self.entries())
        if name == "tickets" and request.method == "POST":
            data = request.get_json(silent=True) or {}
            if not data.get("number"):
                return json_response({"error": "number is required"}, 400)
            return json_response(self.add_ticket(str(data["number"])), 201)
        if name == "stats" and request.method == "GET":
            with self._lock:
                stats = {
                    "kind": self.kind,
                    "requests": len(self.requests),
                    "statuses": {str(k): v for k, v in self.statuses.items()},
                    "entries": len(self.state.entries),
                    "limits": asdict(self.limits),
                    "faults": asdict(self.faults),
                }
            return json_response(stats)
        if name == "faults" and request.method == "POST":
            try:
                self.set_faults(Faults(**(request.get_json(silent=True) or {})))
            except TypeError as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response(asdict(self.faults))
        if name == "credentials" and request.method == "GET":
            return json_response(self.credentials())
        return json_response({"error": f"unknown control {request.method} {name}"}, 404)

    # --- serving -------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> RunningSimulator:
        """Serve in a background thread; stop with .stop() or a `with` block."""
        server = make_server(host, port, self, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self.running = RunningSimulator(self, server, thread)
        return self.running

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def base_url(self) -> str:
        """What a PsaConnection's base URL is for this simulator (once serving)."""
        return self.running.url + self.sim.api_root


def serve_many(
    simulators: dict[str, Simulator], host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Several kinds on one port, each under /<kind> (`psa_simulator --kind all`)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app = DispatcherMiddleware(
        Response("Simulated PSAs: " + ", ".join(f"/{k}" for k in simulators), status=404),
        {f"/{kind}": sim for kind, sim in simulators.items()},
    )
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    running = None
    for kind, sim in simulators.items():
        running = RunningSimulator(sim, server, thread, prefix=f"/{kind}")
        sim.running = running
    assert running is not None
    return running


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 (werkzeug's name)
        pass


@dataclass
class RunningSimulator:
    simulator: Simulator
    server: Any
    thread: threading.Thread
    prefix: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.server.host}:{self.server.port}{self.prefix}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.simulator

    def __exit__(self, *exc: object) -> None:
        self.stop()
