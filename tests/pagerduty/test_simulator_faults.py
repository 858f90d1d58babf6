"""Injected faults and request counts of the PagerDuty simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from scaffolder.errors import InputError
from scaffolder.pagerduty.simulator import FAULT_KINDS, Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Token token={sim.api_token}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5) as client:
        yield client


def test_fault_429_rate_limit_headers(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("GET /services", "429", times=1, reset_after=7)
    limited = api.get("/services")
    assert limited.status_code == 429
    assert limited.headers["ratelimit-reset"] == "7"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert int(limited.headers["ratelimit-limit"]) > 0
    assert limited.json()["error"]["code"] == 2020
    assert api.get("/services").status_code == 200


def test_fault_429_on_events_api(sim: Simulator) -> None:
    sim.inject("POST /events/v2/enqueue", "429", times=1)
    limited = httpx.post(f"{sim.events_url}/v2/enqueue", json={})
    assert limited.status_code == 429
    assert limited.json()["status"] == "throttle event"
    assert limited.headers["ratelimit-reset"] == "1"


def test_fault_500_json_body(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("POST /services", "500", times=1)
    response = api.post("/services", json={})
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "Internal Server Error"
    assert sim.state.services == {}


@pytest.mark.parametrize("status", [502, 503])
def test_fault_gateway_html_body(sim: Simulator, api: httpx.Client, status: int) -> None:
    sim.inject("GET /vendors", str(status), times=1)
    response = api.get("/vendors")
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html"
    assert str(status) in response.text


def test_fault_drop_closes_connection(sim: Simulator, api: httpx.Client) -> None:
    assert api.get("/vendors").status_code == 200
    sim.inject("GET /vendors", "drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/vendors")
    assert api.get("/vendors").status_code == 200


def test_fault_drop_on_new_connection(sim: Simulator) -> None:
    sim.inject("*", "drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{sim.url}/abilities")


def test_fault_slow_then_answers(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("GET /abilities", "slow", times=1, delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/abilities", timeout=0.1)
    sim.inject("GET /abilities", "slow", times=1, delay=0.05)
    assert api.get("/abilities").status_code == 200


def test_fault_bad_json_200(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("GET /services", "bad_json", times=1)
    response = api.get("/services")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_fault_times_then_normal(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("GET /vendors", "503", times=2)
    statuses = [api.get("/vendors").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_fault_without_times_until_cleared(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("*", "500")
    assert [api.get("/vendors").status_code for _ in range(3)] == [500, 500, 500]
    sim.clear_faults()
    assert api.get("/vendors").status_code == 200


def test_fault_only_on_its_route(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("POST /services", "500")
    assert api.get("/services").status_code == 200


def test_fault_probability_is_reproducible() -> None:
    def statuses() -> list[int]:
        with Simulator() as sim:
            sim.inject("GET /abilities", "500", probability=0.5)
            headers = {"Authorization": f"Token token={sim.api_token}"}
            with httpx.Client(base_url=sim.url, headers=headers) as client:
                return [client.get("/abilities").status_code for _ in range(20)]

    first = statuses()
    assert set(first) == {200, 500}
    assert statuses() == first


def test_fault_probability_zero_and_one(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("GET /abilities", "500", probability=0.0)
    assert api.get("/abilities").status_code == 200
    sim.clear_faults()
    sim.inject("GET /abilities", "500", probability=1.0, times=1)
    assert api.get("/abilities").status_code == 500
    assert api.get("/abilities").status_code == 200


def test_fault_before_authentication(sim: Simulator) -> None:
    sim.inject("GET /services", "429", times=1)
    assert httpx.get(f"{sim.url}/services").status_code == 429


@pytest.mark.parametrize(
    ("route", "fault", "options", "message"),
    [
        ("GET /services", "418", {}, "unknown fault"),
        ("GET /servces", "500", {}, "unknown route"),
        ("GET /services", "500", {"times": 0}, "times"),
        ("GET /services", "500", {"probability": 1.5}, "probability"),
        ("GET /services", "slow", {}, "delay"),
        ("GET /services", "500", {"delay": -1}, "delay"),
    ],
)
def test_inject_invalid_raises(
    sim: Simulator, route: str, fault: str, options: dict[str, float], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        sim.inject(route, fault, **options)  # type: ignore[arg-type]


def test_fault_kinds_listed() -> None:
    assert set(FAULT_KINDS) == {"429", "500", "502", "503", "slow", "drop", "bad_json"}


def test_counts_by_route_template(sim: Simulator, api: httpx.Client) -> None:
    api.get("/services")
    api.get("/services")
    api.get(f"/escalation_policies/{sim.demo_escalation_policy_id}")
    api.get("/escalation_policies/PNOPE00")
    httpx.post(f"{sim.events_url}/v2/enqueue", json={})
    assert sim.counts == {
        "GET /services": 2,
        "GET /escalation_policies/{id}": 2,
        "POST /events/v2/enqueue": 1,
    }


def test_counts_include_faulted_requests(sim: Simulator, api: httpx.Client) -> None:
    sim.inject("POST /services", "503", times=2)
    for _ in range(3):
        api.post("/services", json={})
    sim.inject("GET /services", "drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/services")
    assert sim.counts["POST /services"] == 3
    assert sim.counts["GET /services"] == 1


def test_reset_counts(sim: Simulator, api: httpx.Client) -> None:
    api.get("/abilities")
    sim.reset_counts()
    assert sim.counts == {}
    api.get("/abilities")
    assert sim.counts == {"GET /abilities": 1}
