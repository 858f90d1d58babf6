"""Bridge behaviour that tests/bridge leaves unchecked: retry from checkpoints, recovery that
cannot resume, the four event types, error bodies, configured limits and git template sources.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml
from bridge_support import (
    PD_WAIT_TEMPLATE,
    Server,
    event_types,
    process_server,
    thread_server,
    write_config,
)

from scaffolder.pagerduty.simulator import Simulator

EVENT_TYPES = {"log", "completion", "cancelled", "recovered"}

TWO_SERVICES_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: two-services
  title: Two PagerDuty services, the second on a policy given as a secret
spec:
  owner: group:default/platform
  type: service
  parameters:
    - required: [name, escalationPolicyId]
      properties:
        name:
          type: string
        escalationPolicyId:
          type: string
  steps:
    - id: first
      name: Create the first service
      action: pagerduty:service:create
      input:
        name: ${{ parameters.name }}
        escalationPolicyId: ${{ parameters.escalationPolicyId }}
    - id: second
      name: Create the second service
      action: pagerduty:service:create
      input:
        name: ${{ parameters.name }}-second
        escalationPolicyId: ${{ secrets.escalationPolicyId }}
  output:
    firstId: ${{ steps.first.output.serviceId }}
    firstCreated: ${{ steps.first.output.created }}
"""


def services_named(sim: Simulator, name: str) -> list[dict[str, Any]]:
    with sim.state.lock:
        return [dict(item) for item in sim.state.services.values() if item["name"] == name]


def test_retry_keeps_first_run_checkpoints(tmp_path: Path, sim: Simulator) -> None:
    folder = tmp_path / "templates" / "two-services"
    folder.mkdir(parents=True)
    (folder / "template.yaml").write_text(TWO_SERVICES_TEMPLATE, encoding="utf-8")
    values = {"name": "retried", "escalationPolicyId": sim.demo_escalation_policy_id}

    with thread_server(write_config(tmp_path, sim)) as server:
        task_id = server.submit("two-services", values,
                                secrets={"escalationPolicyId": "PNOTREAL"})
        first = server.follow(task_id)
        assert server.task(task_id)["status"] == "failed"
        [created] = services_named(sim, "retried")

        retried = server.client.post(
            server.api(f"/v2/tasks/{task_id}/retry"),
            json={"secrets": {"escalationPolicyId": sim.demo_escalation_policy_id}},
        )
        assert retried.status_code == 201, retried.text
        second = server.follow(task_id, after=first[-1]["id"])

    completion = second[-1]
    assert completion["type"] == "completion"
    assert completion["body"]["output"]["firstId"] == created["id"]
    # A rerun without the checkpoint would find the service by name and report created=false.
    assert completion["body"]["output"]["firstCreated"] is True
    assert len(services_named(sim, "retried")) == 1
    assert len(services_named(sim, "retried-second")) == 1
    assert set(event_types(first + second)) <= EVENT_TYPES


def test_recovery_without_template_fails_task(tmp_path: Path, sim: Simulator) -> None:
    work = tmp_path / "work"
    config = write_config(tmp_path, sim, workingDirectory=str(work))
    values = {"name": "orphan", "waitSeconds": 20,
              "escalationPolicyId": sim.demo_escalation_policy_id}

    with process_server(config, tmp_path / "serve.log") as first:
        task_id = first.submit("pd-wait", values)
        seen: list[dict[str, Any]] = []
        while not any(event["body"].get("stepId") == "wait" for event in seen):
            seen.extend(first.events(task_id, seen[-1]["id"] if seen else 0))
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)

    # The restarted bridge no longer serves the task's template, so it cannot resume it.
    later = tmp_path / "later"
    later.mkdir()
    config = write_config(later, sim, workingDirectory=str(work), templates=[{"builtin": True}])
    with thread_server(config) as second:
        rest = second.follow(task_id, after=seen[-1]["id"], timeout=10)
        status = second.task(task_id)["status"]

    # Log lines the first server wrote after the last event seen may come first.
    closing = [event for event in rest if event["type"] != "log"]
    assert event_types(closing) == ["recovered", "completion"]
    assert "cannot resume" in closing[0]["body"]["message"]
    assert "template:default/pd-wait" in closing[0]["body"]["message"]
    assert closing[1]["body"]["error"]["name"] == "RecoveryError"
    assert status == "failed"


