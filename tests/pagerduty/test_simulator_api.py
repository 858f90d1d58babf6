"""The PagerDuty simulator's REST and Events API routes, driven over real HTTP with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scaffolder.errors import InputError
from scaffolder.pagerduty.simulator import BACKSTAGE_VENDOR_ID, DEMO_SEED, Simulator

BIG_SEED: dict[str, Any] = {
    "account": {"subdomain": "bigco", "region": "eu"},
    "users": [{"name": f"User {n:02d}", "email": f"user{n:02d}@example.com"} for n in range(60)],
    "escalation_policies": [
        {
            "name": "Platform",
            "escalation_rules": [
                {"targets": [f"User {n:02d}" for n in range(0, 30)]},
                {"targets": [f"User {n:02d}" for n in range(30, 60)]},
            ],
        },
        {"name": "Payments", "escalation_rules": [{"targets": ["User 00"]}]},
    ],
    "services": [
        {
            "name": "payments-api",
            "description": "Takes payments",
            "escalation_policy": "Payments",
            "integrations": [
                {
                    "type": "events_api_v2_inbound_integration",
                    "name": "Events",
                    "integration_key": "0123456789abcdef0123456789abcdef",
                }
            ],
        },
        {"name": "ledger", "escalation_policy": "Platform"},
    ],
    "incidents": [
        {"service": "payments-api", "title": "Card declines", "status": "triggered"},
        {"service": "payments-api", "title": "Slow refunds", "status": "resolved"},
        {"service": "ledger", "title": "Drift", "status": "acknowledged"},
    ],
    "change_events": [
        {"service": "payments-api", "summary": "Deploy 41", "timestamp": "2024-05-01T10:00:00Z"},
        {"service": "payments-api", "summary": "Deploy 42", "timestamp": "2024-05-02T10:00:00Z"},
    ],
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def big() -> Iterator[Simulator]:
    with Simulator(BIG_SEED) as simulator:
        yield simulator


def client_for(simulator: Simulator) -> httpx.Client:
    return httpx.Client(
        base_url=simulator.url,
        headers={
            "Authorization": f"Token token={simulator.api_token}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        },
        timeout=5,
    )


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    with client_for(sim) as client:
        yield client


@pytest.fixture
def big_api(big: Simulator) -> Iterator[httpx.Client]:
    with client_for(big) as client:
        yield client


def service_body(sim: Simulator, name: str = "checkout", **extra: Any) -> dict[str, Any]:
    policy = {"id": sim.demo_escalation_policy_id, "type": "escalation_policy_reference"}
    return {"service": {"type": "service", "name": name, "escalation_policy": policy, **extra}}


def create_service(api: httpx.Client, sim: Simulator, name: str = "checkout") -> dict[str, Any]:
    response = api.post("/services", json=service_body(sim, name))
    assert response.status_code == 201, response.text
    return response.json()["service"]  # type: ignore[no-any-return]


def backstage_integration(api: httpx.Client, service_id: str) -> dict[str, Any]:
    body = {
        "integration": {
            "type": "generic_events_api_inbound_integration",
            "name": "Backstage",
            "vendor": {"id": BACKSTAGE_VENDOR_ID, "type": "vendor_reference"},
        }
    }
    response = api.post(f"/services/{service_id}/integrations", json=body)
    assert response.status_code == 201, response.text
    return response.json()["integration"]  # type: ignore[no-any-return]


def test_simulator_urls_and_credentials(sim: Simulator) -> None:
    assert sim.url.startswith("http://127.0.0.1:")
    assert sim.events_url == f"{sim.url}/events"
    assert sim.token_url == f"{sim.url}/oauth/token"
    assert sim.subdomain == "demo"
    assert sim.region == "us"
    assert sim.api_token
    assert sim.client_id
    assert sim.client_secret


def test_simulator_fixed_port_and_stop() -> None:
    with Simulator() as first:
        port = first.port
    with Simulator(port=port) as second:
        assert second.url == f"http://127.0.0.1:{port}"
    with pytest.raises(InputError, match="not running"):
        _ = second.url


def test_simulator_port_in_use_fails() -> None:
    with Simulator() as first, pytest.raises(InputError, match="cannot listen"):
        Simulator(port=first.port).start()


def test_ids_deterministic_per_seed_and_subdomain() -> None:
    first = Simulator()
    again = Simulator()
    other = Simulator(subdomain="acme-eu", region="eu")
    assert first.demo_escalation_policy_id == again.demo_escalation_policy_id
    assert sorted(first.state.users) == sorted(again.state.users)
    assert first.api_token == again.api_token
    assert other.demo_escalation_policy_id != first.demo_escalation_policy_id
    assert other.api_token != first.api_token
    for object_id in [first.demo_escalation_policy_id, *first.state.users]:
        assert len(object_id) == 7
        assert object_id.startswith("P")
        assert object_id.isalnum()
        assert object_id.upper() == object_id


def test_abilities_list_and_check(api: httpx.Client) -> None:
    abilities = api.get("/abilities").json()["abilities"]
    assert "preview_intelligent_alert_grouping" in abilities
    assert "time_based_alert_grouping" in abilities
    assert api.get("/abilities/time_based_alert_grouping").status_code == 204
    missing = api.get("/abilities/no_such_ability")
    assert missing.status_code == 402
    assert "no_such_ability" in missing.json()["error"]["errors"][0]


def test_vendors_query_and_get(api: httpx.Client) -> None:
    found = api.get("/vendors", params={"query": "backst"}).json()["vendors"]
    assert [v["id"] for v in found] == [BACKSTAGE_VENDOR_ID]
    assert len(api.get("/vendors").json()["vendors"]) >= 3
    vendor = api.get(f"/vendors/{BACKSTAGE_VENDOR_ID}").json()["vendor"]
    assert vendor["name"] == "Backstage"
    assert vendor["type"] == "vendor"
    assert api.get("/vendors/PNOPE00").status_code == 404


def test_escalation_policies_query_and_get(api: httpx.Client, sim: Simulator) -> None:
    listed = api.get("/escalation_policies", params={"query": "demo"}).json()
    assert [p["id"] for p in listed["escalation_policies"]] == [sim.demo_escalation_policy_id]
    assert api.get("/escalation_policies", params={"query": "zzz"}).json() == {
        "escalation_policies": [],
        "limit": 25,
        "offset": 0,
        "more": False,
        "total": None,
    }
    policy = api.get(f"/escalation_policies/{sim.demo_escalation_policy_id}").json()
    rules = policy["escalation_policy"]["escalation_rules"]
    assert [len(rule["targets"]) for rule in rules] == [2, 1]
    assert rules[0]["targets"][0]["type"] == "schedule_reference"


def test_escalation_policy_unknown_404(api: httpx.Client) -> None:
    response = api.get("/escalation_policies/PNOPE00")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Not Found"
    assert response.json()["error"]["code"] == 2100


def test_oncalls_demo_levels_and_users(api: httpx.Client, sim: Simulator) -> None:
    params = {"escalation_policy_ids[]": sim.demo_escalation_policy_id, "include[]": "users"}
    oncalls = api.get("/oncalls", params=params).json()["oncalls"]
    assert sorted((o["escalation_level"], o["user"]["name"]) for o in oncalls) == [
        (1, "Ada Lovelace"),
        (1, "Grace Hopper"),
        (2, "Alan Turing"),
    ]
    user = oncalls[0]["user"]
    assert user["type"] == "user"
    assert user["email"].endswith("@example.com")
    assert user["avatar_url"].startswith("https://")
    assert user["html_url"].startswith("https://demo.pagerduty.com/users/")
    assert {o["start"] < o["end"] for o in oncalls} == {True}
    by_schedule = [o for o in oncalls if o["schedule"]]
    assert [o["schedule"]["summary"] for o in by_schedule] == ["Demo Primary Rotation"]


def test_oncalls_references_without_include(api: httpx.Client) -> None:
    oncall = api.get("/oncalls").json()["oncalls"][0]
    assert oncall["user"]["type"] == "user_reference"
    assert oncall["user"]["summary"]
    assert "email" not in oncall["user"]


def test_oncalls_pagination_more(big_api: httpx.Client) -> None:
    seen: list[str] = []
    offset = 0
    pages = 0
    while True:
        params = httpx.QueryParams({"limit": 25, "offset": offset, "total": "true"})
        page = big_api.get("/oncalls", params=params).json()
        pages += 1
        seen.extend(oncall["user"]["id"] for oncall in page["oncalls"])
        assert page["total"] == 61
        if not page["more"]:
            break
        offset += page["limit"]
    assert pages == 3
    assert len(seen) == 61


def test_pagination_limit_capped_at_100(big_api: httpx.Client) -> None:
    page = big_api.get("/oncalls", params={"limit": 500}).json()
    assert page["limit"] == 100
    assert len(page["oncalls"]) == 61
    assert page["more"] is False


def test_pagination_invalid_limit_400(big_api: httpx.Client) -> None:
    assert big_api.get("/oncalls", params={"limit": "x"}).status_code == 400
    assert big_api.get("/oncalls", params={"offset": -1}).status_code == 400


def test_oncalls_filter_earliest(big_api: httpx.Client, big: Simulator) -> None:
    user_id = next(u["id"] for u in big.state.users.values() if u["name"] == "User 00")
    params = {"user_ids[]": user_id, "earliest": "true"}
    oncalls = big_api.get("/oncalls", params=params).json()["oncalls"]
    assert sorted(o["escalation_policy"]["summary"] for o in oncalls) == ["Payments", "Platform"]


def test_user_get_and_404(api: httpx.Client, sim: Simulator) -> None:
    user_id = next(iter(sim.state.users))
    user = api.get(f"/users/{user_id}").json()["user"]
    assert user["id"] == user_id
    assert user["name"] == "Ada Lovelace"
    assert api.get("/users/PNOPE00").status_code == 404


def test_service_create_shape(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    assert service["type"] == "service"
    assert service["name"] == "checkout"
    assert service["summary"] == "checkout"
    assert service["status"] == "active"
    assert service["html_url"] == f"https://demo.pagerduty.com/service-directory/{service['id']}"
    assert service["self"] == f"{sim.url}/services/{service['id']}"
    assert service["escalation_policy"]["id"] == sim.demo_escalation_policy_id
    assert service["escalation_policy"]["type"] == "escalation_policy_reference"
    assert service["integrations"] == []
    assert service["created_at"].endswith("Z")
    assert service["id"] in sim.state.services


def test_service_duplicate_name_400(api: httpx.Client, sim: Simulator) -> None:
    create_service(api, sim, "checkout")
    response = api.post("/services", json=service_body(sim, "Checkout"))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Invalid Input Provided",
            "code": 2001,
            "errors": ["Name has already been taken"],
        }
    }


@pytest.mark.parametrize(
    ("service", "error"),
    [
        ({"escalation_policy": {"id": "X", "type": "escalation_policy_reference"}}, "Name"),
        ({"name": "  "}, "Name can't be blank"),
        ({"name": "a"}, "Escalation policy can't be blank"),
        ({"name": "a", "status": "sleepy", "escalation_policy": {"id": "x"}}, "Status"),
        ({"name": "a", "auto_resolve_timeout": -5, "escalation_policy": {"id": "x"}}, "auto_"),
    ],
)
def test_service_create_invalid_400(api: httpx.Client, service: dict[str, Any], error: str) -> None:
    response = api.post("/services", json={"service": service})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2001
    assert any(error in message for message in response.json()["error"]["errors"])


def test_service_create_unknown_policy_400(api: httpx.Client) -> None:
    body = {"service": {"name": "a", "escalation_policy": {"id": "PNOPE00"}}}
    response = api.post("/services", json=body)
    assert response.status_code == 400
    assert "PNOPE00" in response.json()["error"]["errors"][0]


def test_service_create_without_wrapper_400(api: httpx.Client) -> None:
    assert api.post("/services", json={"name": "a"}).status_code == 400
    assert api.post("/services", content=b"{not json").status_code == 400


@pytest.mark.parametrize(
    ("grouping", "ability"),
    [
        ("intelligent", "preview_intelligent_alert_grouping"),
        ("time", "time_based_alert_grouping"),
        ("content_based", "content_based_alert_grouping"),
    ],
)
def test_service_grouping_without_ability_402(grouping: str, ability: str) -> None:
    with Simulator({**DEMO_SEED, "abilities": ["teams"]}) as sim, client_for(sim) as api:
        body = service_body(sim, alert_grouping_parameters={"type": grouping})
        response = api.post("/services", json=body)
        assert response.status_code == 402
        assert ability in response.json()["error"]["message"]
        assert sim.state.services == {}


def test_service_grouping_with_ability_stored(api: httpx.Client, sim: Simulator) -> None:
    grouping = {"type": "time", "config": {"timeout": 5}}
    body = service_body(sim, alert_grouping_parameters=grouping)
    service = api.post("/services", json=body).json()["service"]
    assert service["alert_grouping_parameters"] == grouping


def test_services_filter_query_and_name(api: httpx.Client, sim: Simulator) -> None:
    for name in ("checkout", "checkout-worker", "search"):
        create_service(api, sim, name)
    by_query = api.get("/services", params={"query": "CHECK"}).json()["services"]
    assert [s["name"] for s in by_query] == ["checkout", "checkout-worker"]
    by_name = api.get("/services", params={"name": "checkout"}).json()["services"]
    assert [s["name"] for s in by_name] == ["checkout"]


def test_services_include_integrations_and_policy(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    integration = backstage_integration(api, service["id"])
    params = httpx.QueryParams(
        [("include[]", "integrations"), ("include[]", "escalation_policies")]
    )
    listed = api.get("/services", params=params).json()["services"][0]
    assert listed["integrations"][0]["integration_key"] == integration["integration_key"]
    assert listed["escalation_policy"]["type"] == "escalation_policy"
    plain = api.get(f"/services/{service['id']}").json()["service"]
    reference = plain["integrations"][0]
    assert reference["type"] == "generic_events_api_inbound_integration_reference"
    assert "integration_key" not in reference


def test_service_get_update_delete(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    path = f"/services/{service['id']}"
    assert api.get(path).json()["service"]["id"] == service["id"]
    updated = api.put(path, json={"service": {"description": "Takes orders"}})
    assert updated.status_code == 200
    assert updated.json()["service"]["description"] == "Takes orders"
    assert updated.json()["service"]["name"] == "checkout"
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404
    assert api.put(path, json={"service": {"name": "x"}}).status_code == 404


def test_service_update_duplicate_name_400(api: httpx.Client, sim: Simulator) -> None:
    create_service(api, sim, "one")
    two = create_service(api, sim, "two")
    response = api.put(f"/services/{two['id']}", json={"service": {"name": "one"}})
    assert response.status_code == 400
    assert response.json()["error"]["errors"] == ["Name has already been taken"]
    renamed = api.put(f"/services/{two['id']}", json={"service": {"name": "two"}})
    assert renamed.status_code == 200


def test_integration_create_and_get(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    integration = backstage_integration(api, service["id"])
    key = integration["integration_key"]
    assert len(key) == 32
    assert int(key, 16) >= 0
    assert integration["vendor"]["id"] == BACKSTAGE_VENDOR_ID
    assert integration["service"]["id"] == service["id"]
    path = f"/services/{service['id']}/integrations/{integration['id']}"
    fetched = api.get(path).json()["integration"]
    assert fetched == integration
    other = create_service(api, sim, "other")
    wrong_service = f"/services/{other['id']}/integrations/{integration['id']}"
    assert api.get(wrong_service).status_code == 404


def test_integration_email_has_no_key(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    body = {
        "integration": {
            "type": "generic_email_inbound_integration",
            "name": "Email",
            "integration_email": "checkout@demo.pagerduty.com",
        }
    }
    integration = api.post(f"/services/{service['id']}/integrations", json=body).json()
    assert "integration_key" not in integration["integration"]
    assert integration["integration"]["integration_email"] == "checkout@demo.pagerduty.com"


@pytest.mark.parametrize(
    "integration",
    [
        {"name": "Backstage"},
        {"type": "bogus_integration", "name": "x"},
        {"type": "events_api_v2_inbound_integration", "name": ""},
        {
            "type": "events_api_v2_inbound_integration",
            "name": "x",
            "vendor": {"id": "PNOPE00", "type": "vendor_reference"},
        },
    ],
)
def test_integration_create_invalid_400(
    api: httpx.Client, sim: Simulator, integration: dict[str, Any]
) -> None:
    service = create_service(api, sim)
    path = f"/services/{service['id']}/integrations"
    response = api.post(path, json={"integration": integration})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2001


def test_integration_unknown_service_404(api: httpx.Client) -> None:
    body = {"integration": {"type": "events_api_v2_inbound_integration", "name": "x"}}
    assert api.post("/services/PNOPE00/integrations", json=body).status_code == 404


def test_events_trigger_ack_resolve(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    key = backstage_integration(api, service["id"])["integration_key"]
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "disk/1",
        "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"},
    }
    enqueue = f"{sim.events_url}/v2/enqueue"
    answer = httpx.post(enqueue, json=event)
    assert answer.status_code == 202
    assert answer.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk/1",
    }
    assert httpx.post(enqueue, json=event).status_code == 202
    incidents = api.get("/incidents", params={"service_ids[]": service["id"]}).json()["incidents"]
    assert [(i["title"], i["status"]) for i in incidents] == [("Disk full", "triggered")]
    assert api.get(f"/services/{service['id']}").json()["service"]["status"] == "critical"
    httpx.post(
        enqueue, json={"routing_key": key, "event_action": "acknowledge", "dedup_key": "disk/1"}
    )
    assert api.get(f"/services/{service['id']}").json()["service"]["status"] == "warning"
    httpx.post(enqueue, json={"routing_key": key, "event_action": "resolve", "dedup_key": "disk/1"})
    resolved = api.get("/incidents", params={"statuses[]": "resolved"}).json()["incidents"]
    assert [i["incident_key"] for i in resolved] == ["disk/1"]
    assert resolved[0]["resolved_at"]


def test_events_trigger_generates_dedup_key(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    key = backstage_integration(api, service["id"])["integration_key"]
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "h", "severity": "info"},
    }
    answer = httpx.post(f"{sim.events_url}/v2/enqueue", json=event).json()
    assert len(answer["dedup_key"]) == 32


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"event_action": "trigger"}, "routing_key"),
        ({"routing_key": "f" * 32, "event_action": "trigger"}, "Invalid routing key"),
        ({"routing_key": "KEY", "event_action": "explode"}, "event_action"),
        ({"routing_key": "KEY", "event_action": "trigger", "payload": {}}, "payload.summary"),
        ({"routing_key": "KEY", "event_action": "resolve"}, "dedup_key"),
    ],
)
def test_events_invalid_400(
    api: httpx.Client, sim: Simulator, event: dict[str, Any], error: str
) -> None:
    service = create_service(api, sim)
    key = backstage_integration(api, service["id"])["integration_key"]
    if event.get("routing_key") == "KEY":
        event = {**event, "routing_key": key}
    answer = httpx.post(f"{sim.events_url}/v2/enqueue", json=event)
    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"
    assert answer.json()["message"]
    assert any(error in message for message in answer.json()["errors"])


def test_events_body_not_json_400(sim: Simulator) -> None:
    answer = httpx.post(f"{sim.events_url}/v2/enqueue", content=b"nope")
    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"


def test_change_event_enqueue_and_list(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    key = backstage_integration(api, service["id"])["integration_key"]
    event = {"routing_key": key, "payload": {"summary": "Deploy 7", "source": "ci"}}
    answer = httpx.post(f"{sim.events_url}/v2/change/enqueue", json=event)
    assert answer.status_code == 202
    assert answer.json()["status"] == "success"
    listed = api.get(f"/services/{service['id']}/change_events").json()["change_events"]
    assert [e["summary"] for e in listed] == ["Deploy 7"]
    assert listed[0]["services"] == [{"id": service["id"], "type": "service_reference"}]
    assert [e["summary"] for e in api.get("/change_events").json()["change_events"]] == ["Deploy 7"]
    bad = httpx.post(f"{sim.events_url}/v2/change/enqueue", json={"routing_key": key})
    assert bad.status_code == 400


def test_seeded_incidents_filters_and_sort(big_api: httpx.Client, big: Simulator) -> None:
    payments = big.state.service_by_name("payments-api")
    assert payments is not None
    params: dict[str, Any] = {"service_ids[]": payments["id"], "sort_by": "incident_number:desc"}
    incidents = big_api.get("/incidents", params=params).json()["incidents"]
    assert [i["title"] for i in incidents] == ["Slow refunds", "Card declines"]
    open_only = {"statuses[]": ["triggered", "acknowledged"], "date_range": "all"}
    listed = big_api.get("/incidents", params=open_only).json()["incidents"]
    assert sorted(i["title"] for i in listed) == ["Card declines", "Drift"]
    assert big_api.get("/incidents", params={"sort_by": "color"}).status_code == 400


def test_seeded_change_events_newest_first(big_api: httpx.Client, big: Simulator) -> None:
    payments = big.state.service_by_name("payments-api")
    assert payments is not None
    listed = big_api.get(f"/services/{payments['id']}/change_events").json()["change_events"]
    assert [e["summary"] for e in listed] == ["Deploy 42", "Deploy 41"]
    since = {"since": "2024-05-02T00:00:00Z"}
    assert len(big_api.get("/change_events", params=since).json()["change_events"]) == 1
    assert big_api.get("/services/PNOPE00/change_events").status_code == 404


def test_seeded_integration_key_routes_events(big: Simulator) -> None:
    event = {
        "routing_key": "0123456789abcdef0123456789abcdef",
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "h", "severity": "warning"},
    }
    assert httpx.post(f"{big.events_url}/v2/enqueue", json=event).status_code == 202


def test_service_dependencies_cycle(api: httpx.Client, sim: Simulator) -> None:
    web = create_service(api, sim, "web")
    db = create_service(api, sim, "db")
    pair = {
        "supporting_service": {"id": db["id"], "type": "service"},
        "dependent_service": {"id": web["id"], "type": "service"},
    }
    created = api.post("/service_dependencies/associate", json={"relationships": [pair]})
    assert created.status_code == 200
    relationship = created.json()["relationships"][0]
    assert relationship["type"] == "service_dependency"
    assert relationship["supporting_service"] == {
        "id": db["id"],
        "type": "technical_service_reference",
    }
    again = api.post("/service_dependencies/associate", json={"relationships": [pair]})
    assert again.json()["relationships"][0]["id"] == relationship["id"]
    path = f"/service_dependencies/technical_services/{web['id']}"
    assert [r["id"] for r in api.get(path).json()["relationships"]] == [relationship["id"]]
    removed = api.post("/service_dependencies/disassociate", json={"relationships": [pair]})
    assert removed.status_code == 200
    assert api.get(path).json()["relationships"] == []
    removed_again = api.post("/service_dependencies/disassociate", json={"relationships": [pair]})
    assert removed_again.status_code == 404


def test_service_dependencies_unknown_service_404(api: httpx.Client, sim: Simulator) -> None:
    web = create_service(api, sim, "web")
    pair = {
        "supporting_service": {"id": "PNOPE00", "type": "service"},
        "dependent_service": {"id": web["id"], "type": "service"},
    }
    response = api.post("/service_dependencies/associate", json={"relationships": [pair]})
    assert response.status_code == 404
    assert api.post("/service_dependencies/associate", json={}).status_code == 400
    assert api.get("/service_dependencies/technical_services/PNOPE00").status_code == 404


def test_standards_and_scores(api: httpx.Client, sim: Simulator) -> None:
    standards = api.get("/standards").json()["standards"]
    assert len(standards) == 3
    service = create_service(api, sim)
    scores = api.get(f"/standards/scores/technical_services/{service['id']}").json()
    assert scores["resource_id"] == service["id"]
    assert scores["score"] == {"passing": 1, "total": 3}
    backstage_integration(api, service["id"])
    api.put(f"/services/{service['id']}", json={"service": {"description": "d"}})
    rescored = api.get(f"/standards/scores/technical_services/{service['id']}").json()
    assert rescored["score"] == {"passing": 3, "total": 3}
    assert api.get("/standards/scores/technical_services/PNOPE00").status_code == 404


def test_analytics_service_metrics(big_api: httpx.Client, big: Simulator) -> None:
    payments = big.state.service_by_name("payments-api")
    assert payments is not None
    body = {"filters": {"service_ids": [payments["id"]]}, "aggregate_unit": "day"}
    response = big_api.post("/analytics/metrics/incidents/services", json=body)
    assert response.status_code == 200
    data = response.json()["data"]
    assert [(d["service_name"], d["total_incident_count"]) for d in data] == [("payments-api", 2)]


def test_unknown_route_404(api: httpx.Client, sim: Simulator) -> None:
    response = api.get("/teams")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 2100
    assert sim.counts["GET /teams"] == 1


def test_seed_file_yaml(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "account: {subdomain: acme, region: eu, api_token: tok-123}\n"
        "users: [{name: Ann, email: ann@example.com}]\n"
        "escalation_policies:\n"
        "  - {id: PEP0001, name: Ops, escalation_rules: [{targets: [ann@example.com]}]}\n"
        "services: [{name: api, escalation_policy: PEP0001}]\n",
        encoding="utf-8",
    )
    with Simulator(seed) as sim, client_for(sim) as api:
        assert sim.api_token == "tok-123"
        assert sim.region == "eu"
        assert sim.demo_escalation_policy_id == "PEP0001"
        services = api.get("/services").json()["services"]
        assert [s["html_url"].split("/")[2] for s in services] == ["acme.pagerduty.com"]


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"servces": []}, "unknown seed keys"),
        ({"services": [{"name": "a", "escalation_policy": "nope"}]}, "escalation policy 'nope'"),
        ({"account": {"region": "ap"}}, "region 'ap'"),
    ],
)
def test_seed_invalid_raises(seed: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        Simulator(seed)


def test_seed_file_invalid_raises(tmp_path: Path) -> None:
    broken = tmp_path / "seed.yaml"
    broken.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match="mapping"):
        Simulator(broken)
    with pytest.raises(InputError, match="cannot read"):
        Simulator(tmp_path / "missing.yaml")


def test_state_reflects_requests(api: httpx.Client, sim: Simulator) -> None:
    service = create_service(api, sim)
    integration = backstage_integration(api, service["id"])
    with sim.state.lock:
        assert sim.state.services[service["id"]]["name"] == "checkout"
        stored = sim.state.integrations[integration["id"]]
        assert stored["vendor_id"] == BACKSTAGE_VENDOR_ID


def test_app_config_oauth_points_token_url_at_simulator() -> None:
    from scaffolder.pagerduty import PagerDuty

    with Simulator() as sim:
        section = sim.app_config(oauth=True)
        assert section["oauth"]["tokenUrl"] == sim.token_url
        client = PagerDuty.from_config({"pagerDuty": section}).client()
        assert client.account.oauth is not None
        assert client.account.oauth.token_url == sim.token_url
