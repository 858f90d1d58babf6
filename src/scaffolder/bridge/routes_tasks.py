"""Routes of tasks and their events: create, list, get, cancel, retry, SSE and long polling."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from scaffolder.bridge.catalog import TemplateCatalog
from scaffolder.bridge.core import Bridge, get_bridge, principal_of
from scaffolder.bridge.events import isoformat, serialize_event, stream_events, wait_for_events
from scaffolder.bridge.http import HttpError
from scaffolder.bridge.models import (
    CancelResponse,
    ErrorResponse,
    ListTasksResponse,
    RetryRequest,
    ScaffoldRequest,
    SerializedTask,
    SerializedTaskEvent,
    TaskCreated,
    ValidationErrors,
)
from scaffolder.bridge.store import ORDER_FIELDS, TASK_STATUSES, TaskRow
from scaffolder.bridge.validation import parameter_errors
from scaffolder.errors import InputError
from scaffolder.parameters import collect_parameters
from scaffolder.templates import Template

logger = logging.getLogger("scaffolder.bridge.tasks")

LONG_POLL_SECONDS = 30.0
MAX_PAGE_SIZE = 1000
MAX_SQL_INTEGER = 2**63 - 1
"""Largest signed 64-bit integer, the maximum of SQLite's INTEGER and PostgreSQL's BIGINT.

Event ids and offsets above it would make the database driver raise, so requests with them get
400.
"""
_EVENT_ID = re.compile(r"[0-9]+")

EventIdQuery = Annotated[
    int | None,
    Query(ge=0, le=MAX_SQL_INTEGER, description="Only events with a larger id are returned."),
]

router = APIRouter()

BridgeDep = Annotated[Bridge, Depends(get_bridge)]
PrincipalDep = Annotated[str, Depends(principal_of)]


def serialize_task(task: TaskRow) -> dict[str, Any]:
    """Return the task in the shape of Backstage's ``SerializedTask``, never with secrets."""
    body: dict[str, Any] = {
        "id": task.id,
        "spec": task.spec,
        "status": task.status,
        "createdAt": isoformat(task.created_at),
        "createdBy": task.created_by,
    }
    if task.last_heartbeat_at is not None:
        body["lastHeartbeatAt"] = isoformat(task.last_heartbeat_at)
    return body


def task_spec(
    template: Template, ref: str, values: dict[str, Any], principal: str
) -> dict[str, Any]:
    """Build the stored spec in the shape of Backstage's ``TaskSpecV1beta3``."""
    return {
        "apiVersion": template.document.get("apiVersion"),
        "steps": template.steps,
        "output": template.output,
        "parameters": values,
        "user": {"ref": principal},
        "templateInfo": {
            "entityRef": ref,
            "baseUrl": template.directory.as_uri() + "/",
            "entity": {"metadata": template.document.get("metadata", {})},
        },
    }


def _find_template(catalog: TemplateCatalog, ref: str) -> Template:
    try:
        template = catalog.get(ref)
    except InputError as error:
        raise HttpError(400, "InputError", error.message) from error
    if template is None:
        raise HttpError(404, "NotFoundError",
                        f"template {ref!r} is not configured on this bridge (scaffolder.templates)")
    return template


def _load_task(bridge: Bridge, task_id: str) -> TaskRow:
    task = bridge.store.get_task(task_id)
    if task is None:
        raise HttpError(404, "NotFoundError", f"task {task_id!r} not found")
    return task


def _parse_order(order: list[str]) -> list[tuple[str, bool]]:
    parsed = []
    for item in order:
        direction, _, field = item.rpartition(":")
        direction = direction or "asc"
        if field not in ORDER_FIELDS or direction not in ("asc", "desc"):
            raise HttpError(400, "InputError",
                            f"invalid order {item!r}: write [asc|desc:]<field> with a field "
                            f"among {', '.join(sorted(set(ORDER_FIELDS.values())))}")
        parsed.append((ORDER_FIELDS[field], direction == "desc"))
    return parsed or [("created_at", True)]


def _parse_last_event_id(value: str) -> int:
    """Parse the ``Last-Event-ID`` header: ASCII digits only, within the SQL INTEGER range."""
    text = value.strip()
    digits = text.lstrip("0") or "0"
    # The length check keeps int() away from strings longer than Python's digit limit.
    if (_EVENT_ID.fullmatch(text) is None or len(digits) > len(str(MAX_SQL_INTEGER))
            or int(digits) > MAX_SQL_INTEGER):
        raise HttpError(400, "InputError",
                        f"invalid Last-Event-ID header {value!r}: send the id of the last event "
                        f"received, an integer from 0 to {MAX_SQL_INTEGER}, or omit the header")
    return int(digits)


@router.post("/v2/tasks", status_code=201, response_model=TaskCreated,
             responses={400: {"model": ValidationErrors | ErrorResponse}})
