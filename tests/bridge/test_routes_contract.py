"""Each route's status codes and bodies, checked against Backstage's scaffolder contract."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
from bridge_support import PRINCIPAL, Contract, Server

from scaffolder.pagerduty.simulator import Simulator


def test_health_needs_no_token(server: Server) -> None:
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_missing_token_is_401_error_body(server: Server, contract: Contract) -> None:
    response = httpx.get(server.api("/v2/actions"))
    contract.check("/v2/actions", "get", response, 401)
    assert response.json()["error"]["name"] == "AuthenticationError"
    assert response.json()["request"] == {"method": "GET", "url": "/api/scaffolder/v2/actions"}


def test_wrong_token_is_401(server: Server) -> None:
    response = httpx.get(server.api("/v2/tasks"), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_openapi_needs_token(server: Server) -> None:
    assert httpx.get(f"{server.url}/openapi.json").status_code == 401
    document = server.client.get(f"{server.url}/openapi.json").json()
    assert "/api/scaffolder/v2/tasks" in document["paths"]
    assert "/api/scaffolder/v2/actions/{actionId}/run" in document["paths"]


def test_actions_list_matches_contract(server: Server, contract: Contract) -> None:
    response = server.client.get(server.api("/v2/actions"))
    contract.check("/v2/actions", "get", response, 200)
    ids = {action["id"] for action in response.json()}
    assert {"pagerduty:service:create", "debug:wait", "debug:log"} <= ids


def test_parameter_schema_matches_contract(server: Server, contract: Contract) -> None:
    path = "/v2/templates/{namespace}/{kind}/{name}/parameter-schema"
    response = server.client.get(server.api("/v2/templates/default/template/pd-wait/"
                                            "parameter-schema"))
    contract.check(path, "get", response, 200)
    assert response.json()["title"] == "PagerDuty service, then a wait"
    assert response.json()["steps"][0]["schema"]["required"] == ["name", "escalationPolicyId"]


def test_parameter_schema_of_builtin(server: Server) -> None:
    response = server.client.get(server.api(
        "/v2/templates/default/template/service-with-pagerduty/parameter-schema"))
    assert response.status_code == 200
    assert len(response.json()["steps"]) == 3


def test_parameter_schema_unknown_is_404(server: Server, contract: Contract) -> None:
    path = "/v2/templates/{namespace}/{kind}/{name}/parameter-schema"
    response = server.client.get(server.api("/v2/templates/default/template/nope/"
                                            "parameter-schema"))
    contract.check(path, "get", response, 404)


def test_create_task_invalid_values_is_400(server: Server, contract: Contract) -> None:
    response = server.client.post(server.api("/v2/tasks"), json={
        "templateRef": "template:default/pd-wait",
        "values": {"name": "Not Valid", "waitSeconds": "x"},
    })
    contract.check("/v2/tasks", "post", response, 400)
    messages = [error["message"] for error in response.json()["errors"]]
    assert any(message.startswith("name:") for message in messages)
    assert any(message.startswith("waitSeconds:") for message in messages)
    assert "escalationPolicyId: is required" in messages


def test_create_task_unconfigured_ref_is_404(server: Server) -> None:
    for ref in ("template:default/elsewhere", "/etc/passwd", "https://example.com/t.yaml"):
        response = server.client.post(server.api("/v2/tasks"),
                                      json={"templateRef": ref, "values": {}})
        assert response.status_code in (400, 404), ref
        assert response.json()["error"]["name"] in ("NotFoundError", "InputError")


def test_task_get_and_list_match_contract(
    server: Server, contract: Contract, sim: Simulator
) -> None:
    task_id = server.submit("pd-wait", {"name": "contract-svc",
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    server.follow(task_id)

    task = server.client.get(server.api(f"/v2/tasks/{task_id}"))
    contract.check("/v2/tasks/{taskId}", "get", task, 200)
    assert task.json()["status"] == "completed"
    assert task.json()["createdBy"] == PRINCIPAL
    assert task.json()["spec"]["user"] == {"ref": PRINCIPAL}
    assert "secrets" not in task.json()

    listing = server.client.get(server.api("/v2/tasks"), params={
        "createdBy": PRINCIPAL, "status": "completed", "order": "desc:created_at", "limit": 1,
    })
    contract.check("/v2/tasks", "get", listing, 200)
    assert listing.json()["tasks"][0]["id"] == task_id
    assert listing.json()["totalTasks"] >= 1

    events = server.client.get(server.api(f"/v2/tasks/{task_id}/events"))
    contract.check("/v2/tasks/{taskId}/events", "get", events, 200)


def test_list_filters_and_paging(server: Server, sim: Simulator) -> None:
    first = server.submit("pd-wait", {"name": "page-a",
                                      "escalationPolicyId": sim.demo_escalation_policy_id})
    second = server.submit("pd-wait", {"name": "page-b",
                                       "escalationPolicyId": sim.demo_escalation_policy_id})
    server.follow(first)
    server.follow(second)
    page = server.client.get(server.api("/v2/tasks"),
                             params={"order": "desc:created_at", "limit": 1, "offset": 1})
    newest = server.client.get(server.api("/v2/tasks"),
                               params={"order": "desc:created_at", "limit": 1})
    assert newest.json()["tasks"][0]["id"] == second
    assert page.json()["tasks"][0]["id"] == first
    nobody = server.client.get(server.api("/v2/tasks"), params={"createdBy": "user:default/x"})
    assert nobody.json() == {"tasks": [], "totalTasks": 0}


def test_list_bad_order_is_400(server: Server) -> None:
    response = server.client.get(server.api("/v2/tasks"), params={"order": "sideways:spec"})
    assert response.status_code == 400
    assert "invalid order" in response.json()["error"]["message"]


def test_unknown_task_is_404(server: Server, contract: Contract) -> None:
    for path, method in (("/v2/tasks/{taskId}", "get"), ("/v2/tasks/{taskId}/cancel", "post"),
                         ("/v2/tasks/{taskId}/retry", "post"),
                         ("/v2/tasks/{taskId}/events", "get")):
        response = server.client.request(method, server.api(path.replace("{taskId}", "nope")))
        contract.check(path, method, response, 404)


def test_cancel_finished_task_is_409(server: Server, sim: Simulator) -> None:
    task_id = server.submit("pd-wait", {"name": "finished",
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    server.follow(task_id)
    response = server.client.post(server.api(f"/v2/tasks/{task_id}/cancel"))
    assert response.status_code == 409
    assert response.json()["error"]["name"] == "ConflictError"


def test_retry_completed_task_is_409(server: Server, sim: Simulator) -> None:
    task_id = server.submit("pd-wait", {"name": "done-retry",
                                        "escalationPolicyId": sim.demo_escalation_policy_id})
    server.follow(task_id)
    assert server.client.post(server.api(f"/v2/tasks/{task_id}/retry")).status_code == 409


def test_dry_run_matches_contract(server: Server, contract: Contract) -> None:
    template = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "dry"},
        "spec": {
            "type": "service",
            "parameters": [{"properties": {"name": {"type": "string"}}, "required": ["name"]}],
            "steps": [
                {"id": "fetch", "name": "Fetch", "action": "fetch:template",
                 "input": {"url": "./skeleton", "values": {"name": "${{ parameters.name }}"}}},
                {"id": "log", "name": "Log", "action": "debug:log",
                 "input": {"message": "hello ${{ parameters.name }}"}},
            ],
            "output": {"name": "${{ parameters.name }}"},
        },
    }
    files = [{"path": "skeleton/README.md",
              "base64Content": base64.b64encode(b"# ${{ values.name }}\n").decode()},
             {"path": "skeleton/run.sh", "base64Content": base64.b64encode(b"echo\n").decode(),
              "executable": True}]
    response = server.client.post(server.api("/v2/dry-run"), json={
        "template": template, "values": {"name": "demo"}, "directoryContents": files,
    })
    contract.check("/v2/dry-run", "post", response, 200)
    body = response.json()
    contents = {item["path"]: item for item in body["directoryContents"]}
    assert base64.b64decode(contents["README.md"]["base64Content"]) == b"# demo\n"
    assert contents["run.sh"]["executable"] is True
    assert body["output"] == {"name": "demo"}
    assert [step["id"] for step in body["steps"]] == ["fetch", "log"]
    assert any(entry["body"]["message"] == "hello demo" for entry in body["log"])


def test_dry_run_rejects_escaping_paths(server: Server) -> None:
    template = {"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
                "metadata": {"name": "dry"}, "spec": {"type": "service", "steps": []}}
    content = base64.b64encode(b"x").decode()
    for entry in ({"path": "../escape.txt", "base64Content": content},
                  {"path": "/tmp/absolute.txt", "base64Content": content},
                  {"path": "a/../../b.txt", "base64Content": content},
                  {"path": "link", "base64Content": content, "symlink": True}):
        response = server.client.post(server.api("/v2/dry-run"), json={
            "template": template, "values": {}, "directoryContents": [entry],
        })
        assert response.status_code == 400, entry
        assert response.json()["error"]["name"] == "InputError"


def test_dry_run_invalid_values_is_400(server: Server, contract: Contract) -> None:
    template = {"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
                "metadata": {"name": "dry"},
                "spec": {"type": "service", "steps": [],
                         "parameters": [{"required": ["name"],
                                         "properties": {"name": {"type": "string"}}}]}}
    response = server.client.post(server.api("/v2/dry-run"), json={
        "template": template, "values": {}, "directoryContents": [],
    })
    contract.check("/v2/dry-run", "post", response, 400)


def test_action_run_returns_output_and_log(server: Server, sim: Simulator) -> None:
    response = server.client.post(server.api("/v2/actions/pagerduty:service:create/run"), json={
        "input": {"name": "from-http", "escalationPolicyId": sim.demo_escalation_policy_id},
    })
    assert response.status_code == 200, response.text
    assert response.json()["output"]["created"] is True
    assert response.json()["log"][0]["body"]["status"] == "processing"


def test_action_run_invalid_input_is_400(server: Server) -> None:
    response = server.client.post(server.api("/v2/actions/pagerduty:service:create/run"),
                                  json={"input": {"name": 3}})
    assert response.status_code == 400
    assert "input.name" in response.json()["error"]["message"]


def test_action_run_unknown_is_404(server: Server) -> None:
    response = server.client.post(server.api("/v2/actions/nope:nothing/run"), json={})
    assert response.status_code == 404


def test_action_run_failure_is_422_with_log(server: Server) -> None:
    response = server.client.post(server.api("/v2/actions/debug:wait/run"),
                                  json={"input": {"seconds": 99}})
    assert response.status_code == 422
    assert "longer than the maximum" in response.json()["error"]["message"]
    assert response.json()["log"]


def test_oversized_body_is_413(server: Server) -> None:
    big = {"templateRef": "template:default/pd-wait", "values": {"pad": "x" * 11_000_000}}
    response = server.client.post(server.api("/v2/tasks"), json=big)
    assert response.status_code == 413
    assert response.json()["error"]["name"] == "PayloadTooLargeError"


def test_oversized_chunked_body_is_413(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield b"x" * 1_000_000

    response = server.client.post(server.api("/v2/tasks"), content=chunks(),
                                  headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_dry_run_refuses_unsandboxed_cookiecutter(server: Server) -> None:
    template = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "cc"},
        "spec": {"type": "service", "steps": [
            {"id": "cc", "action": "fetch:cookiecutter", "input": {"url": "./cc"}}]},
    }
    payload = b"{{ cycler.__init__.__globals__.os.getpid() }}"
    files = [{"path": "cc/pid.txt", "base64Content": base64.b64encode(payload).decode()}]
    response = server.client.post(server.api("/v2/dry-run"), json={
        "template": template, "values": {}, "directoryContents": files,
    })
    text = response.text
    assert "outside the sandbox" in text
    produced = [item for item in response.json().get("directoryContents", [])
                if item["path"].endswith("pid.txt")]
    assert produced == []
