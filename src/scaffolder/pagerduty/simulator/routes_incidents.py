"""Incident routes: incidents, change events, analytics, and the Events API v2."""

from __future__ import annotations

from typing import Any

from scaffolder.pagerduty.simulator.protocol import (
    ApiError,
    Call,
    Reply,
    Route,
    includes,
    invalid_input,
    not_found,
    paginate,
)
from scaffolder.pagerduty.simulator.render import JSON
from scaffolder.pagerduty.simulator.state import Record, State, utc_now

INCIDENT_SORT_KEYS = ("incident_number", "created_at", "resolved_at", "urgency")
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "warning", "error", "info")


def list_incidents(call: Call) -> Reply:
    request = call.request
    incidents = [i for i in call.state.incidents.values() if _incident_matches(call, i)]
    # Sorting by the last field first and the first field last gives a multi-key sort.
    for field, descending in reversed(_sort_fields(request.arg("sort_by"))):
        incidents.sort(key=lambda incident: _sort_value(incident, field), reverse=descending)
    include = includes(request)
    rendered = [call.render.incident(i, include) for i in incidents]
    return paginate(request, rendered, "incidents")


def _incident_matches(call: Call, incident: Record) -> bool:
    request = call.request
    filters = {
        "service_id": set(request.args("service_ids")),
        "status": set(request.args("statuses")),
        "urgency": set(request.args("urgencies")),
    }
    if any(values and incident[key] not in values for key, values in filters.items()):
        return False
    key = request.arg("incident_key")
    if key is not None and incident["incident_key"] != key:
        return False
    if request.arg("date_range") == "all":
        return True
    # NOTE: PagerDuty limits a list without since/until to the last 30 days; the simulator
    # applies since/until only when they are given.
    since, until = request.arg("since"), request.arg("until")
    created = str(incident["created_at"])
    return (since is None or created >= since) and (until is None or created < until)


def _sort_value(incident: Record, field: str) -> str:
    value = incident.get(field)
    if isinstance(value, int):
        return f"{value:012d}"
    return str(value or "")


def _sort_fields(sort_by: str | None) -> list[tuple[str, bool]]:
    """Return (field, descending) pairs from ``sort_by=created_at:desc,incident_number``."""
    fields = []
    for part in (sort_by or "incident_number:asc").split(","):
        name, _, direction = part.strip().partition(":")
        if name not in INCIDENT_SORT_KEYS or direction not in ("", "asc", "desc"):
            raise invalid_input(f"sort_by {part!r} is invalid: use one of {INCIDENT_SORT_KEYS}")
        fields.append((name, direction == "desc"))
    return fields


def list_change_events(call: Call) -> Reply:
    return _change_events_page(call, call.state.change_events)


def list_service_change_events(call: Call) -> Reply:
    service_id = call.request.params["id"]
    if service_id not in call.state.services:
        raise not_found("Service", service_id)
    events = [e for e in call.state.change_events if service_id in e["service_ids"]]
    return _change_events_page(call, events)


def _change_events_page(call: Call, events: list[Record]) -> Reply:
    request = call.request
    since, until = request.arg("since"), request.arg("until")
    integration_ids = set(request.args("integration_ids"))
    selected = [
        e
        for e in events
        if (since is None or e["timestamp"] >= since)
        and (until is None or e["timestamp"] < until)
        and (not integration_ids or e["integration_id"] in integration_ids)
    ]
    selected.sort(key=lambda e: str(e["timestamp"]), reverse=True)
    return paginate(request, [call.render.change_event(e) for e in selected], "change_events")


def incident_metrics_by_service(call: Call) -> Reply:
    body = call.request.json()
    if not isinstance(body, dict):
        raise invalid_input("Request body must be a JSON object with filters")
    filters: dict[str, Any] = body.get("filters") or {}
    service_ids = filters.get("service_ids") or sorted(call.state.services)
    data = [_service_metrics(call.state, service_id) for service_id in service_ids]
    answer: JSON = {
        "data": [metrics for metrics in data if metrics is not None],
        "filters": filters,
        "time_zone": body.get("time_zone") or "Etc/UTC",
    }
    if body.get("aggregate_unit"):
        answer["aggregate_unit"] = body["aggregate_unit"]
    return Reply(200, answer)


def _service_metrics(state: State, service_id: str) -> JSON | None:
    service = state.services.get(service_id)
    if service is None:
        return None
    incidents = [i for i in state.incidents.values() if i["service_id"] == service_id]
    return {
        "service_id": service_id,
        "service_name": service["name"],
        "total_incident_count": len(incidents),
        "total_incidents_acknowledged": sum(1 for i in incidents if i["status"] == "acknowledged"),
        "total_notifications": len(incidents),
        "total_interruptions": len(incidents),
        "up_time_pct": 100.0 if not any(i["status"] != "resolved" for i in incidents) else 99.0,
    }


