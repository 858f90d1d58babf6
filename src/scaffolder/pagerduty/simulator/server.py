"""The HTTP side: a threaded standard-library server that counts, injects faults and dispatches.

The standard library's server starts in about a millisecond and gives direct access to the
socket, which the ``drop`` fault needs to close a connection without a response.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scaffolder.pagerduty.simulator.auth import TOKEN_ROUTE, TokenStore
from scaffolder.pagerduty.simulator.faults import Fault, FaultTable
from scaffolder.pagerduty.simulator.protocol import (
    CODE_NOT_FOUND,
    CODE_RATE_LIMIT,
    ApiError,
    Call,
    Reply,
    Request,
    Route,
    pd_error,
)
from scaffolder.pagerduty.simulator.render import Renderer
from scaffolder.pagerduty.simulator.routes_incidents import EVENTS_PREFIX
from scaffolder.pagerduty.simulator.state import State

logger = logging.getLogger("scaffolder.pagerduty.simulator")

RATE_LIMIT = 960
BAD_JSON = b'{"services": [{"id": "PXXXXXX", "name": '
GATEWAY_PAGE = "<html><body><h1>{status} {reason}</h1></body></html>"


class Dispatcher:
    """Routes requests of one simulator and keeps its request counts."""

    def __init__(
        self,
        routes: list[Route],
        state: State,
        renderer: Renderer,
        tokens: TokenStore,
        faults: FaultTable,
    ) -> None:
        self.routes = routes
        self.state = state
        self.renderer = renderer
        self.tokens = tokens
        self.faults = faults
        self.counts: Counter[str] = Counter()
        self.counts_lock = threading.Lock()

    def find(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None, {}

    def count(self, key: str) -> None:
        with self.counts_lock:
            self.counts[key] += 1

    def answer(self, route: Route | None, request: Request) -> Reply:
        """Return the reply to a request that no fault intercepted."""
        try:
            if route is None:
                raise pd_error(
                    404, "Not Found", CODE_NOT_FOUND, [f"No route {request.method} {request.path}"]
                )
            if route.key == TOKEN_ROUTE:
                return self.tokens.issue(request)
            if route.scope is not None:
                self.tokens.authenticate(request, route.scope)
            with self.state.lock:
                return route.handler(Call(request, self.state, self.renderer))
        except ApiError as error:
            return error.reply
        except Exception:
            logger.exception("simulator route %s failed", route.key if route else request.path)
            return Reply(500, {"error": {"message": "Internal Server Error", "code": 2000}})


def fault_reply(fault: Fault, route_key: str) -> Reply:
    """Return the response a fault sends in place of the real one (all kinds but drop and slow)."""
    if fault.kind == "429":
        headers = {
            "ratelimit-limit": str(RATE_LIMIT),
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(fault.reset_after),
        }
        if EVENTS_PREFIX in route_key:
            body: Any = {"status": "throttle event", "message": "Requests arrive too quickly"}
        else:
            body = {"error": {"message": "Rate Limit Exceeded", "code": CODE_RATE_LIMIT}}
        return Reply(429, body, headers)
    if fault.kind == "500":
        return Reply(500, {"error": {"message": "Internal Server Error", "code": 2000}})
    if fault.kind == "bad_json":
        return Reply(200, raw=BAD_JSON)
    status = int(fault.kind)
    reason = "Bad Gateway" if status == 502 else "Service Unavailable"
    page = GATEWAY_PAGE.format(status=status, reason=reason).encode()
    return Reply(status, raw=page, content_type="text/html")


class SimulatorHandler(BaseHTTPRequestHandler):
    """Reads a request, applies a fault if one hits, else dispatches it."""

    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        dispatcher = self.server.dispatcher
        request = self._read_request()
        route, request.params = dispatcher.find(request.method, request.path)
        key = route.key if route else f"{request.method} {request.path}"
        dispatcher.count(key)
        fault = dispatcher.faults.take(key)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.kind == "drop":
                self._drop()
                return
            if fault.kind != "slow":
                self._send(fault_reply(fault, key))
                return
        self._send(dispatcher.answer(route, request))

    def _read_request(self) -> Request:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return Request(
            method=self.command,
            path=parts.path.rstrip("/") or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,  # type: ignore[arg-type]
            body=body,
        )

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
        if reply.raw is not None:
            payload = reply.raw
        elif reply.body is not None:
            payload = json.dumps(reply.body).encode()
        else:
            payload = b""
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and reply.status != 204:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator %s: " + format, self.address_string(), *args)


class SimulatorServer(ThreadingHTTPServer):
    """A threaded HTTP server on loopback that can close its open connections on shutdown."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), SimulatorHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a request that failed; a client that hung up (a timeout test) is routine."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.debug("simulator: client %s closed the connection: %s", client_address, error)
            return
        logger.exception("simulator: request from %s failed", client_address)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
