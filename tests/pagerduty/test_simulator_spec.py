"""Conformance of the PagerDuty simulator to PagerDuty's official OpenAPI documents.

Request bodies the simulator accepts must validate against the operation's ``requestBody``
schema, and its responses against the operation's 2xx response schema. The documents are
OpenAPI 3.0, whose schema dialect is close to JSON Schema draft 4 (``$ref`` replaces its
siblings, ``exclusiveMinimum`` is a boolean) apart from ``nullable``, which
:func:`to_json_schema` turns into a ``"null"`` type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT4

from scaffolder.pagerduty.simulator import BACKSTAGE_VENDOR_ID, DEMO_SEED, ROUTE_KEYS, Simulator

REFERENCE_DIR = (
    Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pagerduty-api"
)
REST_SPEC = REFERENCE_DIR / "rest-api-v2.openapiv3.json"
EVENTS_SPEC = REFERENCE_DIR / "events-api-v2.openapiv3.json"

pytestmark = pytest.mark.skipif(
    not REST_SPEC.is_file() or not EVENTS_SPEC.is_file(),
    reason=f"PagerDuty OpenAPI documents not found in {REFERENCE_DIR}",
)

SERVICE_BODIES: list[dict[str, Any]] = [
    {"service": {"type": "service", "name": "plain", "escalation_policy": {}}},
    {
        "service": {
            "type": "service",
            "name": "described",
            "description": "Takes payments",
            "status": "active",
            "auto_resolve_timeout": 14400,
            "acknowledgement_timeout": 600,
            "escalation_policy": {},
        }
    },
    {
        "service": {
            "type": "service",
            "name": "grouped",
            "escalation_policy": {},
            "alert_grouping_parameters": {"type": "intelligent"},
        }
    },
    {
        "service": {
            "type": "service",
            "name": "ungrouped",
            "escalation_policy": {},
            "alert_grouping_parameters": {"type": None},
        }
    },
]

INTEGRATION_BODIES: list[dict[str, Any]] = [
    {
        "integration": {
            "type": "generic_events_api_inbound_integration",
            "name": "Backstage",
            "vendor": {"id": BACKSTAGE_VENDOR_ID, "type": "vendor_reference"},
        }
    },
    {"integration": {"type": "events_api_v2_inbound_integration", "name": "Events API v2"}},
    {
        "integration": {
            "type": "generic_email_inbound_integration",
            "name": "Email",
            "integration_email": "payments@demo.pagerduty.com",
        }
    },
]


def to_json_schema(node: Any) -> Any:
    """Return a copy of an OpenAPI 3.0 schema tree with ``nullable: true`` as a null type."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        if isinstance(converted.get("enum"), list) and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
    return converted


class SpecDocument:
    """One OpenAPI document, registered under ``uri`` so its ``$ref``s resolve."""

    def __init__(self, path: Path, uri: str) -> None:
        self.raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.uri = uri
        resource = DRAFT4.create_resource(to_json_schema(self.raw))
        self.registry: Registry[Any] = Registry().with_resource(uri, resource)

    def operation(self, method: str, path: str) -> dict[str, Any]:
        return self.raw["paths"][path][method.lower()]  # type: ignore[no-any-return]

    def _pointer(self, node: Any, pointer: str) -> str:
        if isinstance(node, dict) and "$ref" in node:
            return str(node["$ref"]).removeprefix("#")
        return pointer

    def request_pointer(self, method: str, path: str) -> str:
        base = f"/paths/{escape(path)}/{method.lower()}/requestBody"
        body = self.operation(method, path)["requestBody"]
        return self._pointer(body, base) + "/content/application~1json/schema"

    def response_pointer(self, method: str, path: str, status: int) -> str:
        base = f"/paths/{escape(path)}/{method.lower()}/responses/{status}"
        response = self.operation(method, path)["responses"][str(status)]
        return self._pointer(response, base) + "/content/application~1json/schema"

    def errors(self, pointer: str, instance: Any) -> list[str]:
        validator = jsonschema.Draft4Validator(
            {"$ref": f"{self.uri}#{pointer}"}, registry=self.registry
        )
        return [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(instance)
        ]


GROUPING_SCHEMA = "/components/schemas/AlertGroupingParameters"