def events_error(message: str, *errors: str) -> ApiError:
    """Return the Events API's 400: ``{"status": "invalid event", "message", "errors"}``."""
    return ApiError(400, {"status": "invalid event", "message": message, "errors": list(errors)})


def enqueue_event(call: Call) -> Reply:
    body = _event_body(call)
    integration = _routing_integration(call.state, body)
    action = body.get("event_action")
    if action not in EVENT_ACTIONS:
        raise events_error("Event object is invalid", f"'event_action' is invalid: {action!r}")
    dedup_key = body.get("dedup_key")
    if action == "trigger":
        dedup_key = _trigger(call.state, integration["service_id"], body)
    elif not dedup_key:
        raise events_error("Event object is invalid", "'dedup_key' is required for this action")
    else:
        _change_status(call.state, integration["service_id"], str(dedup_key), action)
    return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})


def enqueue_change_event(call: Call) -> Reply:
    body = _event_body(call)
    integration = _routing_integration(call.state, body)
    payload = body.get("payload")
    if not isinstance(payload, dict) or not payload.get("summary"):
        raise events_error("Event object is invalid", "'payload.summary' is required")
    call.state.change_events.append(
        {
            "id": call.state.ids.token("change-event", 26).upper(),
            "summary": str(payload["summary"]),
            "timestamp": str(payload.get("timestamp") or utc_now()),
            "source": str(payload.get("source", "")),
            "service_ids": [integration["service_id"]],
            "integration_id": integration["id"],
            "custom_details": dict(payload.get("custom_details") or {}),
            "links": list(body.get("links") or []),
        }
    )
    return Reply(202, {"status": "success", "message": "Change event processed"})


def _event_body(call: Call) -> dict[str, Any]:
    try:
        body = call.request.json()
    except ApiError:
        raise events_error("Event object is invalid", "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise events_error("Event object is invalid", "Request body must be a JSON object")
    return body


def _routing_integration(state: State, body: dict[str, Any]) -> Record:
    routing_key = body.get("routing_key")
    if not isinstance(routing_key, str) or not routing_key:
        raise events_error("Event object is invalid", "'routing_key' is missing or blank")
    integration = state.integration_by_key(routing_key)
    if integration is None:
        raise events_error("Event object is invalid", "Invalid routing key")
    return integration


def _trigger(state: State, service_id: str, body: dict[str, Any]) -> str:
    payload = body.get("payload")
    problems = _payload_problems(payload)
    if problems:
        raise events_error("Event object is invalid", *problems)
    assert isinstance(payload, dict)
    dedup_key = str(body.get("dedup_key") or state.ids.hex_key())
    incident = _open_incident(state, service_id, dedup_key)
    now = utc_now()
    if incident is None:
        incident = {
            "id": state.ids.object_id("Q"),
            "incident_number": state.next_incident_number(),
            "status": "triggered",
            "incident_key": dedup_key,
            "service_id": service_id,
            "created_at": now,
            "resolved_at": None,
            "urgency": "low" if payload["severity"] in ("warning", "info") else "high",
            "assignee_ids": state.first_level_user_ids(
                state.services[service_id]["escalation_policy_id"]
            ),
        }
        state.incidents[incident["id"]] = incident
    incident["title"] = str(payload["summary"])
    incident["updated_at"] = now
    return dedup_key


def _payload_problems(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is required for a trigger event"]
    problems = [
        f"'payload.{key}' is missing or blank"
        for key in ("summary", "source")
        if not payload.get(key)
    ]
    if payload.get("severity") not in SEVERITIES:
        problems.append(f"'payload.severity' must be one of {list(SEVERITIES)}")
    return problems


def _open_incident(state: State, service_id: str, dedup_key: str) -> Record | None:
    for incident in state.incidents.values():
        if (
            incident["service_id"] == service_id
            and incident["incident_key"] == dedup_key
            and incident["status"] != "resolved"
        ):
            return incident
    return None


def _change_status(state: State, service_id: str, dedup_key: str, action: str) -> None:
    """Acknowledge or resolve the open incident; PagerDuty accepts events for unknown keys too."""
    incident = _open_incident(state, service_id, dedup_key)
    if incident is None:
        return
    now = utc_now()
    incident["status"] = "acknowledged" if action == "acknowledge" else "resolved"
    incident["updated_at"] = now
    if action == "resolve":
        incident["resolved_at"] = now


EVENTS_PREFIX = "/events"

ROUTES = [
    Route("GET", "/incidents", "incidents.read", list_incidents),
    Route("GET", "/change_events", "change_events.read", list_change_events),
    Route("GET", "/services/{id}/change_events", "services.read", list_service_change_events),
    Route(
        "POST",
        "/analytics/metrics/incidents/services",
        "analytics.write",
        incident_metrics_by_service,
    ),
    Route("POST", f"{EVENTS_PREFIX}/v2/enqueue", None, enqueue_event),
    Route("POST", f"{EVENTS_PREFIX}/v2/change/enqueue", None, enqueue_change_event),
]
