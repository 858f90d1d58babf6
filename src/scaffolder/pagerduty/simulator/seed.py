"""Seed data: the default demo world, and loading a seed from a file or a mapping.

A seed is a mapping with the optional keys of :data:`SEED_KEYS`. Objects refer to each other
by id or by name (users also by email), so a hand-written seed needs no ids at all::

    account: {subdomain: acme, region: eu}
    users: [{name: Ada Lovelace, email: ada@example.com}]
    escalation_policies:
      - name: Payments
        escalation_rules: [{targets: [Ada Lovelace]}]
    services:
      - name: payments-api
        escalation_policy: Payments
        integrations: [{type: events_api_v2_inbound_integration, name: Events}]

Objects without an ``id`` get a generated one. Without an ``oncalls`` list, every user target
of an escalation rule is on call at that rule's level, and so is the first member of each
schedule target. An incident without ``assignees`` is assigned to the users on call at the
lowest level of its service's escalation policy. ``dependencies`` lists
``{supporting_service, dependent_service}`` pairs of service names or ids.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from scaffolder.errors import InputError
from scaffolder.pagerduty.simulator.state import Account, IdFactory, Record, State, utc_now

SEED_KEYS = (
    "account",
    "abilities",
    "vendors",
    "users",
    "schedules",
    "escalation_policies",
    "services",
    "oncalls",
    "incidents",
    "change_events",
    "standards",
    "dependencies",
)

BACKSTAGE_VENDOR_ID = "PRO19CT"

# NOTE: "preview_intelligent_alert_grouping" and "time_based_alert_grouping" are the names
# PagerDuty's Backstage plugin checks; "content_based_alert_grouping" is assumed by analogy.
GROUPING_ABILITIES = {
    "intelligent": "preview_intelligent_alert_grouping",
    "time": "time_based_alert_grouping",
    "content_based": "content_based_alert_grouping",
}

DEFAULT_ABILITIES = [
    "teams",
    "urgencies",
    "service_support_hours",
    *GROUPING_ABILITIES.values(),
]

DEFAULT_VENDORS: list[Record] = [
    {
        "id": BACKSTAGE_VENDOR_ID,
        "name": "Backstage",
        "description": "Backstage is an open platform for building developer portals.",
        "website_url": "https://backstage.io",
    },
    {
        "id": "PZQ6AUS",
        "name": "Amazon CloudWatch",
        "description": "Monitoring for AWS cloud resources and the applications on them.",
        "website_url": "https://aws.amazon.com/cloudwatch",
    },
    {
        "id": "P8JX75F",
        "name": "Autotask",
        "description": "Professional services automation and ticketing.",
        "website_url": "https://www.autotask.com",
    },
    {
        "id": "PAM4FGS",
        "name": "Datadog",
        "description": "Monitoring and analytics for cloud applications.",
        "website_url": "https://www.datadoghq.com",
    },
]

DEFAULT_STANDARDS: list[Record] = [
    {
        "id": "01CXX38Q0U8XKHO4LNKXUJTBFG",
        "name": "Service has a description",
        "type": "has_technical_service_description",
        "description": "A description tells responders what the service is for.",
    },
    {
        "id": "01CXX38Q0Y8D9IYFAEDCH5F53L",
        "name": "Service has an escalation policy with 2 or more unique levels",
        "type": "minimum_escalation_policy_rule_depth",
        "description": "A second level answers when the first responder is unavailable.",
    },
    {
        "id": "01CXX38Q11T19P0K1GFKHUZJ35",
        "name": "Service has an integration",
        "type": "minimum_inbound_integrations",
        "description": "An integration lets monitoring tools send events to the service.",
    },
]

DEMO_ESCALATION_POLICY = "Demo Escalation Policy"

DEMO_SEED: dict[str, Any] = {
    "account": {"subdomain": "demo", "region": "us"},
    "users": [
        {"name": "Ada Lovelace", "email": "ada@example.com", "job_title": "Staff Engineer"},
        {"name": "Grace Hopper", "email": "grace@example.com", "job_title": "SRE"},
        {"name": "Alan Turing", "email": "alan@example.com", "job_title": "Engineering Manager"},
    ],
    "schedules": [{"name": "Demo Primary Rotation", "users": ["Ada Lovelace", "Grace Hopper"]}],
    "escalation_policies": [
        {
            "name": DEMO_ESCALATION_POLICY,
            "description": "Pages the primary rotation, then the engineering manager.",
            "escalation_rules": [
                {
                    "escalation_delay_in_minutes": 30,
                    "targets": [
                        {"type": "schedule_reference", "name": "Demo Primary Rotation"},
                        {"type": "user_reference", "name": "Grace Hopper"},
                    ],
                },
                {"escalation_delay_in_minutes": 30, "targets": ["Alan Turing"]},
            ],
        }
    ],
}


def read_seed(source: str | Path | Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the seed mapping: the demo world for ``None``, else the mapping or file given."""
    if source is None:
        return _plain(DEMO_SEED)
    seed = _plain(source) if isinstance(source, Mapping) else _read_seed_file(Path(source))
    unknown = sorted(set(seed) - set(SEED_KEYS))
    if unknown:
        raise InputError(
            f"unknown seed keys {unknown!r}",
            hint=f"a seed may contain only {', '.join(SEED_KEYS)}",
        )
    return seed