def grouping_errors(spec: SpecDocument, pointer: str, body: dict[str, Any]) -> list[str]:
    """Return the errors of a body that wraps a service, checking its alert grouping apart.

    NOTE: the document declares ``alert_grouping_parameters`` as ``oneOf`` the parameters
    and an "Alert Grouping Settings Reference" without required properties. Every object
    matches both, so ``oneOf`` always fails, and the check uses the parameters' own schema.
    """
    service = dict(body["service"])
    grouping = service.pop("alert_grouping_parameters", None)
    errors = spec.errors(pointer, {**body, "service": service})
    if grouping is not None:
        errors += spec.errors(GROUPING_SCHEMA, grouping)
    return errors


def escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


@pytest.fixture(scope="module")
def rest_spec() -> SpecDocument:
    return SpecDocument(REST_SPEC, "urn:pagerduty:rest")


@pytest.fixture(scope="module")
def events_spec() -> SpecDocument:
    return SpecDocument(EVENTS_SPEC, "urn:pagerduty:events")


SEED: dict[str, Any] = {
    **DEMO_SEED,
    "services": [
        {
            "name": "payments-api",
            "description": "Takes payments",
            "escalation_policy": "Demo Escalation Policy",
            "integrations": [
                {
                    "type": "events_api_v2_inbound_integration",
                    "name": "Events",
                    "vendor": BACKSTAGE_VENDOR_ID,
                }
            ],
        },
        {"name": "ledger", "escalation_policy": "Demo Escalation Policy"},
    ],
    "incidents": [
        {"service": "payments-api", "title": "Card declines"},
        {"service": "ledger", "title": "Drift", "status": "resolved"},
    ],
    "change_events": [{"service": "payments-api", "summary": "Deploy 41", "links": []}],
}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SEED) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def api(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Token token={sim.api_token}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5) as client:
        yield client


def ids(sim: Simulator) -> dict[str, str]:
    payments = sim.state.service_by_name("payments-api")
    ledger = sim.state.service_by_name("ledger")
    assert payments is not None
    assert ledger is not None
    integration = sim.state.integrations_of(payments["id"])[0]
    return {
        "service": payments["id"],
        "ledger": ledger["id"],
        "integration": integration["id"],
        "policy": sim.demo_escalation_policy_id,
        "user": next(iter(sim.state.users)),
    }


def with_policy(body: dict[str, Any], sim: Simulator) -> dict[str, Any]:
    policy = {"id": sim.demo_escalation_policy_id, "type": "escalation_policy_reference"}
    return {"service": {**body["service"], "escalation_policy": policy}}


def test_route_keys_exist_in_spec(rest_spec: SpecDocument, events_spec: SpecDocument) -> None:
    for key in ROUTE_KEYS:
        method, path = key.split(" ", 1)
        if path.startswith("/events/v2/"):
            events_spec.operation(method, path.removeprefix("/events/v2"))
        elif path != "/oauth/token":
            rest_spec.operation(method, path)


def test_route_scopes_match_spec(rest_spec: SpecDocument) -> None:
    from scaffolder.pagerduty.simulator.core import ROUTES

    for route in ROUTES:
        if route.scope is None:
            continue
        expected = rest_spec.operation(route.method, route.template)["x-pd-requires-scope"]
        assert route.scope == expected, route.key


@pytest.mark.parametrize("body", SERVICE_BODIES, ids=lambda b: b["service"]["name"])
def test_service_request_body_conforms(
    rest_spec: SpecDocument, api: httpx.Client, sim: Simulator, body: dict[str, Any]
) -> None:
    body = with_policy(body, sim)
    pointer = rest_spec.request_pointer("POST", "/services")
    assert grouping_errors(rest_spec, pointer, body) == []
    created = api.post("/services", json=body)
    assert created.status_code == 201, created.text
    schema = rest_spec.response_pointer("POST", "/services", 201)
    assert grouping_errors(rest_spec, schema, created.json()) == []
    api.delete(f"/services/{created.json()['service']['id']}")


