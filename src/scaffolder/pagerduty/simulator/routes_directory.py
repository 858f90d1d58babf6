"""Read-only routes: abilities, vendors, escalation policies, on-calls, users, standards."""

from __future__ import annotations

from scaffolder.pagerduty.simulator.protocol import (
    CODE_ABILITY,
    Call,
    Reply,
    Route,
    includes,
    not_found,
    paginate,
    pd_error,
)
from scaffolder.pagerduty.simulator.render import JSON
from scaffolder.pagerduty.simulator.state import Record


def list_abilities(call: Call) -> Reply:
    return Reply(200, {"abilities": sorted(call.state.abilities)})


def get_ability(call: Call) -> Reply:
    ability = call.request.params["id"]
    if ability in call.state.abilities:
        return Reply(204)
    raise pd_error(
        402,
        "Account does not have the abilities to perform the action",
        CODE_ABILITY,
        [f"The account does not have the ability {ability!r}"],
    )


def list_vendors(call: Call) -> Reply:
    query = (call.request.arg("query") or "").casefold()
    vendors = sorted(call.state.vendors.values(), key=lambda v: str(v["name"]).casefold())
    found = [call.render.vendor(v["id"]) for v in vendors if query in str(v["name"]).casefold()]
    return paginate(call.request, found, "vendors")


def get_vendor(call: Call) -> Reply:
    vendor_id = call.request.params["id"]
    if vendor_id not in call.state.vendors:
        raise not_found("Vendor", vendor_id)
    return Reply(200, {"vendor": call.render.vendor(vendor_id)})


def list_escalation_policies(call: Call) -> Reply:
    request = call.request
    query = (request.arg("query") or "").casefold()
    user_ids = set(request.args("user_ids"))
    found = []
    for policy in sorted(call.state.escalation_policies.values(), key=_name_key):
        if query not in str(policy["name"]).casefold():
            continue
        if user_ids and not user_ids & _policy_user_ids(call, policy):
            continue
        found.append(call.render.escalation_policy(policy["id"]))
    return paginate(request, found, "escalation_policies")


def _name_key(record: Record) -> str:
    return str(record["name"]).casefold()


def _policy_user_ids(call: Call, policy: Record) -> set[str]:
    user_ids = set()
    for rule in policy["escalation_rules"]:
        for target in rule["targets"]:
            if target["type"] == "user_reference":
                user_ids.add(target["id"])
            else:
                user_ids.update(call.state.schedules[target["id"]]["user_ids"])
    return user_ids


def get_escalation_policy(call: Call) -> Reply:
    policy_id = call.request.params["id"]
    if policy_id not in call.state.escalation_policies:
        raise not_found("Escalation policy", policy_id)
    return Reply(200, {"escalation_policy": call.render.escalation_policy(policy_id)})


def list_oncalls(call: Call) -> Reply:
    request = call.request
    filters = {
        "escalation_policy_id": set(request.args("escalation_policy_ids")),
        "user_id": set(request.args("user_ids")),
        "schedule_id": set(request.args("schedule_ids")),
    }
    oncalls = [
        oncall
        for oncall in call.state.oncalls
        if all(not wanted or oncall[key] in wanted for key, wanted in filters.items())
    ]
    if request.flag("earliest"):
        oncalls = _earliest(oncalls)
    oncalls.sort(key=lambda o: (o["escalation_policy_id"], o["escalation_level"], o["start"]))
    include = includes(request)
    return paginate(request, [call.render.oncall(o, include) for o in oncalls], "oncalls")


def _earliest(oncalls: list[Record]) -> list[Record]:
    """Keep the earliest on-call of each escalation policy, level and user, as ``earliest`` does."""
    first: dict[tuple[str, int, str], Record] = {}
    for oncall in oncalls:
        key = (oncall["escalation_policy_id"], oncall["escalation_level"], oncall["user_id"])
        if key not in first or oncall["start"] < first[key]["start"]:
            first[key] = oncall
    return list(first.values())


def get_user(call: Call) -> Reply:
    user_id = call.request.params["id"]
    if user_id not in call.state.users:
        raise not_found("User", user_id)
    return Reply(200, {"user": call.render.user(user_id)})


def list_standards(call: Call) -> Reply:
    active = call.request.arg("active")
    standards = [
        {**standard, "exclusions": [], "inclusions": []}
        for standard in call.state.standards
        if active is None or str(standard["active"]).lower() == active.lower()
    ]
    return Reply(200, {"standards": standards})


def get_standard_scores(call: Call) -> Reply:
    resource_type = call.request.params["resource_type"]
    service_id = call.request.params["id"]
    if resource_type != "technical_services":
        raise not_found("Resource type", resource_type)
    if service_id not in call.state.services:
        raise not_found("Service", service_id)
    results = [
        {**_standard_summary(standard), "pass": _passes(call, standard["type"], service_id)}
        for standard in call.state.standards
        if standard["active"]
    ]
    return Reply(
        200,
        {
            "resource_id": service_id,
            "resource_type": "technical_service",
            "score": {"passing": sum(1 for r in results if r["pass"]), "total": len(results)},
            "standards": results,
        },
    )


def _standard_summary(standard: Record) -> JSON:
    keys = ("active", "description", "id", "name", "type")
    return {key: standard[key] for key in keys}


def _passes(call: Call, standard_type: str, service_id: str) -> bool:
    service = call.state.services[service_id]
    if standard_type == "has_technical_service_description":
        return bool(service.get("description"))
    if standard_type == "minimum_escalation_policy_rule_depth":
        policy = call.state.escalation_policies[service["escalation_policy_id"]]
        return len(policy["escalation_rules"]) >= 2
    if standard_type == "minimum_inbound_integrations":
        return bool(call.state.integrations_of(service_id))
    return False


ROUTES = [
    Route("GET", "/abilities", "abilities.read", list_abilities),
    Route("GET", "/abilities/{id}", "abilities.read", get_ability),
    Route("GET", "/vendors", "vendors.read", list_vendors),
    Route("GET", "/vendors/{id}", "vendors.read", get_vendor),
    Route("GET", "/escalation_policies", "escalation_policies.read", list_escalation_policies),
    Route("GET", "/escalation_policies/{id}", "escalation_policies.read", get_escalation_policy),
    Route("GET", "/oncalls", "oncalls.read", list_oncalls),
    Route("GET", "/users/{id}", "users.read", get_user),
    Route("GET", "/standards", "standards.read", list_standards),
    Route("GET", "/standards/scores/{resource_type}/{id}", "standards.read", get_standard_scores),
]