def test_cancelled_task_has_no_output(server: Server, sim: Simulator) -> None:
    task_id = server.submit("pd-wait", {"name": "cancel-output", "waitSeconds": 20,
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    seen: list[dict[str, Any]] = []
    while not any(event["body"].get("stepId") == "wait" for event in seen):
        seen.extend(server.events(task_id, seen[-1]["id"] if seen else 0))

    assert server.client.post(server.api(f"/v2/tasks/{task_id}/cancel")).status_code == 200
    events = seen + server.follow(task_id, after=seen[-1]["id"], timeout=10)

    assert events[-1]["type"] == "cancelled"
    assert [event for event in events if "output" in event["body"]] == []
    assert [event for event in events if event["body"].get("stepId") == "log"] == []
    assert set(event_types(events)) <= EVENT_TYPES


def test_error_body_status_matches_response(server: Server) -> None:
    finished = server.submit("pd-wait", {"name": "error-body",
                                         "escalationPolicyId": "PNOTREAL"})
    server.follow(finished)
    cases = [
        ("GET", "/v2/actions", None, False),
        ("GET", "/v2/tasks/nope", None, True),
        ("GET", "/v2/tasks?order=sideways:spec", None, True),
        ("POST", "/v2/tasks", {"templateRef": "template:default/nope", "values": {}}, True),
        ("POST", f"/v2/tasks/{finished}/cancel", None, True),
    ]
    anonymous = httpx.Client(timeout=10)
    for method, path, body, with_token in cases:
        client = server.client if with_token else anonymous
        response = client.request(method, server.api(path), json=body)
        error = response.json()
        assert response.status_code >= 400, path
        assert error["response"]["statusCode"] == response.status_code, path
        assert error["error"]["name"], path
        assert error["error"]["message"], path
    anonymous.close()


def test_configured_body_limit_is_413(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim, maxRequestBytes=2048)
    padded = {"templateRef": "template:default/pd-wait", "values": {"pad": "x" * 4096}}

    with thread_server(config) as server:
        too_big = server.client.post(server.api("/v2/tasks"), json=padded)
        small = server.client.post(server.api("/v2/tasks"), json={
            "templateRef": "template:default/pd-wait", "values": {},
        })

    assert too_big.status_code == 413
    assert too_big.json()["response"]["statusCode"] == 413
    assert small.status_code == 400


def test_configured_task_store_url_is_used(tmp_path: Path, sim: Simulator) -> None:
    store = tmp_path / "elsewhere" / "store.db"
    store.parent.mkdir()
    config = write_config(tmp_path, sim, taskStore=f"sqlite:///{store}")

    with thread_server(config) as server:
        task_id = server.submit("pd-wait", {"name": "stored",
                                            "escalationPolicyId": sim.demo_escalation_policy_id})
        server.follow(task_id)

    assert store.is_file()
    assert task_id.encode() in store.read_bytes() + _wal_bytes(store)
    assert not (tmp_path / "work" / "tasks.db").exists()


def _wal_bytes(store: Path) -> bytes:
    wal = store.with_name(store.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_template_from_git_location(tmp_path: Path, sim: Simulator) -> None:
    repo = tmp_path / "repo"
    folder = repo / "templates" / "pd-wait"
    folder.mkdir(parents=True)
    document = yaml.safe_load(PD_WAIT_TEMPLATE)
    document["metadata"]["name"] = "from-git"
    (folder / "template.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "template"], check=True)
    source = f"file://{repo}//templates/pd-wait?ref=main"
    config = write_config(tmp_path, sim, templates=[source])

    with thread_server(config) as server:
        schema = server.client.get(
            server.api("/v2/templates/default/template/from-git/parameter-schema"))
        builtin = server.client.get(server.api(
            "/v2/templates/default/template/service-with-pagerduty/parameter-schema"))
        task_id = server.submit("from-git", {"name": "git-sourced",
                                             "escalationPolicyId": sim.demo_escalation_policy_id})
        events = server.follow(task_id)

    assert schema.status_code == 200, schema.text
    assert builtin.status_code == 404
    assert events[-1]["body"]["message"] == "Run completed with status: completed"