@pytest.mark.parametrize("body", INTEGRATION_BODIES, ids=lambda b: b["integration"]["name"])
def test_integration_request_body_conforms(
    rest_spec: SpecDocument, api: httpx.Client, sim: Simulator, body: dict[str, Any]
) -> None:
    template = "/services/{id}/integrations"
    assert rest_spec.errors(rest_spec.request_pointer("POST", template), body) == []
    created = api.post(f"/services/{ids(sim)['ledger']}/integrations", json=body)
    assert created.status_code == 201, created.text
    schema = rest_spec.response_pointer("POST", template, 201)
    assert rest_spec.errors(schema, created.json()) == []


def test_service_update_body_conforms(
    rest_spec: SpecDocument, api: httpx.Client, sim: Simulator
) -> None:
    body = {
        "service": {"type": "service", "description": "Keeps the books", "escalation_policy": {}}
    }
    body = with_policy({"service": {**body["service"], "name": "ledger"}}, sim)
    assert rest_spec.errors(rest_spec.request_pointer("PUT", "/services/{id}"), body) == []
    updated = api.put(f"/services/{ids(sim)['ledger']}", json=body)
    assert updated.status_code == 200, updated.text
    schema = rest_spec.response_pointer("PUT", "/services/{id}", 200)
    assert rest_spec.errors(schema, updated.json()) == []


GET_OPERATIONS = [
    ("/abilities", "/abilities", {}),
    ("/vendors", "/vendors", {"query": "a"}),
    ("/escalation_policies", "/escalation_policies", {}),
    ("/escalation_policies/{id}", "/escalation_policies/{policy}", {}),
    ("/services", "/services", {"total": "true"}),
    ("/services/{id}", "/services/{service}", {}),
    (
        "/services/{id}/integrations/{integration_id}",
        "/services/{service}/integrations/{integration}",
        {},
    ),
    ("/users/{id}", "/users/{user}", {}),
    ("/incidents", "/incidents", {"date_range": "all"}),
    ("/services/{id}/change_events", "/services/{service}/change_events", {}),
    ("/change_events", "/change_events", {}),
    (
        "/service_dependencies/technical_services/{id}",
        "/service_dependencies/technical_services/{service}",
        {},
    ),
    ("/standards", "/standards", {}),
    (
        "/standards/scores/{resource_type}/{id}",
        "/standards/scores/technical_services/{service}",
        {},
    ),
]


