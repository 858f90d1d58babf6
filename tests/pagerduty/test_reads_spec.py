"""Simulator responses to on-call, incident and dependency reads, checked against the spec."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.pagerduty.test_simulator_spec import REST_SPEC, SpecDocument

from scaffolder.pagerduty.simulator import DEMO_SEED, Simulator

pytestmark = pytest.mark.skipif(
    not REST_SPEC.is_file(), reason=f"PagerDuty OpenAPI document not found at {REST_SPEC}"
)

SEED: dict[str, Any] = {
    **DEMO_SEED,
    "services": [
        {"name": "payments-api", "escalation_policy": "Demo Escalation Policy"},
        {"name": "ledger", "escalation_policy": "Demo Escalation Policy"},
    ],
    "incidents": [
        {"service": "payments-api", "title": "Card declines"},
        {"service": "payments-api", "title": "Slow", "assignees": ["Alan Turing"]},
        {"service": "payments-api", "title": "Gone", "status": "resolved"},
    ],
    "dependencies": [{"supporting_service": "ledger", "dependent_service": "payments-api"}],
}


@pytest.fixture(scope="module")
def rest_spec() -> SpecDocument:
    return SpecDocument(REST_SPEC, "urn:pagerduty:rest")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SEED) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def api(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Token token={sim.api_token}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5) as client:
        yield client


def service_id(sim: Simulator, name: str) -> str:
    found = sim.state.service_by_name(name)
    assert found is not None
    return str(found["id"])


@pytest.mark.parametrize("include", [[], ["assignees"]], ids=["references", "full-users"])
def test_incident_assignments_conform(
    rest_spec: SpecDocument, api: httpx.Client, include: list[str]
) -> None:
    params: dict[str, Any] = {"date_range": "all", "sort_by": "incident_number"}
    if include:
        params["include[]"] = include

    body = api.get("/incidents", params=params).json()

    assert rest_spec.errors(rest_spec.response_pointer("GET", "/incidents", 200), body) == []
    by_title = {incident["title"]: incident for incident in body["incidents"]}
    default = [a["assignee"]["summary"] for a in by_title["Card declines"]["assignments"]]
    assert sorted(default) == ["Ada Lovelace", "Grace Hopper"]
    assert [a["assignee"]["summary"] for a in by_title["Slow"]["assignments"]] == ["Alan Turing"]
    assert by_title["Gone"]["assignments"] == []
    full = "email" in by_title["Slow"]["assignments"][0]["assignee"]
    assert full == bool(include)


def test_triggered_incident_is_assigned(api: httpx.Client, sim: Simulator) -> None:
    service = service_id(sim, "ledger")
    integration = api.post(
        f"/services/{service}/integrations",
        json={"integration": {"type": "events_api_v2_inbound_integration", "name": "Events"}},
    ).json()["integration"]
    event = {
        "routing_key": integration["integration_key"],
        "event_action": "trigger",
        "payload": {"summary": "Ledger drift", "severity": "error", "source": "tests"},
    }

    assert httpx.post(f"{sim.events_url}/v2/enqueue", json=event).status_code == 202

    params = {"service_ids[]": service, "date_range": "all"}
    [incident] = api.get("/incidents", params=params).json()["incidents"]
    names = sorted(a["assignee"]["summary"] for a in incident["assignments"])
    assert names == ["Ada Lovelace", "Grace Hopper"]


def test_seeded_dependencies_conform(
    rest_spec: SpecDocument, api: httpx.Client, sim: Simulator
) -> None:
    template = "/service_dependencies/technical_services/{id}"

    body = api.get(template.format(id=service_id(sim, "payments-api"))).json()

    assert rest_spec.errors(rest_spec.response_pointer("GET", template, 200), body) == []
    [relationship] = body["relationships"]
    assert relationship["supporting_service"]["id"] == service_id(sim, "ledger")
    assert relationship["dependent_service"]["id"] == service_id(sim, "payments-api")
