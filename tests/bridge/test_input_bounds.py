"""Integer query parameters and ``Last-Event-ID``: values out of range get 400, not 500."""

from __future__ import annotations

import httpx
import pytest
from bridge_support import Server

from scaffolder.pagerduty.simulator import Simulator

MAX_ID = 2**63 - 1
TOO_LARGE = "99999999999999999999999"
VERY_LONG = "9" * 5000  # more digits than int() converts by default


@pytest.fixture(scope="module")
def finished_task(server: Server, sim: Simulator) -> str:
    task_id = server.submit("pd-wait", {"name": "bounds-svc",
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    server.follow(task_id)
    return task_id


def assert_input_error(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["name"] == "InputError"
    assert response.json()["response"] == {"statusCode": 400}


@pytest.mark.parametrize("value", [TOO_LARGE, VERY_LONG, str(MAX_ID + 1), "-1"])
def test_events_after_out_of_range_is_400(
    server: Server, finished_task: str, value: str
) -> None:
    response = server.client.get(server.api(f"/v2/tasks/{finished_task}/events"),
                                 params={"after": value})
    assert_input_error(response)


@pytest.mark.parametrize("name", ["offset", "limit"])
@pytest.mark.parametrize("value", [TOO_LARGE, VERY_LONG, str(MAX_ID + 1)])
def test_list_paging_out_of_range_is_400(server: Server, name: str, value: str) -> None:
    response = server.client.get(server.api("/v2/tasks"), params={name: value})
    assert_input_error(response)


def test_list_offset_at_bound_is_empty_page(server: Server) -> None:
    response = server.client.get(server.api("/v2/tasks"), params={"offset": MAX_ID})
    assert response.status_code == 200, response.text
    assert response.json()["tasks"] == []


def test_events_after_at_bound_is_empty(server: Server, finished_task: str) -> None:
    response = server.client.get(server.api(f"/v2/tasks/{finished_task}/events"),
                                 params={"after": MAX_ID}, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json() == []


@pytest.mark.parametrize("value", [TOO_LARGE, VERY_LONG, str(MAX_ID + 1), "-1"])
def test_eventstream_after_out_of_range_is_400(
    server: Server, finished_task: str, value: str
) -> None:
    response = server.client.get(server.api(f"/v2/tasks/{finished_task}/eventstream"),
                                 params={"after": value})
    assert_input_error(response)


@pytest.mark.parametrize("value", [TOO_LARGE, VERY_LONG, str(MAX_ID + 1), "abc", "-5", "1e3",
                                   "98.5", "+5", "", "5x"])
def test_eventstream_invalid_last_event_id_is_400(
    server: Server, finished_task: str, value: str
) -> None:
    response = server.client.get(server.api(f"/v2/tasks/{finished_task}/eventstream"),
                                 headers={"Last-Event-ID": value})
    assert_input_error(response)
    assert "Last-Event-ID" in response.json()["error"]["message"]


def test_openapi_documents_integer_bounds(server: Server) -> None:
    document = server.client.get(f"{server.url}/openapi.json").json()
    paths = document["paths"]
    checked = [
        ("/api/scaffolder/v2/tasks", "offset"),
        ("/api/scaffolder/v2/tasks/{taskId}/events", "after"),
        ("/api/scaffolder/v2/tasks/{taskId}/eventstream", "after"),
    ]
    for path, name in checked:
        parameters = {item["name"]: item for item in paths[path]["get"]["parameters"]}
        schema = parameters[name]["schema"]
        bounded = next(item for item in schema.get("anyOf", [schema]) if "maximum" in item)
        assert bounded["minimum"] == 0, (path, name)
        assert bounded["maximum"] == MAX_ID, (path, name)


def test_eventstream_last_event_id_with_leading_zeros(
    server: Server, finished_task: str
) -> None:
    everything = server.events(finished_task)
    middle = everything[1]["id"]
    response = server.client.get(server.api(f"/v2/tasks/{finished_task}/eventstream"),
                                 headers={"Last-Event-ID": f"000{middle}"})
    assert response.status_code == 200, response.text
    ids = [int(line.removeprefix("id: ")) for line in response.text.splitlines()
           if line.startswith("id: ")]
    assert ids == [event["id"] for event in everything if event["id"] > middle]
