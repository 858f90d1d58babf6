"""The read routes of PagerDuty's Backstage backend plugin, served under ``/api/pagerduty``.

Paths, query parameters and response bodies follow the router of
``@pagerduty/backstage-plugin-backend`` (``src/service/router.ts``), so the plugin's frontend
can use the bridge in its place. Every error is ``{"errors": ["<message>"]}``, as the plugin
sends it, with these statuses: 400 for invalid input or an unknown ``account``, 404 for a
service that does not exist, 502 when PagerDuty responds with an error, and 503 when PagerDuty
cannot be reached within the retry budget (``pagerDuty.retryBudgetSeconds``) or no account is
configured. Unlike the plugin, an unknown service gives 404 on every ``/services/{id}`` route.

Mount it with :func:`create_router`; every route except ``/health`` takes the ``auth``
dependency.
"""

# No ``from __future__ import annotations`` here: FastAPI resolves string annotations in the
# module's globals, and the routes' ``PagerDutyDep`` is local to :func:`create_router`.

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from scaffolder.bridge.models import ErrorResponse
from scaffolder.errors import ConfigError, InputError, PagerDutyError, ScaffolderError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty import reads as pd_reads
from scaffolder.pagerduty.accounts import Account
from scaffolder.pagerduty.client import PagerDutyClient
from scaffolder.pagerduty.lookup import (
    SERVICE_INCLUDES,
    ServiceTarget,
    get_service_by_id,
    get_service_by_integration_key,
    resolve_account,
)
from scaffolder.pagerduty.services import list_escalation_policies
from scaffolder.redact import GLOBAL_REDACTOR

logger = logging.getLogger("scaffolder.bridge.pagerduty")

PREFIX = "/api/pagerduty"
CHANGE_EVENTS_LIMIT = 5
"""Change events per request, the ``limit=5`` that the plugin sends to PagerDuty."""
METRICS_DAYS = 30
"""Days of incident metrics, as the plugin reads them."""

PagerDutyGetter = Callable[[Request], PagerDuty]


def errors_response(status: int, *messages: str) -> JSONResponse:
    """Return the plugin's error body, ``{"errors": [...]}``, with secrets redacted."""
    errors = [GLOBAL_REDACTOR.redact(message) for message in messages]
    return JSONResponse({"errors": errors}, status_code=status)


def status_of(error: ScaffolderError) -> int:
    """Return the HTTP status of an error raised by a route."""
    if isinstance(error, ConfigError):
        return 503
    if isinstance(error, InputError):
        return 400
    if isinstance(error, PagerDutyError):
        if error.status in (400, 404):
            return error.status
        if error.status is None or error.status == 429:
            return 503
        return 502
    return 500


class PagerDutyRoute(APIRoute):
    """A route that responds to every scaffolder and validation error with ``{"errors": [...]}``.

    Other exceptions, such as the 401 of the authentication dependency, go to the
    application's exception handlers.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                problems = [
                    f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg')}"
                    for item in error.errors()[:5]
                ]
                return errors_response(400, *problems)
            except ScaffolderError as error:
                status = status_of(error)
                logger.warning(
                    "PagerDuty route %s %s failed with status %d: %s",
                    request.method,
                    request.url.path,
                    status,
                    GLOBAL_REDACTOR.redact(error.message),
                )
                message = error.message + (f" ({error.hint})" if error.hint else "")
                return errors_response(status, message)

        return answer


class PluginErrors(BaseModel):
    """The plugin's error body."""

    errors: list[str]


PLUGIN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": PluginErrors, "description": "Invalid input or an unknown account"},
    401: {"model": ErrorResponse, "description": "Missing or invalid bearer token"},
    404: {"model": PluginErrors, "description": "The service does not exist"},
    502: {"model": PluginErrors, "description": "PagerDuty responded with an error"},
    503: {"model": PluginErrors, "description": "PagerDuty could not be reached in time"},
}


