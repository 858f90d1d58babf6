"""The :class:`Simulator`: one simulated PagerDuty account served over HTTP on loopback."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from scaffolder.errors import InputError
from scaffolder.pagerduty.simulator.auth import TOKEN_ROUTE, TokenStore
from scaffolder.pagerduty.simulator.faults import Fault, FaultTable
from scaffolder.pagerduty.simulator.protocol import Route
from scaffolder.pagerduty.simulator.render import Renderer
from scaffolder.pagerduty.simulator.routes_directory import ROUTES as DIRECTORY_ROUTES
from scaffolder.pagerduty.simulator.routes_incidents import EVENTS_PREFIX
from scaffolder.pagerduty.simulator.routes_incidents import ROUTES as INCIDENT_ROUTES
from scaffolder.pagerduty.simulator.routes_services import ROUTES as SERVICE_ROUTES
from scaffolder.pagerduty.simulator.seed import (
    DEMO_ESCALATION_POLICY,
    build_account,
    build_state,
    read_seed,
)
from scaffolder.pagerduty.simulator.server import Dispatcher, SimulatorServer
from scaffolder.pagerduty.simulator.state import IdFactory, State

logger = logging.getLogger("scaffolder.pagerduty.simulator")


def _token_route(call: Any) -> Any:
    raise AssertionError("the dispatcher handles the token route itself")


ROUTES: list[Route] = [
    *DIRECTORY_ROUTES,
    *SERVICE_ROUTES,
    *INCIDENT_ROUTES,
    Route("POST", "/oauth/token", None, _token_route),
]

ROUTE_KEYS = {route.key for route in ROUTES}

ALL_SCOPES = {route.scope for route in ROUTES if route.scope is not None}

SeedSource = str | Path | Mapping[str, Any] | None


class Simulator:
    """A local PagerDuty REST API, Events API v2 and OAuth token endpoint for one account.

    Use it as a context manager; the server runs on ``127.0.0.1`` (``port=0`` picks a free
    port) in a background thread::

        with Simulator() as sim:
            headers = {"Authorization": f"Token token={sim.api_token}"}
            httpx.get(f"{sim.url}/services", headers=headers)

    ``seed`` is ``None`` (the demo world), a YAML or JSON file, or a mapping (see
    :mod:`scaffolder.pagerduty.simulator.seed`). ``subdomain`` and ``region`` override the
    seed's account, which also changes every generated id and credential, so two simulators
    with different subdomains behave as two separate accounts.
    """

    def __init__(
        self,
        seed: SeedSource = None,
        port: int = 0,
        *,
        subdomain: str | None = None,
        region: str | None = None,
    ) -> None:
        data = read_seed(seed)
        account = dict(data.get("account") or {})
        if subdomain is not None:
            account["subdomain"] = subdomain
        if region is not None:
            account["region"] = region
        data["account"] = account
        ids = IdFactory(json.dumps(data, sort_keys=True))
        self._account = build_account(data, ids, ALL_SCOPES)
        self._state = build_state(data, ids)
        self._tokens = TokenStore(self._account, ids)
        self._faults = FaultTable(ROUTE_KEYS)
        self._port = port
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Simulator:
        """Bind the port and serve in a daemon thread; return once requests are accepted."""
        if self._server is not None:
            return self
        dispatcher = Dispatcher(ROUTES, self._state, self._renderer(0), self._tokens, self._faults)
        try:
            server = SimulatorServer(self._port, dispatcher)
        except OSError as error:
            raise InputError(
                f"cannot listen on 127.0.0.1:{self._port}: {error.strerror}",
                hint="choose another --port, or 0 for a free one",
            ) from error
        dispatcher.renderer = self._renderer(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        logger.info("PagerDuty simulator for account %r listening on %s", self.subdomain, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        logger.info("PagerDuty simulator for account %r stopped", self.subdomain)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _renderer(self, port: int) -> Renderer:
        return Renderer(self._state, f"http://127.0.0.1:{port}", self._account.subdomain)

    @property
    def port(self) -> int:
        if self._server is None:
            raise InputError(
                "the PagerDuty simulator is not running",
                hint="call start() or use it in a 'with' block",
            )
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """REST API base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        """Events API base URL; events go to ``{events_url}/v2/enqueue``."""
        return f"{self.url}{EVENTS_PREFIX}"

    @property
    def token_url(self) -> str:
        """OAuth client-credentials token endpoint."""
        return f"{self.url}{TOKEN_ROUTE.split(' ', 1)[1]}"

    @property
    def api_token(self) -> str:
        return self._account.api_token

    @property
    def client_id(self) -> str:
        return self._account.client_id

    @property
    def client_secret(self) -> str:
        return self._account.client_secret

    @property
    def subdomain(self) -> str:
        return self._account.subdomain

    @property
    def region(self) -> str:
        return self._account.region

    @property
    def granted_scopes(self) -> set[str]:
        """Scopes the token endpoint grants; tokens issued later get only these."""
        return self._account.granted_scopes

    @granted_scopes.setter
    def granted_scopes(self, scopes: set[str]) -> None:
        self._account.granted_scopes = set(scopes)

    @property
    def token_lifetime(self) -> int:
        """``expires_in`` of tokens issued from now on, in seconds."""
        return self._tokens.lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        self._tokens.lifetime = seconds

    def revoke_tokens(self) -> None:
        """Invalidate every issued OAuth token, so the next call with one gets 401."""
        self._tokens.revoke_all()

    @property
    def demo_escalation_policy_id(self) -> str:
        """Id of the escalation policy named "Demo Escalation Policy", else of the first one."""
        policies = list(self._state.escalation_policies.values())
        for policy in policies:
            if policy["name"] == DEMO_ESCALATION_POLICY:
                return str(policy["id"])
        if not policies:
            raise InputError("the simulator's seed defines no escalation policy")
        return str(policies[0]["id"])

    @property
    def state(self) -> State:
        """The in-memory data, for assertions; hold ``state.lock`` while the server runs."""
        return self._state

    @property
    def counts(self) -> dict[str, int]:
        """Requests received per route key (``"POST /services"``), faulted ones included."""
        if self._server is None:
            return {}
        dispatcher = self._server.dispatcher
        with dispatcher.counts_lock:
            return dict(dispatcher.counts)

    def reset_counts(self) -> None:
        if self._server is not None:
            with self._server.dispatcher.counts_lock:
                self._server.dispatcher.counts.clear()

    def inject(
        self,
        route: str,
        fault: str,
        *,
        times: int | None = None,
        probability: float | None = None,
        delay: float = 0,
        reset_after: int = 1,
    ) -> None:
        """Make requests on ``route`` (a route key or ``*``) fail with ``fault``.

        ``fault`` is ``429``, ``500``, ``502``, ``503``, ``slow``, ``drop`` or ``bad_json``. It
        hits the next ``times`` matching requests (every one when ``None``), each with chance
        ``probability`` when given, after waiting ``delay`` seconds. ``reset_after`` is the
        ``ratelimit-reset`` header of a ``429``, in seconds.
        """
        self._faults.add(Fault(route, fault, times, probability, float(delay), reset_after))

    def clear_faults(self) -> None:
        self._faults.clear()

    def app_config(self, *, oauth: bool = False) -> dict[str, Any]:
        """Return a ``pagerDuty`` app-config section that points at this simulator."""
        section: dict[str, Any] = {"apiBaseUrl": self.url, "eventsBaseUrl": f"{self.events_url}/v2"}
        if oauth:
            section["oauth"] = {
                "clientId": self.client_id,
                "clientSecret": self.client_secret,
                "subDomain": self.subdomain,
                "region": self.region,
                "tokenUrl": self.token_url,
            }
        else:
            section["apiToken"] = self.api_token
        return section
