"""Tasks end to end: SSE and long polling to completion, resume by event id, retry, cancel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge_support import Server, event_types

from scaffolder.pagerduty.simulator import Simulator


def read_sse(server: Server, task_id: str, *, headers: dict[str, str] | None = None,
             params: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Read an event stream to its end; return the events and the raw non-data lines."""
    events: list[dict[str, Any]] = []
    other: list[str] = []
    with server.client.stream("GET", server.api(f"/v2/tasks/{task_id}/eventstream"),
                              headers=headers, params=params, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
            elif line:
                other.append(line)
    return events, other


def test_sse_follows_task_to_completion(server: Server, sim: Simulator) -> None:
    task_id = server.submit("pd-wait", {"name": "sse-svc", "waitSeconds": 2.5,
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    events, other = read_sse(server, task_id)

    assert events[-1]["type"] == "completion"
    assert events[-1]["body"]["output"]["serviceId"]
    ids = [event["id"] for event in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert f"id: {ids[-1]}" in other
    assert ": ping" in other  # heartbeatSeconds is 1 and the wait step lasts 2.5 s
    statuses = [(e["body"].get("stepId"), e["body"].get("status")) for e in events
                if e["body"].get("status")]
    assert ("pagerduty", "completed") in statuses
    assert ("wait", "completed") in statuses


def test_sse_resumes_from_last_event_id(server: Server, sim: Simulator) -> None:
    task_id = server.submit("pd-wait", {"name": "resume-svc",
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    everything = server.follow(task_id)
    middle = everything[2]["id"]

    by_header, _ = read_sse(server, task_id, headers={"Last-Event-ID": str(middle)})
    by_query, _ = read_sse(server, task_id, params={"after": middle})

    expected = [event["id"] for event in everything if event["id"] > middle]
    assert [event["id"] for event in by_header] == expected
    assert [event["id"] for event in by_query] == expected


def test_long_poll_follows_task_to_completion(server: Server, sim: Simulator) -> None:
    task_id = server.submit("pd-wait", {"name": "poll-svc", "waitSeconds": 1,
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    events = server.follow(task_id)
    assert events[-1]["type"] == "completion"
    assert "completion" not in event_types(events[:-1])
    assert server.task(task_id)["status"] == "completed"


def test_long_poll_returns_after_last_event(server: Server, sim: Simulator) -> None:
    task_id = server.submit("pd-wait", {"name": "poll-after",
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    events = server.follow(task_id)
    assert server.events(task_id, after=events[-2]["id"]) == [events[-1]]


def test_retry_with_good_secrets_completes(server: Server, sim: Simulator) -> None:
    task_id = server.submit("secret-policy", {"name": "retry-svc"},
                            secrets={"escalationPolicyId": "PNOTREAL"})
    first = server.follow(task_id)
    assert first[-1]["body"]["message"] == "Run completed with status: failed"
    assert server.task(task_id)["status"] == "failed"

    without = server.client.post(server.api(f"/v2/tasks/{task_id}/retry"))
    assert without.status_code == 400
    assert "escalationPolicyId" in without.json()["error"]["message"]

    retried = server.client.post(
        server.api(f"/v2/tasks/{task_id}/retry"),
        json={"secrets": {"escalationPolicyId": sim.demo_escalation_policy_id}},
    )
    assert retried.status_code == 201
    assert retried.json() == {"id": task_id}
    second = server.follow(task_id, after=first[-1]["id"])

    assert second[-1]["body"]["message"] == "Run completed with status: completed"
    assert min(event["id"] for event in second) > max(event["id"] for event in first)
    assert server.task(task_id)["status"] == "completed"


def test_cancel_running_task(server: Server, sim: Simulator) -> None:
    task_id = server.submit("pd-wait", {"name": "cancel-svc", "waitSeconds": 20,
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    seen: list[dict[str, Any]] = []
    while not any(event["body"].get("stepId") == "wait" for event in seen):
        seen.extend(server.events(task_id, seen[-1]["id"] if seen else 0))

    response = server.client.post(server.api(f"/v2/tasks/{task_id}/cancel"))
    assert response.status_code == 200
    rest = server.follow(task_id, after=seen[-1]["id"], timeout=10)

    assert rest[-1]["type"] == "cancelled"
    assert server.wait_status(task_id, {"cancelled"}) == "cancelled"
    assert server.bridge is not None
    workspace = Path(server.bridge.settings.working_directory) / "workspaces" / task_id
    assert not workspace.exists()


def test_cancel_open_task_before_it_runs(server: Server, sim: Simulator) -> None:
    assert server.bridge is not None
    blockers = [server.submit("pd-wait", {"name": f"block-{n}", "waitSeconds": 3,
                                          "escalationPolicyId": sim.demo_escalation_policy_id})
                for n in range(server.bridge.settings.workers)]
    queued = server.submit("pd-wait", {"name": "queued",
                                       "escalationPolicyId": sim.demo_escalation_policy_id})
    response = server.client.post(server.api(f"/v2/tasks/{queued}/cancel"))

    assert response.json() == {"status": "cancelled"}
    assert event_types(server.events(queued)) == ["cancelled"]
    for blocker in blockers:
        server.client.post(server.api(f"/v2/tasks/{blocker}/cancel"))
        server.follow(blocker)


def test_long_poll_on_ended_task_returns_at_once(server: Server, sim: Simulator) -> None:
    completed = server.submit("pd-wait", {"name": "poll-ended",
                                          "escalationPolicyId": sim.demo_escalation_policy_id})
    failed = server.submit("secret-policy", {"name": "poll-failed"},
                           secrets={"escalationPolicyId": "PNOTREAL"})
    for task_id in (completed, failed):
        last = server.follow(task_id)[-1]["id"]
        # The long poll lasts 30 s, so a client timeout of 5 s fails while it waits.
        response = server.client.get(server.api(f"/v2/tasks/{task_id}/events"),
                                     params={"after": last}, timeout=5)
        assert response.status_code == 200, response.text
        assert response.json() == []