def create_task(
    request_body: ScaffoldRequest, bridge: BridgeDep, principal: PrincipalDep
) -> Any:
    template = _find_template(bridge.catalog, request_body.templateRef)
    problems = parameter_errors(template, request_body.values)
    if problems:
        return JSONResponse({"errors": problems}, status_code=400)
    values = collect_parameters(template, values=request_body.values, interactive=False)

    secrets = dict(request_body.secrets or {})
    task_id = bridge.store.create_task(
        spec=task_spec(template, request_body.templateRef, values, principal),
        template_ref=request_body.templateRef,
        created_by=principal,
        secrets=secrets,
    )
    bridge.pool.wake()
    logger.info("task %s created by %s from template %s", task_id, principal,
                request_body.templateRef)
    return {"id": task_id}


@router.get("/v2/tasks", response_model=ListTasksResponse)
def list_tasks(
    bridge: BridgeDep,
    _principal: PrincipalDep,
    created_by: Annotated[list[str] | None, Query(alias="createdBy")] = None,
    status: Annotated[list[str] | None, Query()] = None,
    order: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE_SIZE)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INTEGER)] = 0,
) -> Any:
    unknown = sorted(set(status or []) - set(TASK_STATUSES))
    if unknown:
        raise HttpError(400, "InputError",
                        f"invalid status {unknown[0]!r}: use one of {', '.join(TASK_STATUSES)}")
    rows, total = bridge.store.list_tasks(
        created_by=created_by or [], statuses=status or [], order=_parse_order(order or []),
        limit=MAX_PAGE_SIZE if limit is None else limit, offset=offset,
    )
    return {"tasks": [serialize_task(row) for row in rows], "totalTasks": total}


@router.get("/v2/tasks/{taskId}", response_model=SerializedTask)
def get_task(taskId: str, bridge: BridgeDep, _principal: PrincipalDep) -> Any:
    return serialize_task(_load_task(bridge, taskId))


@router.post("/v2/tasks/{taskId}/cancel", response_model=CancelResponse)
def cancel_task(taskId: str, bridge: BridgeDep, principal: PrincipalDep) -> Any:
    task = _load_task(bridge, taskId)
    if task.status in ("completed", "failed"):
        raise HttpError(409, "ConflictError",
                        f"task {taskId!r} has already ended with status {task.status!r}")
    status, cancelled_now = bridge.store.request_cancel(taskId, cancelled_event={
        "message": f"Run cancelled by {principal} before it started",
    })
    if cancelled_now:
        bridge.hub.publish(taskId)
    elif status == "processing":
        bridge.pool.cancel(taskId)
    logger.info("task %s: cancellation requested by %s (status %s)", taskId, principal, status)
    return {"status": status}


@router.post("/v2/tasks/{taskId}/retry", status_code=201, response_model=TaskCreated)
def retry_task(
    taskId: str,
    bridge: BridgeDep,
    principal: PrincipalDep,
    request_body: Annotated[RetryRequest | None, Body()] = None,
) -> Any:
    task = _load_task(bridge, taskId)
    if task.status not in ("failed", "cancelled"):
        raise HttpError(409, "ConflictError",
                        f"task {taskId!r} has status {task.status!r}; only failed or cancelled "
                        "tasks can be retried")
    secrets = request_body.secrets if request_body is not None else None
    if secrets is None and task.secret_names:
        raise HttpError(400, "InputError",
                        f"task {taskId!r} had secrets ({', '.join(task.secret_names)}), which "
                        "were deleted when it ended; send them again as 'secrets' in the body")
    if not bridge.store.reopen_task(taskId, from_statuses=["failed", "cancelled"],
                                    secrets=secrets):
        raise HttpError(409, "ConflictError", f"task {taskId!r} changed status; try again")
    bridge.store.append_event(taskId, "log", {
        "message": f"Task retried by {principal}; steps resume from their saved checkpoints",
    })
    bridge.hub.publish(taskId)
    bridge.pool.wake()
    logger.info("task %s retried by %s", taskId, principal)
    return {"id": taskId}


@router.get("/v2/tasks/{taskId}/eventstream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def event_stream(
    taskId: str,
    request: Request,
    bridge: BridgeDep,
    _principal: PrincipalDep,
    after: EventIdQuery = None,
    last_event_id: Annotated[str | None, Header(
        alias="Last-Event-ID",
        description="Id of the last event received. The stream starts after it, and this "
                    "header takes precedence over `after`. A non-negative integer of at most "
                    f"{MAX_SQL_INTEGER}. Any other value gets 400.",
    )] = None,
) -> StreamingResponse:
    await run_in_threadpool(_load_task, bridge, taskId)
    start = after or 0
    if last_event_id is not None:
        start = _parse_last_event_id(last_event_id)
    stream = stream_events(bridge.store, bridge.hub, taskId, after=start,
                           heartbeat=bridge.settings.heartbeat_seconds)
    return StreamingResponse(
        stream, media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/v2/tasks/{taskId}/events", response_model=list[SerializedTaskEvent])
async def poll_events(
    taskId: str,
    bridge: BridgeDep,
    _principal: PrincipalDep,
    after: EventIdQuery = None,
) -> Any:
    await run_in_threadpool(_load_task, bridge, taskId)
    events = await wait_for_events(bridge.store, bridge.hub, taskId, after=after or 0,
                                   timeout=bridge.long_poll_seconds)
    return [serialize_event(event) for event in events]