def create_router(
    get_pagerduty: PagerDutyGetter, *, auth: Callable[..., Any] | None = None
) -> APIRouter:
    """Return the router, mounted at ``/api/pagerduty``.

    ``get_pagerduty`` returns the :class:`PagerDuty` of the process for a request; ``auth``
    is a FastAPI dependency that every route but ``/health`` requires.
    """

    def pagerduty_of(request: Request) -> PagerDuty:
        return get_pagerduty(request)

    PagerDutyDep = Annotated[PagerDuty, Depends(pagerduty_of)]
    protected = [Depends(auth)] if auth is not None else []
    router = APIRouter(
        prefix=PREFIX, route_class=PagerDutyRoute, tags=["pagerduty"], responses=PLUGIN_ERRORS
    )

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/escalation_policies", dependencies=protected)
    def escalation_policies(pd: PagerDutyDep) -> list[dict[str, str]]:
        """Return every account's escalation policies as ``{label, value}`` options."""
        return [
            {"label": policy["label"], "value": policy["id"]}
            for policy in list_escalation_policies(pd)
        ]

    @router.get("/oncall-users", dependencies=protected)
    def oncall_users(request: Request, pd: PagerDutyDep) -> dict[str, Any]:
        """Return the users on call at the lowest level of ``escalation_policy_ids[]``."""
        query = request.query_params
        policy_ids = query.getlist("escalation_policy_ids[]") + query.getlist(
            "escalation_policy_ids"
        )
        policy_ids = [policy_id for policy_id in policy_ids if policy_id]
        if not policy_ids:
            raise InputError("Bad Request: 'escalation_policy_ids[]' is required")
        client = _client(pd, query.get("account"))
        oncalls = pd_reads.lowest_level_oncalls(client, policy_ids)
        return {"users": [oncall["user"] for oncall in oncalls]}

    @router.get("/services", dependencies=protected)
    def services(
        pd: PagerDutyDep, integration_key: str = "", account: str = ""
    ) -> dict[str, Any]:
        """Return the service of ``integration_key``, or without it every service."""
        if integration_key:
            client = _client(pd, account)
            service = get_service_by_integration_key(client, integration_key)
            return {"service": {**service, "account": client.account.id}}
        accounts = [_account(pd, account)] if account else pd.accounts
        return {"services": [item for acc in accounts for item in _all_services(pd, acc)]}

    @router.get("/services/{service_id}", dependencies=protected)
    def service(service_id: str, pd: PagerDutyDep, account: str = "") -> dict[str, Any]:
        client = _client(pd, account)
        return {"service": {**get_service_by_id(client, service_id), "account": client.account.id}}

    @router.get("/services/{service_id}/change-events", dependencies=protected)
    def change_events(service_id: str, pd: PagerDutyDep, account: str = "") -> dict[str, Any]:
        client = _client(pd, account)
        events = pd_reads.list_change_events(client, service_id, CHANGE_EVENTS_LIMIT)
        return {"change_events": events}

    @router.get("/services/{service_id}/incidents", dependencies=protected)
    def incidents(service_id: str, pd: PagerDutyDep, account: str = "") -> dict[str, Any]:
        client = _client(pd, account)
        get_service_by_id(client, service_id)
        return {"incidents": pd_reads.list_open_incidents(client, service_id)}

    @router.get("/services/{service_id}/standards", dependencies=protected)
    def standards(service_id: str, pd: PagerDutyDep, account: str = "") -> dict[str, Any]:
        client = _client(pd, account)
        path = "/standards/scores/technical_services/" + quote(service_id, safe="")
        return {"standards": _existing(client, path, service_id)}

    @router.get("/services/{service_id}/metrics", dependencies=protected)
    def metrics(service_id: str, pd: PagerDutyDep, account: str = "") -> dict[str, Any]:
        client = _client(pd, account)
        get_service_by_id(client, service_id)
        return {"metrics": _service_metrics(client, service_id)}

    @router.get("/dependencies/service/{service_id}", dependencies=protected)
    def dependencies(service_id: str, pd: PagerDutyDep, account: str = "") -> dict[str, Any]:
        client = _client(pd, account)
        path = "/service_dependencies/technical_services/" + quote(service_id, safe="")
        body = _existing(client, path, service_id)
        return {"relationships": body.get("relationships") or []}

    return router


def _account(pd: PagerDuty, account: str | None) -> Account:
    target = ServiceTarget(account=account or None, origin="the account query parameter")
    return resolve_account(pd, target)


def _client(pd: PagerDuty, account: str | None) -> PagerDutyClient:
    return pd.client(_account(pd, account).id)


def _existing(client: PagerDutyClient, path: str, service_id: str) -> dict[str, Any]:
    """GET ``path`` of a service, turning PagerDuty's 404 into a message naming the service."""
    try:
        return client.get(path)
    except PagerDutyError as error:
        if error.status != 404:
            raise
        raise PagerDutyError(
            f"PagerDuty service {service_id!r} does not exist on account "
            f"{client.account.id!r}",
            status=404,
            account=client.account.id,
        ) from error


def _all_services(pd: PagerDuty, account: Account) -> list[dict[str, Any]]:
    items = pd.client(account.id).list_all(
        "/services", "services", {"include[]": [*SERVICE_INCLUDES, "teams"], "time_zone": "UTC"}
    )
    return [{**item, "account": account.id} for item in items]


def _service_metrics(client: PagerDutyClient, service_id: str) -> list[dict[str, Any]]:
    """Return the incident metrics of the last 30 days, ``data`` of PagerDuty's analytics.

    PagerDuty's analytics query is a POST that only reads, so read-only accounts allow it.
    """
    end = datetime.now(UTC)
    start = end - timedelta(days=METRICS_DAYS)
    body = {
        "filters": {
            "created_at_start": start.isoformat(timespec="seconds"),
            "created_at_end": end.isoformat(timespec="seconds"),
            "service_ids": [service_id],
        }
    }
    answer = client.post("/analytics/metrics/incidents/services", body, idempotent=True)
    data = answer.get("data")
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
