"""Service routes: services, their integrations and service dependencies."""

from __future__ import annotations

from typing import Any

from scaffolder.pagerduty.simulator.protocol import (
    CODE_ABILITY,
    CODE_NOT_FOUND,
    Call,
    Reply,
    Route,
    includes,
    invalid_input,
    not_found,
    paginate,
    pd_error,
)
from scaffolder.pagerduty.simulator.render import JSON
from scaffolder.pagerduty.simulator.seed import (
    GROUPING_ABILITIES,
    new_integration,
    new_service,
)
from scaffolder.pagerduty.simulator.state import Record, State

SERVICE_STATUSES = ("active", "warning", "critical", "maintenance", "disabled")

INTEGRATION_TYPES = (
    "aws_cloudwatch_inbound_integration",
    "cloudkick_inbound_integration",
    "event_transformer_api_inbound_integration",
    "generic_email_inbound_integration",
    "generic_events_api_inbound_integration",
    "keynote_inbound_integration",
    "nagios_inbound_integration",
    "pingdom_inbound_integration",
    "sql_monitor_inbound_integration",
    "events_api_v2_inbound_integration",
)

UPDATABLE_FIELDS = (
    "name",
    "description",
    "status",
    "auto_resolve_timeout",
    "acknowledgement_timeout",
    "alert_creation",
    "alert_grouping_parameters",
    "incident_urgency_rule",
    "support_hours",
    "scheduled_actions",
    "auto_pause_notifications_parameters",
)


def list_services(call: Call) -> Reply:
    request = call.request
    query = (request.arg("query") or "").casefold()
    name = request.arg("name")
    found = []
    for service in sorted(call.state.services.values(), key=lambda s: str(s["name"]).casefold()):
        service_name = str(service["name"]).casefold()
        if query not in service_name:
            continue
        if name is not None and service_name != name.casefold():
            continue
        found.append(call.render.service(service["id"], includes(request)))
    return paginate(request, found, "services")


def get_service(call: Call) -> Reply:
    service_id = _existing_service(call.state, call.request.params["id"])
    return Reply(200, {"service": call.render.service(service_id, includes(call.request))})


def create_service(call: Call) -> Reply:
    fields = call.request.json_object("service")
    _check_service_fields(call.state, fields, service_id=None)
    policy_id = _escalation_policy_id(call.state, fields.get("escalation_policy"))
    record = new_service(fields, policy_id)
    record["id"] = call.state.ids.object_id()
    call.state.services[record["id"]] = record
    return Reply(201, {"service": call.render.service(record["id"], set())})


def update_service(call: Call) -> Reply:
    service_id = _existing_service(call.state, call.request.params["id"])
    fields = call.request.json_object("service")
    _check_service_fields(call.state, fields, service_id=service_id)
    record = call.state.services[service_id]
    if "escalation_policy" in fields:
        record["escalation_policy_id"] = _escalation_policy_id(
            call.state, fields["escalation_policy"]
        )
    for key in UPDATABLE_FIELDS:
        if key in fields:
            record[key] = fields[key]
    return Reply(200, {"service": call.render.service(service_id, set())})


def delete_service(call: Call) -> Reply:
    service_id = _existing_service(call.state, call.request.params["id"])
    call.state.delete_service(service_id)
    return Reply(204)


def _existing_service(state: State, service_id: str) -> str:
    if service_id not in state.services:
        raise not_found("Service", service_id)
    return service_id


def _check_service_fields(state: State, fields: dict[str, Any], service_id: str | None) -> None:
    """Raise PagerDuty's 400 for invalid fields and 402 for alert grouping without the ability."""
    creating = service_id is None
    errors = []
    name = fields.get("name")
    if (creating or "name" in fields) and (not isinstance(name, str) or not name.strip()):
        errors.append("Name can't be blank")
    elif isinstance(name, str):
        same_name = state.service_by_name(name)
        if same_name is not None and same_name["id"] != service_id:
            errors.append("Name has already been taken")
    if fields.get("type", "service") != "service":
        errors.append(f"Type must be 'service', got {fields.get('type')!r}")
    if fields.get("status", "active") not in SERVICE_STATUSES:
        errors.append(f"Status {fields.get('status')!r} is not one of {list(SERVICE_STATUSES)}")
    if creating and not fields.get("escalation_policy"):
        errors.append("Escalation policy can't be blank")
    errors.extend(_timeout_errors(fields))
    grouping = _grouping_type(fields)
    if grouping is not None and grouping not in GROUPING_ABILITIES:
        errors.append(f"Alert grouping type {grouping!r} is not one of {list(GROUPING_ABILITIES)}")
    if errors:
        raise invalid_input(*errors)
    _check_grouping_ability(state, grouping)


def _timeout_errors(fields: dict[str, Any]) -> list[str]:
    errors = []
    for key in ("auto_resolve_timeout", "acknowledgement_timeout"):
        value = fields.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            errors.append(f"{key} must be a non-negative integer or null, got {value!r}")
    return errors


def _grouping_type(fields: dict[str, Any]) -> str | None:
    parameters = fields.get("alert_grouping_parameters")
    if not isinstance(parameters, dict):
        return None
    grouping = parameters.get("type")
    return str(grouping) if grouping is not None else None


def _check_grouping_ability(state: State, grouping: str | None) -> None:
    if grouping is None:
        return
    ability = GROUPING_ABILITIES[grouping]
    if ability not in state.abilities:
        raise pd_error(
            402,
            f"Alert grouping type {grouping!r} requires the ability {ability!r}, "
            "which this account does not have",
            CODE_ABILITY,
            [f"Missing ability: {ability}"],
        )


