"""The PagerDuty plugin routes under /api/pagerduty, served by uvicorn against two simulators."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from scaffolder.bridge.auth import Authenticator
from scaffolder.bridge.http import install_error_handlers
from scaffolder.bridge.pagerduty_routes import create_router
from scaffolder.bridge.settings import TokenGrant
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.client import RetryPolicy
from scaffolder.pagerduty.simulator import BACKSTAGE_VENDOR_ID, DEMO_SEED, Simulator

TOKEN = "bridge-test-token-0123456789"
BROKEN_TOKEN = "wrong-token-abcdefghijklmnop"
SHORT = RetryPolicy(budget=0.5, timeout=0.5, base_delay=0.01, max_delay=0.05)

SEED: dict[str, Any] = {
    **DEMO_SEED,
    "services": [
        {
            "name": "payments-api",
            "description": "Takes payments",
            "escalation_policy": "Demo Escalation Policy",
            "integrations": [
                {"type": "generic_events_api_inbound_integration", "vendor": BACKSTAGE_VENDOR_ID}
            ],
        },
        {"name": "ledger", "escalation_policy": "Demo Escalation Policy"},
    ],
    "incidents": [
        {"service": "payments-api", "title": "old", "created_at": "2024-01-01T00:00:00Z"},
        {"service": "payments-api", "title": "new", "created_at": "2024-03-01T00:00:00Z"},
        {"service": "payments-api", "title": "done", "status": "resolved"},
        {"service": "ledger", "title": "elsewhere"},
    ],
    "change_events": [
        {
            "service": "payments-api",
            "summary": f"deploy {day}",
            "timestamp": f"2024-06-{day:02d}T12:00:00Z",
            "links": [{"href": f"https://ci.example.com/{day}", "text": "build"}],
        }
        for day in (3, 9, 1, 7, 5, 8, 2)
    ],
    "dependencies": [{"supporting_service": "ledger", "dependent_service": "payments-api"}],
}


@dataclass
class Setup:
    url: str
    main: Simulator
    second: Simulator
    client: httpx.Client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_app(pd: PagerDuty) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    auth = Authenticator([TokenGrant(token=TOKEN, principal="user:default/tester")])
    app.include_router(create_router(lambda _request: pd, auth=auth))
    return app


@contextlib.contextmanager
def serve(pd: PagerDuty) -> Iterator[str]:
    """Serve the router for ``pd`` with uvicorn on a free loopback port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(build_app(pd), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/api/pagerduty"
    finally:
        server.should_exit = True
        thread.join(10)
        pd.close()


def accounts_pagerduty(accounts: list[dict[str, Any]]) -> PagerDuty:
    return PagerDuty.from_config({"pagerDuty": {"accounts": accounts}}, env={}, retry=SHORT)


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with Simulator(SEED) as main, Simulator(SEED, subdomain="second") as second:
        pd = accounts_pagerduty([
            {"id": "default", "isDefault": True, **main.app_config()},
            {"id": "second", **second.app_config()},
        ])
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with serve(pd) as url, httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            yield Setup(url, main, second, client)


@pytest.fixture(autouse=True)
def no_faults(setup: Setup) -> Iterator[None]:
    yield
    setup.main.clear_faults()


def service_id(sim: Simulator, name: str = "payments-api") -> str:
    found = sim.state.service_by_name(name)
    assert found is not None
    return str(found["id"])


def backstage_key(sim: Simulator) -> str:
    return str(sim.state.integrations_of(service_id(sim))[0]["integration_key"])


def assert_errors(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["errors"]
    assert any(text in message for message in body["errors"]), body
    assert TOKEN not in response.text
    assert BROKEN_TOKEN not in response.text


# Health and authentication


def test_health_without_token(setup: Setup) -> None:
    response = httpx.get(f"{setup.url}/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_routes_need_bearer_token(setup: Setup) -> None:
    response = httpx.get(f"{setup.url}/escalation_policies")

    assert response.status_code == 401
    assert setup.main.api_token not in response.text


# Escalation policies and on-call users


def test_escalation_policies_labels(setup: Setup) -> None:
    response = setup.client.get("/escalation_policies")

    assert response.status_code == 200
    assert response.json() == [
        {"label": "Demo Escalation Policy", "value": setup.main.demo_escalation_policy_id},
        {
            "label": "(second) Demo Escalation Policy",
            "value": setup.second.demo_escalation_policy_id,
        },
    ]


def test_oncall_users_lowest_level(setup: Setup) -> None:
    params = {"escalation_policy_ids[]": setup.main.demo_escalation_policy_id}

    response = setup.client.get("/oncall-users", params=params)

    assert response.status_code == 200
    users = response.json()["users"]
    assert [user["name"] for user in users] == ["Ada Lovelace", "Grace Hopper"]
    assert users[0]["email"] == "ada@example.com"
    assert users[0]["avatar_url"].startswith("https://")


def test_oncall_users_second_account(setup: Setup) -> None:
    params = {
        "escalation_policy_ids[]": setup.second.demo_escalation_policy_id,
        "account": "second",
    }

    response = setup.client.get("/oncall-users", params=params)

    assert response.status_code == 200
    assert len(response.json()["users"]) == 2
    assert setup.second.counts["GET /oncalls"] >= 1


def test_oncall_users_needs_policy(setup: Setup) -> None:
    response = setup.client.get("/oncall-users")

    assert_errors(response, 400, "'escalation_policy_ids[]' is required")


# Services


def test_service_by_id(setup: Setup) -> None:
    response = setup.client.get(f"/services/{service_id(setup.main)}")

    assert response.status_code == 200
    service = response.json()["service"]
    assert service["name"] == "payments-api"
    assert service["escalation_policy"]["name"] == "Demo Escalation Policy"
    assert service["integrations"][0]["integration_key"] == backstage_key(setup.main)
    assert service["account"] == "default"


def test_service_unknown_id(setup: Setup) -> None:
    response = setup.client.get("/services/PNOPE00")

    assert_errors(response, 404, "PagerDuty service 'PNOPE00' does not exist")


def test_service_unknown_account(setup: Setup) -> None:
    response = setup.client.get(f"/services/{service_id(setup.main)}", params={"account": "x"})

    assert_errors(response, 400, "PagerDuty account 'x' is not configured")


def test_service_by_integration_key(setup: Setup) -> None:
    params = {"integration_key": backstage_key(setup.second), "account": "second"}

    response = setup.client.get("/services", params=params)

    assert response.status_code == 200
    assert response.json()["service"]["id"] == service_id(setup.second)
    assert response.json()["service"]["account"] == "second"


def test_service_unknown_integration_key(setup: Setup) -> None:
    response = setup.client.get("/services", params={"integration_key": "f" * 32})

    assert_errors(response, 404, "has an integration with key ffff…ffff")
    assert "f" * 32 not in response.text


def test_services_of_one_account(setup: Setup) -> None:
    response = setup.client.get("/services", params={"account": "second"})

    assert response.status_code == 200
    services = response.json()["services"]
    assert sorted(item["name"] for item in services) == ["ledger", "payments-api"]
    assert {item["account"] for item in services} == {"second"}


# Change events, incidents, standards, metrics, dependencies


def test_change_events_five_newest(setup: Setup) -> None:
    response = setup.client.get(f"/services/{service_id(setup.main)}/change-events")

    assert response.status_code == 200
    events = response.json()["change_events"]
    assert [event["summary"] for event in events] == [
        "deploy 9", "deploy 8", "deploy 7", "deploy 5", "deploy 3",
    ]
    assert events[0]["links"] == [{"href": "https://ci.example.com/9", "text": "build"}]


def test_change_events_unknown_service(setup: Setup) -> None:
    response = setup.client.get("/services/PNOPE00/change-events")

    assert_errors(response, 404, "PNOPE00")


def test_incidents_open_only_newest_first(setup: Setup) -> None:
    response = setup.client.get(f"/services/{service_id(setup.main)}/incidents")

    assert response.status_code == 200
    incidents = response.json()["incidents"]
    assert [incident["title"] for incident in incidents] == ["new", "old"]
    assert incidents[0]["assignments"][0]["assignee"]["name"] in {"Ada Lovelace", "Grace Hopper"}


def test_incidents_unknown_service(setup: Setup) -> None:
    response = setup.client.get("/services/PNOPE00/incidents")

    assert_errors(response, 404, "PagerDuty service 'PNOPE00' does not exist")


def test_standards_scores(setup: Setup) -> None:
    response = setup.client.get(f"/services/{service_id(setup.main)}/standards")

    assert response.status_code == 200
    standards = response.json()["standards"]
    assert standards["resource_id"] == service_id(setup.main)
    assert standards["score"] == {"passing": 3, "total": 3}
    assert len(standards["standards"]) == 3


def test_metrics(setup: Setup) -> None:
    response = setup.client.get(f"/services/{service_id(setup.main)}/metrics")

    assert response.status_code == 200
    [metrics] = response.json()["metrics"]
    assert metrics["service_id"] == service_id(setup.main)
    assert metrics["total_incident_count"] == 3


def test_metrics_unknown_service(setup: Setup) -> None:
    response = setup.client.get("/services/PNOPE00/metrics")

    assert_errors(response, 404, "PNOPE00")


def test_dependencies(setup: Setup) -> None:
    response = setup.client.get(f"/dependencies/service/{service_id(setup.main)}")

    assert response.status_code == 200
    [relationship] = response.json()["relationships"]
    assert relationship["supporting_service"]["id"] == service_id(setup.main, "ledger")


# PagerDuty failures


def test_pagerduty_unavailable_gives_503(setup: Setup) -> None:
    setup.main.inject("GET /services/{id}", "503")

    response = setup.client.get(f"/services/{service_id(setup.main)}")

    assert_errors(response, 503, "retry budget")


def test_pagerduty_slow_gives_503(setup: Setup) -> None:
    setup.main.inject("GET /oncalls", "slow", delay=1.0)
    params = {"escalation_policy_ids[]": setup.main.demo_escalation_policy_id}

    response = setup.client.get("/oncall-users", params=params)

    assert_errors(response, 503, "retry budget")


def test_pagerduty_malformed_body_gives_502(setup: Setup) -> None:
    setup.main.inject("GET /services/{id}", "bad_json", times=1)

    response = setup.client.get(f"/services/{service_id(setup.main)}")

    assert_errors(response, 502, "malformed JSON body")


def test_pagerduty_rejects_credentials_gives_502(setup: Setup) -> None:
    pd = accounts_pagerduty([
        {"id": "default", "isDefault": True, **setup.main.app_config()},
        {"id": "broken", "apiToken": BROKEN_TOKEN, "apiBaseUrl": setup.main.url},
    ])
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with serve(pd) as url, httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        one = client.get(f"/services/{service_id(setup.main)}", params={"account": "broken"})
        every = client.get("/escalation_policies")

    assert_errors(one, 502, "on account 'broken': 401")
    assert_errors(every, 502, "on account 'broken': 401")