def _read_seed_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read seed file {str(path)!r}: {error.strerror}") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(f"seed file {str(path)!r} is not valid YAML or JSON: {error}") from error
    if not isinstance(data, dict):
        raise InputError(f"seed file {str(path)!r} must contain a mapping at the top level")
    return _plain(data)


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a deep copy with only JSON types (dates from YAML become strings)."""
    copy: dict[str, Any] = json.loads(json.dumps(dict(data), default=str))
    return copy


def build_account(seed: Mapping[str, Any], ids: IdFactory, all_scopes: set[str]) -> Account:
    """Return the account identity from ``seed["account"]``, generating what it leaves out."""
    section = dict(seed.get("account") or {})
    region = str(section.get("region", "us"))
    if region not in ("us", "eu"):
        raise InputError(f"seed account region {region!r} is invalid: use 'us' or 'eu'")
    scopes = section.get("granted_scopes")
    return Account(
        subdomain=str(section.get("subdomain", "demo")),
        region=region,
        api_token=str(section.get("api_token") or "sim_" + ids.token("api-token", 20)),
        client_id=str(section.get("client_id") or ids.token("client-id", 24)),
        client_secret=str(section.get("client_secret") or "sim_" + ids.token("secret", 32)),
        granted_scopes=set(scopes) if scopes is not None else set(all_scopes),
    )


def build_state(seed: Mapping[str, Any], ids: IdFactory) -> State:
    """Return the state the seed describes, with ids for every object."""
    state = State(ids=ids)
    state.abilities = list(seed.get("abilities", DEFAULT_ABILITIES))
    _add_all(state.vendors, seed.get("vendors", DEFAULT_VENDORS), ids, _vendor)
    _add_all(state.users, seed.get("users", []), ids, _user)
    for item in seed.get("schedules", []):
        _add(state.schedules, item, ids, lambda raw: _schedule(state, raw))
    for item in seed.get("escalation_policies", []):
        _add(state.escalation_policies, item, ids, lambda raw: _escalation_policy(state, raw))
    for item in seed.get("services", []):
        _seed_service(state, item)
    state.oncalls = _oncalls(state, seed.get("oncalls"))
    for item in seed.get("incidents", []):
        _add(state.incidents, item, ids, lambda raw: _incident(state, raw))
    state.change_events = [_change_event(state, item) for item in seed.get("change_events", [])]
    state.standards = [_standard(item) for item in seed.get("standards", DEFAULT_STANDARDS)]
    state.dependencies = [_dependency(state, item) for item in seed.get("dependencies", [])]
    return state


def _add(collection: dict[str, Record], raw: Any, ids: IdFactory, make: Any) -> Record:
    if not isinstance(raw, dict):
        raise InputError(f"seed entry {raw!r} must be a mapping")
    record: Record = make(raw)
    if raw.get("id"):
        record["id"] = str(raw["id"])
        ids.reserve(record["id"])
    else:
        record["id"] = ids.object_id()
    collection[record["id"]] = record
    return record


def _add_all(collection: dict[str, Record], items: list[Any], ids: IdFactory, make: Any) -> None:
    for item in items:
        _add(collection, item, ids, make)


def resolve(collection: Mapping[str, Record], ref: Any, kind: str) -> Record:
    """Return the object ``ref`` names: an id, a name, an email, or a mapping with one of them."""
    if isinstance(ref, dict):
        ref = ref.get("id") or ref.get("name") or ref.get("email")
    if ref in collection:
        return collection[ref]
    for record in collection.values():
        if ref in (record.get("name"), record.get("email")):
            return record
    raise InputError(
        f"seed refers to {kind} {ref!r}, which the seed does not define",
        hint=f"define the {kind} first, or refer to it by id, name or email",
    )


def _vendor(raw: Record) -> Record:
    return {
        "name": str(raw["name"]),
        "description": str(raw.get("description", "")),
        "website_url": str(raw.get("website_url", "https://www.pagerduty.com")),
    }


def _user(raw: Record) -> Record:
    name = str(raw.get("name") or raw.get("email"))
    return {
        "name": name,
        "email": str(raw.get("email") or name.lower().replace(" ", ".") + "@example.com"),
        "role": str(raw.get("role", "user")),
        "time_zone": str(raw.get("time_zone", "Etc/UTC")),
        "job_title": str(raw.get("job_title", "")),
        "color": str(raw.get("color", "green")),
    }


def _schedule(state: State, raw: Record) -> Record:
    members = [resolve(state.users, ref, "user")["id"] for ref in raw.get("users", [])]
    return {"name": str(raw["name"]), "user_ids": members}


def _target(state: State, raw: Any) -> Record:
    if isinstance(raw, dict) and raw.get("type") == "schedule_reference":
        return {"type": "schedule_reference", "id": resolve(state.schedules, raw, "schedule")["id"]}
    return {"type": "user_reference", "id": resolve(state.users, raw, "user")["id"]}


def _escalation_policy(state: State, raw: Record) -> Record:
    rules = []
    for rule in raw.get("escalation_rules", []):
        rules.append(
            {
                "id": state.ids.object_id(),
                "escalation_delay_in_minutes": int(rule.get("escalation_delay_in_minutes", 30)),
                "targets": [_target(state, target) for target in rule.get("targets", [])],
            }
        )
    return {
        "name": str(raw["name"]),
        "description": str(raw.get("description", "")),
        "num_loops": int(raw.get("num_loops", 0)),
        "escalation_rules": rules,
    }


def _seed_service(state: State, raw: Any) -> None:
    def make(item: Record) -> Record:
        policy = resolve(
            state.escalation_policies, item.get("escalation_policy"), "escalation policy"
        )
        fields = {
            k: v for k, v in item.items() if k not in ("id", "escalation_policy", "integrations")
        }
        return new_service(fields, policy["id"])

    service = _add(state.services, raw, state.ids, make)
    for item in raw.get("integrations", []):
        vendor = item.get("vendor")
        vendor_id = resolve(state.vendors, vendor, "vendor")["id"] if vendor else None
        record = new_integration(state, service["id"], item, vendor_id)
        state.integrations[record["id"]] = record


def new_service(fields: Mapping[str, Any], escalation_policy_id: str) -> Record:
    """Return a service record from the writable fields of a create request."""
    record: Record = {
        "name": str(fields["name"]),
        "description": fields.get("description") or "",
        "status": fields.get("status", "active"),
        "auto_resolve_timeout": fields.get("auto_resolve_timeout", 14400),
        "acknowledgement_timeout": fields.get("acknowledgement_timeout", 1800),
        "alert_creation": fields.get("alert_creation", "create_alerts_and_incidents"),
        "created_at": str(fields.get("created_at") or utc_now()),
        "escalation_policy_id": escalation_policy_id,
    }
    for key in (
        "alert_grouping_parameters",
        "incident_urgency_rule",
        "support_hours",
        "scheduled_actions",
        "auto_pause_notifications_parameters",
    ):
        if fields.get(key) is not None:
            record[key] = fields[key]
    return record


def new_integration(
    state: State, service_id: str, fields: Mapping[str, Any], vendor_id: str | None
) -> Record:
    """Return an integration record; vendor and Events API integrations get a 32-hex key."""
    integration_type = str(fields.get("type") or "generic_events_api_inbound_integration")
    if fields.get("id"):
        state.ids.reserve(str(fields["id"]))
    record: Record = {
        "id": str(fields.get("id") or state.ids.object_id()),
        "type": integration_type,
        "name": str(fields.get("name") or integration_type),
        "service_id": service_id,
        "vendor_id": vendor_id,
        "created_at": utc_now(),
    }
    if integration_type == "generic_email_inbound_integration":
        record["integration_email"] = str(fields.get("integration_email", ""))
    if vendor_id or integration_type in EVENTS_INTEGRATION_TYPES:
        record["integration_key"] = str(fields.get("integration_key") or state.ids.hex_key())
    return record


EVENTS_INTEGRATION_TYPES = (
    "events_api_v2_inbound_integration",
    "generic_events_api_inbound_integration",
)


def _oncalls(state: State, explicit: list[Any] | None) -> list[Record]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if explicit is not None:
        return [_explicit_oncall(state, item, start, end) for item in explicit]
    oncalls = []
    for policy in state.escalation_policies.values():
        for level, rule in enumerate(policy["escalation_rules"], start=1):
            for target in rule["targets"]:
                oncall = _target_oncall(state, policy["id"], level, target, start, end)
                if oncall is not None:
                    oncalls.append(oncall)
    return oncalls


def _target_oncall(
    state: State, policy_id: str, level: int, target: Record, start: str, end: str
) -> Record | None:
    oncall: Record = {
        "escalation_policy_id": policy_id,
        "escalation_level": level,
        "schedule_id": None,
        "start": start,
        "end": end,
    }
    if target["type"] == "user_reference":
        return {**oncall, "user_id": target["id"]}
    members = state.schedules[target["id"]]["user_ids"]
    if not members:
        return None
    return {**oncall, "user_id": members[0], "schedule_id": target["id"]}


def _explicit_oncall(state: State, raw: Record, start: str, end: str) -> Record:
    schedule = raw.get("schedule")
    return {
        "user_id": resolve(state.users, raw.get("user"), "user")["id"],
        "escalation_policy_id": resolve(
            state.escalation_policies, raw.get("escalation_policy"), "escalation policy"
        )["id"],
        "escalation_level": int(raw.get("escalation_level", 1)),
        "schedule_id": resolve(state.schedules, schedule, "schedule")["id"] if schedule else None,
        "start": str(raw.get("start", start)),
        "end": str(raw.get("end", end)),
    }


def _incident(state: State, raw: Record) -> Record:
    service = resolve(state.services, raw.get("service"), "service")
    created_at = str(raw.get("created_at") or utc_now())
    status = str(raw.get("status", "triggered"))
    assignees = raw.get("assignees")
    if assignees is None:
        assignee_ids = state.first_level_user_ids(service["escalation_policy_id"])
    else:
        assignee_ids = [resolve(state.users, ref, "user")["id"] for ref in assignees]
    return {
        "incident_number": state.next_incident_number(),
        "title": str(raw.get("title", "Seeded incident")),
        "status": status,
        "urgency": str(raw.get("urgency", "high")),
        "incident_key": str(raw.get("incident_key") or state.ids.hex_key()),
        "service_id": service["id"],
        "created_at": created_at,
        "updated_at": str(raw.get("updated_at") or created_at),
        "resolved_at": str(raw.get("resolved_at") or created_at) if status == "resolved" else None,
        "assignee_ids": assignee_ids,
    }


def _change_event(state: State, raw: Record) -> Record:
    service = resolve(state.services, raw.get("service"), "service")
    integrations = state.integrations_of(service["id"])
    return {
        "id": str(raw.get("id") or state.ids.token("change-event", 26).upper()),
        "summary": str(raw.get("summary", "Seeded change")),
        "timestamp": str(raw.get("timestamp") or utc_now()),
        "source": str(raw.get("source", "seed")),
        "service_ids": [service["id"]],
        "integration_id": integrations[0]["id"] if integrations else None,
        "custom_details": dict(raw.get("custom_details", {})),
        "links": list(raw.get("links", [])),
    }


def _standard(raw: Record) -> Record:
    return {
        "id": str(raw["id"]),
        "name": str(raw["name"]),
        "type": str(raw["type"]),
        "description": str(raw.get("description", "")),
        "active": bool(raw.get("active", True)),
        "resource_type": "technical_service",
    }


def _dependency(state: State, raw: Record) -> Record:
    supporting = resolve(state.services, raw.get("supporting_service"), "service")
    dependent = resolve(state.services, raw.get("dependent_service"), "service")
    return {
        "id": state.ids.token("dependency", 16).upper(),
        "type": "service_dependency",
        "supporting_service": {"id": supporting["id"], "type": "technical_service_reference"},
        "dependent_service": {"id": dependent["id"], "type": "technical_service_reference"},
    }
