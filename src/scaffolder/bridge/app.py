"""The FastAPI application: Backstage's scaffolder routes under ``/api/scaffolder``.

Besides Backstage's routes it serves ``GET /healthz`` (the only route without authentication),
``GET /openapi.json`` and ``POST /api/scaffolder/v2/actions/{actionId}/run``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Response
from starlette.concurrency import run_in_threadpool

from scaffolder import __version__
from scaffolder.bridge import pagerduty_routes, routes_tasks
from scaffolder.bridge.core import Bridge, get_bridge, principal_of
from scaffolder.bridge.dryrun import dry_run, run_action
from scaffolder.bridge.http import BodyLimitMiddleware, HttpError, install_error_handlers
from scaffolder.bridge.models import (
    Action,
    ActionRunRequest,
    ActionRunResult,
    DryRunRequest,
    DryRunResult,
    ErrorResponse,
    Health,
    TemplateParameterSchema,
    ValidationErrors,
)
from scaffolder.errors import InputError
from scaffolder.parameters import parameter_schema_response

logger = logging.getLogger("scaffolder.bridge.app")

API_PREFIX = "/api/scaffolder"

BridgeDep = Annotated[Bridge, Depends(get_bridge)]
PrincipalDep = Annotated[str, Depends(principal_of)]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (400, "Invalid request"),
        (401, "Missing or invalid bearer token"),
        (404, "Not found"),
        (409, "Conflict with the task's status"),
        (413, "Request body too large"),
        (422, "The action failed"),
        (500, "Internal error"),
    )
}

router = APIRouter()


@router.get("/v2/templates/{namespace}/{kind}/{name}/parameter-schema",
            response_model=TemplateParameterSchema, response_model_exclude_none=True)
def get_parameter_schema(
    namespace: str, kind: str, name: str, bridge: BridgeDep, _principal: PrincipalDep
) -> Any:
    ref = f"{kind}:{namespace}/{name}"
    try:
        template = bridge.catalog.get(ref)
    except InputError:
        template = None
    if template is None:
        raise HttpError(404, "NotFoundError", f"template {ref!r} is not configured on this bridge")
    return parameter_schema_response(template)


@router.get("/v2/actions", response_model=list[Action])
async def list_actions(bridge: BridgeDep, _principal: PrincipalDep) -> Response:
    # The list never changes while the server runs, so its JSON is encoded once.
    return Response(bridge.actions_body, media_type="application/json")


@router.post("/v2/actions/{actionId}/run", response_model=ActionRunResult)
async def run_one_action(
    actionId: str,
    request_body: ActionRunRequest,
    bridge: BridgeDep,
    principal: PrincipalDep,
) -> Any:
    logger.info("action %s run by %s (dry run: %s)", actionId, principal, request_body.dryRun)
    return await run_in_threadpool(
        run_action, bridge.runner,
        scratch=bridge.settings.working_directory / "scratch",
        action_id=actionId,
        action_input=request_body.input,
        secrets=request_body.secrets or {},
        dry_run=request_body.dryRun,
        principal=principal,
    )


@router.post("/v2/dry-run", response_model=DryRunResult,
             responses={400: {"model": ValidationErrors | ErrorResponse}})
async def post_dry_run(
    request_body: DryRunRequest, bridge: BridgeDep, principal: PrincipalDep
) -> Any:
    return await run_in_threadpool(
        dry_run, bridge.runner,
        scratch=bridge.settings.working_directory / "scratch",
        document=request_body.template,
        values=request_body.values,
        secrets=request_body.secrets or {},
        files=request_body.directoryContents,
        principal=principal,
    )


def create_app(bridge: Bridge) -> FastAPI:
    """Build the application around ``bridge``; its lifespan starts and stops the workers."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        bridge.hub.bind(asyncio.get_running_loop())
        await run_in_threadpool(bridge.start)
        logger.info("scaffolder bridge ready")
        yield
        await run_in_threadpool(bridge.stop)
        logger.info("scaffolder bridge stopped")

    app = FastAPI(
        title="scaffolder bridge",
        version=__version__,
        description="Backstage's scaffolder REST API, served by the scaffolder",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.bridge = bridge
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=bridge.settings.max_request_bytes)
    app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(routes_tasks.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(
        pagerduty_routes.create_router(
            lambda request: request.app.state.bridge.runner.runtime.pagerduty, auth=principal_of
        )
    )

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_principal: PrincipalDep) -> Any:
        return _document_with_security(app)

    return app


def _document_with_security(app: FastAPI) -> dict[str, Any]:
    """Return FastAPI's OpenAPI document with the bearer scheme on every scaffolder route."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = app.openapi()
    document.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"},
    }
    for path, operations in document.get("paths", {}).items():
        if path.startswith(API_PREFIX):
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]
    app.openapi_schema = document
    return document