@pytest.mark.parametrize(
    ("template", "url", "params"), GET_OPERATIONS, ids=[o[0] for o in GET_OPERATIONS]
)
def test_get_response_conforms(
    rest_spec: SpecDocument,
    api: httpx.Client,
    sim: Simulator,
    template: str,
    url: str,
    params: dict[str, str],
) -> None:
    response = api.get(url.format(**ids(sim)), params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert rest_spec.errors(rest_spec.response_pointer("GET", template, 200), body) == []


def test_oncalls_response_conforms(rest_spec: SpecDocument, api: httpx.Client) -> None:
    body = api.get("/oncalls").json()
    assert any(oncall["schedule"] is None for oncall in body["oncalls"])
    # NOTE: PagerDuty sends "schedule": null for an on-call that comes from a user target.
    # The document's Oncall.schedule is not nullable, so the check leaves those nulls out.
    for oncall in body["oncalls"]:
        if oncall["schedule"] is None:
            del oncall["schedule"]
    assert rest_spec.errors(rest_spec.response_pointer("GET", "/oncalls", 200), body) == []


def test_vendor_response_conforms_except_known_gap(
    rest_spec: SpecDocument, api: httpx.Client
) -> None:
    body = api.get(f"/vendors/{BACKSTAGE_VENDOR_ID}").json()
    pointer = rest_spec.response_pointer("GET", "/vendors/{id}", 200)
    # The document declares "vendor" as an array of Vendor; the live API sends one object.
    assert rest_spec.errors(pointer + "/properties/vendor/items", body["vendor"]) == []
    assert rest_spec.errors(pointer, {"vendor": [body["vendor"]]}) == []


def test_dependency_associate_conforms(
    rest_spec: SpecDocument, api: httpx.Client, sim: Simulator
) -> None:
    known = ids(sim)
    body = {
        "relationships": [
            {
                "supporting_service": {"id": known["ledger"], "type": "service"},
                "dependent_service": {"id": known["service"], "type": "service"},
            }
        ]
    }
    for template in ("/service_dependencies/associate", "/service_dependencies/disassociate"):
        assert rest_spec.errors(rest_spec.request_pointer("POST", template), body) == []
        response = api.post(template, json=body)
        assert response.status_code == 200, response.text
        schema = rest_spec.response_pointer("POST", template, 200)
        assert rest_spec.errors(schema, response.json()) == []


def test_analytics_response_conforms(
    rest_spec: SpecDocument, api: httpx.Client, sim: Simulator
) -> None:
    template = "/analytics/metrics/incidents/services"
    body = {"filters": {"service_ids": [ids(sim)["service"]]}, "aggregate_unit": "day"}
    assert rest_spec.errors(rest_spec.request_pointer("POST", template), body) == []
    response = api.post(template, json=body)
    assert response.status_code == 200, response.text
    assert (
        rest_spec.errors(rest_spec.response_pointer("POST", template, 200), response.json()) == []
    )


def test_error_bodies_conform(rest_spec: SpecDocument, api: httpx.Client, sim: Simulator) -> None:
    not_found = api.get("/escalation_policies/PNOPE00")
    duplicate = api.post("/services", json=with_policy({"service": {"name": "ledger"}}, sim))
    unauthorized = httpx.get(f"{sim.url}/services")
    cases = [
        ("GET", "/escalation_policies/{id}", not_found),
        ("POST", "/services", duplicate),
        ("GET", "/services", unauthorized),
    ]
    for method, template, response in cases:
        pointer = rest_spec.response_pointer(method, template, response.status_code)
        assert rest_spec.errors(pointer, response.json()) == [], template


def test_events_enqueue_conforms(events_spec: SpecDocument, sim: Simulator) -> None:
    integration = sim.state.integrations[ids(sim)["integration"]]
    event = {
        "routing_key": integration["integration_key"],
        "event_action": "trigger",
        "dedup_key": "srv01/disk",
        "client": "tests",
        "payload": {"summary": "Disk full", "source": "srv01", "severity": "critical"},
        "links": [{"href": "https://example.com/runbook", "text": "Runbook"}],
    }
    assert events_spec.errors(events_spec.request_pointer("POST", "/enqueue"), event) == []
    answer = httpx.post(f"{sim.events_url}/v2/enqueue", json=event)
    assert answer.status_code == 202
    schema = events_spec.response_pointer("POST", "/enqueue", 202)
    assert events_spec.errors(schema, answer.json()) == []


def test_events_change_enqueue_conforms(events_spec: SpecDocument, sim: Simulator) -> None:
    integration = sim.state.integrations[ids(sim)["integration"]]
    event = {
        "routing_key": integration["integration_key"],
        "payload": {"summary": "Deploy 42", "source": "ci", "custom_details": {"build": "42"}},
    }
    pointer = events_spec.request_pointer("POST", "/change/enqueue")
    assert events_spec.errors(pointer, event) == []
    answer = httpx.post(f"{sim.events_url}/v2/change/enqueue", json=event)
    assert answer.status_code == 202
    schema = events_spec.response_pointer("POST", "/change/enqueue", 202)
    assert events_spec.errors(schema, answer.json()) == []


def test_events_error_body_conforms(events_spec: SpecDocument, sim: Simulator) -> None:
    answer = httpx.post(f"{sim.events_url}/v2/enqueue", json={"event_action": "trigger"})
    assert answer.status_code == 400
    error_schema = "/components/responses/Error/content/application~1json/schema"
    assert events_spec.errors(error_schema, answer.json()) == []


def test_spec_check_rejects_wrong_shapes(rest_spec: SpecDocument) -> None:
    service = rest_spec.response_pointer("GET", "/services/{id}", 200)
    assert rest_spec.errors(service, {"service": {"type": "service", "status": "sleepy"}})
    assert rest_spec.errors(service, {})
    oncalls = rest_spec.response_pointer("GET", "/oncalls", 200)
    wrong_user = {"oncalls": [{"user": {"id": "P1", "type": "team_reference"}}]}
    assert rest_spec.errors(oncalls, wrong_user)
    page = rest_spec.response_pointer("GET", "/services", 200)
    assert rest_spec.errors(page, {"services": [], "more": "yes"})
    assert rest_spec.errors(page, {"services": [], "total": None}) == []