def _escalation_policy_id(state: State, reference: Any) -> str:
    policy_id = reference.get("id") if isinstance(reference, dict) else None
    if not policy_id:
        raise invalid_input("Escalation policy must be a reference with an id")
    if policy_id not in state.escalation_policies:
        raise invalid_input(f"Escalation policy {policy_id!r} not found")
    return str(policy_id)


def get_integration(call: Call) -> Reply:
    service_id = _existing_service(call.state, call.request.params["id"])
    integration_id = call.request.params["integration_id"]
    integration = call.state.integrations.get(integration_id)
    if integration is None or integration["service_id"] != service_id:
        raise not_found("Integration", integration_id)
    return Reply(200, {"integration": call.render.integration(integration)})


def create_integration(call: Call) -> Reply:
    service_id = _existing_service(call.state, call.request.params["id"])
    fields = call.request.json_object("integration")
    vendor_id = _check_integration_fields(call.state, fields)
    record = new_integration(call.state, service_id, {**fields, "id": None}, vendor_id)
    call.state.integrations[record["id"]] = record
    return Reply(201, {"integration": call.render.integration(record)})


def _check_integration_fields(state: State, fields: dict[str, Any]) -> str | None:
    """Raise 400 for invalid fields; return the vendor id, if any."""
    errors = []
    if fields.get("type") not in INTEGRATION_TYPES:
        errors.append(f"Type {fields.get('type')!r} is not one of {list(INTEGRATION_TYPES)}")
    if not isinstance(fields.get("name"), str) or not fields["name"].strip():
        errors.append("Name can't be blank")
    vendor = fields.get("vendor")
    vendor_id = vendor.get("id") if isinstance(vendor, dict) else None
    if vendor is not None and vendor_id not in state.vendors:
        errors.append(f"Vendor {vendor_id!r} not found")
    if errors:
        raise invalid_input(*errors)
    return str(vendor_id) if vendor_id else None


DEPENDENCY_TYPES = {
    "service": "technical_service_reference",
    "technical_service": "technical_service_reference",
    "technical_service_reference": "technical_service_reference",
    "business_service": "business_service_reference",
    "business_service_reference": "business_service_reference",
}


def associate_dependencies(call: Call) -> Reply:
    created = []
    for supporting, dependent in _relationships(call.state, call.request.json()):
        existing = _find_dependency(call.state, supporting, dependent)
        if existing is None:
            existing = {
                "id": call.state.ids.token("dependency", 16).upper(),
                "type": "service_dependency",
                "supporting_service": supporting,
                "dependent_service": dependent,
            }
            call.state.dependencies.append(existing)
        created.append(existing)
    return Reply(200, {"relationships": created})


def disassociate_dependencies(call: Call) -> Reply:
    removed = []
    for supporting, dependent in _relationships(call.state, call.request.json()):
        existing = _find_dependency(call.state, supporting, dependent)
        if existing is None:
            raise pd_error(404, "Not Found", CODE_NOT_FOUND, ["Service dependency not found"])
        call.state.dependencies.remove(existing)
        removed.append(existing)
    return Reply(200, {"relationships": removed})


def list_service_dependencies(call: Call) -> Reply:
    service_id = _existing_service(call.state, call.request.params["id"])
    related = [
        dependency
        for dependency in call.state.dependencies
        if service_id
        in (dependency["supporting_service"]["id"], dependency["dependent_service"]["id"])
    ]
    return Reply(200, {"relationships": related})


def _relationships(state: State, body: Any) -> list[tuple[JSON, JSON]]:
    items = body.get("relationships") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise invalid_input("Relationships must be a non-empty array")
    pairs = []
    for item in items:
        if not isinstance(item, dict):
            raise invalid_input(f"Relationship {item!r} must be an object")
        pairs.append(
            (
                _dependency_end(state, item.get("supporting_service")),
                _dependency_end(state, item.get("dependent_service")),
            )
        )
    return pairs


def _dependency_end(state: State, reference: Any) -> JSON:
    if not isinstance(reference, dict) or not reference.get("id"):
        raise invalid_input("Each relationship needs supporting_service and dependent_service ids")
    kind = DEPENDENCY_TYPES.get(str(reference.get("type", "service")))
    if kind is None:
        raise invalid_input(f"Service type {reference.get('type')!r} is not supported")
    # NOTE: business services are not simulated, so their ids are accepted as they are.
    if kind == "technical_service_reference" and reference["id"] not in state.services:
        raise not_found("Service", str(reference["id"]))
    return {"id": str(reference["id"]), "type": kind}


def _find_dependency(state: State, supporting: JSON, dependent: JSON) -> Record | None:
    for dependency in state.dependencies:
        if (
            dependency["supporting_service"]["id"] == supporting["id"]
            and dependency["dependent_service"]["id"] == dependent["id"]
        ):
            return dependency
    return None


ROUTES = [
    Route("GET", "/services", "services.read", list_services),
    Route("POST", "/services", "services.write", create_service),
    Route("GET", "/services/{id}", "services.read", get_service),
    Route("PUT", "/services/{id}", "services.write", update_service),
    Route("DELETE", "/services/{id}", "services.write", delete_service),
    Route("POST", "/services/{id}/integrations", "services.write", create_integration),
    Route("GET", "/services/{id}/integrations/{integration_id}", "services.read", get_integration),
    Route("POST", "/service_dependencies/associate", "services.write", associate_dependencies),
    Route(
        "POST", "/service_dependencies/disassociate", "services.write", disassociate_dependencies
    ),
    Route(
        "GET",
        "/service_dependencies/technical_services/{id}",
        "services.read",
        list_service_dependencies,
    ),
]
