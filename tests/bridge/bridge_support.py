"""Helpers of the bridge tests: templates, configs, servers (thread or subprocess), contract."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import uvicorn
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from scaffolder.bridge import Bridge, create_app
from scaffolder.config import load_config
from scaffolder.pagerduty.simulator import Simulator

CONTRACT_FILE = (
    Path(__file__).resolve().parents[2].parent
    / "shared/reference/backstage/scaffolder-openapi.yaml"
)
TOKEN = "bridge-test-token-4f1c9a7e2b"
PRINCIPAL = "user:default/ci-bot"
PREFIX = "/api/scaffolder"

PD_WAIT_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: pd-wait
  title: PagerDuty service, then a wait
  description: Creates a PagerDuty service, waits, and logs a line with a secret.
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: Service
      required: [name, escalationPolicyId]
      properties:
        name:
          type: string
          pattern: "^[a-z][a-z0-9-]*$"
        escalationPolicyId:
          type: string
          minLength: 1
        waitSeconds:
          type: number
          default: 0
  steps:
    - id: pagerduty
      name: Create the PagerDuty service
      action: pagerduty:service:create
      input:
        name: ${{ parameters.name }}
        escalationPolicyId: ${{ parameters.escalationPolicyId }}
    - id: wait
      name: Wait
      action: debug:wait
      input:
        seconds: ${{ parameters.waitSeconds }}
    - id: log
      name: Log
      action: debug:log
      input:
        message: "token is ${{ secrets.apiKey }}"
  output:
    serviceId: ${{ steps.pagerduty.output.serviceId }}
"""

SECRET_POLICY_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: secret-policy
  title: PagerDuty service on a policy given as a secret
  description: Fails when the escalation policy secret is wrong.
spec:
  owner: group:default/platform
  type: service
  parameters:
    - title: Service
      required: [name]
      properties:
        name:
          type: string
  steps:
    - id: log
      name: Log
      action: debug:log
      input:
        message: starting ${{ parameters.name }}
    - id: pagerduty
      name: Create the PagerDuty service
      action: pagerduty:service:create
      input:
        name: ${{ parameters.name }}
        escalationPolicyId: ${{ secrets.escalationPolicyId }}
  output:
    serviceId: ${{ steps.pagerduty.output.serviceId }}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_templates(folder: Path) -> Path:
    for name, text in (("pd-wait", PD_WAIT_TEMPLATE), ("secret-policy", SECRET_POLICY_TEMPLATE)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "template.yaml").write_text(text, encoding="utf-8")
    return folder


def write_config(
    tmp_path: Path, sim: Simulator, *, oauth: bool = False, **scaffolder: Any
) -> Path:
    """Write an app-config that points PagerDuty at ``sim`` and the bridge at test templates."""
    pagerduty = sim.app_config(oauth=oauth)
    if oauth:
        pagerduty["oauth"]["tokenUrl"] = sim.token_url
    section: dict[str, Any] = {
        "templates": [str(write_templates(tmp_path / "templates")), {"builtin": True}],
        "auth": {"tokens": [{"token": TOKEN, "principal": PRINCIPAL}]},
        "workingDirectory": str(tmp_path / "work"),
        "heartbeatSeconds": 1,
    }
    section.update(scaffolder)
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump({"pagerDuty": pagerduty, "scaffolder": section}),
                    encoding="utf-8")
    return path


@dataclass
class Server:
    """A running bridge: its base URL and an authenticated client."""

    url: str
    client: httpx.Client
    bridge: Bridge | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    seen: list[str] = field(default_factory=list)

    def api(self, path: str) -> str:
        return f"{self.url}{PREFIX}{path}"

    def submit(self, template: str, values: dict[str, Any],
               secrets: dict[str, str] | None = None) -> str:
        body: dict[str, Any] = {"templateRef": f"template:default/{template}", "values": values}
        if secrets is not None:
            body["secrets"] = secrets
        response = self.client.post(self.api("/v2/tasks"), json=body)
        self.seen.append(response.text)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def events(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        response = self.client.get(self.api(f"/v2/tasks/{task_id}/events"),
                                   params={"after": after}, timeout=40)
        self.seen.append(response.text)
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()
        return events

    def follow(self, task_id: str, after: int = 0, timeout: float = 30) -> list[dict[str, Any]]:
        """Long-poll until a completion or cancelled event; return every event seen."""
        collected: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = self.events(task_id, after)
            collected.extend(batch)
            if batch:
                after = batch[-1]["id"]
            if any(event["type"] in ("completion", "cancelled") for event in batch):
                return collected
        raise AssertionError(f"task {task_id} did not finish within {timeout}s: {collected}")

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.client.get(self.api(f"/v2/tasks/{task_id}"))
        self.seen.append(response.text)
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()
        return task

    def wait_status(self, task_id: str, statuses: set[str], timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = str(self.task(task_id)["status"])
            if status in statuses:
                return status
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} stayed {status!r}, expected one of {statuses}")


def auth_client() -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


@contextlib.contextmanager
def thread_server(config_path: Path) -> Iterator[Server]:
    """Run the bridge with uvicorn in a thread of the test process."""
    config = load_config([config_path])
    bridge = Bridge.build(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(bridge), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the bridge did not start within 10 s")
        time.sleep(0.02)
    client = auth_client()
    try:
        yield Server(url=f"http://127.0.0.1:{port}", client=client, bridge=bridge)
    finally:
        client.close()
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def process_server(config_path: Path, log_path: Path, port: int | None = None) -> Iterator[Server]:
    """Run ``scaffold -v serve`` as a subprocess, its stderr (DEBUG) going to ``log_path``."""
    port = port or free_port()
    command = [sys.executable, "-c", "from scaffolder.cli import main; main()",
               "-v", "serve", "--config", str(config_path), "--port", str(port)]
    log = log_path.open("ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "NO_COLOR": "1"})
    url = f"http://127.0.0.1:{port}"
    client = auth_client()
    try:
        _wait_healthy(url, process, log_path)
        yield Server(url=url, client=client, process=process, log_path=log_path)
    finally:
        client.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scaffold serve exited: {log_path.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("scaffold serve did not become healthy within 20 s")


# --- Backstage's contract ------------------------------------------------------------------


class Contract:
    """Backstage's scaffolder OpenAPI document, with response schemas as JSON Schema."""

    def __init__(self, path: Path) -> None:
        self.document = _nullable_to_json_schema(yaml.safe_load(path.read_text("utf-8")))
        resource: Resource[Any] = DRAFT202012.create_resource(self.document)
        self.registry: Registry[Any] = Registry().with_resource("urn:contract", resource)

    def response_schema(self, path: str, method: str, status: int) -> dict[str, Any] | None:
        """Return the schema of the documented response, ``None`` when the status is not one."""
        responses = self.document["paths"][path][method.lower()]["responses"]
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            return None
        if "$ref" in response:
            name = response["$ref"].rsplit("/", 1)[-1]
            response = self.document["components"]["responses"][name]
        content = response.get("content") or {}
        for media in content.values():
            schema: dict[str, Any] = _anchor(media["schema"])
            return schema
        return None

    def check(self, path: str, method: str, response: httpx.Response,
              expected_status: int) -> None:
        """Assert the status and that the body matches the contract (Error for undocumented)."""
        assert response.status_code == expected_status, response.text
        schema = self.response_schema(path, method, response.status_code)
        if schema is None:
            assert response.status_code >= 400, f"{response.status_code} is not documented"
            schema = {"$ref": "urn:contract#/components/schemas/Error"}
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        errors = [error.message for error in validator.iter_errors(response.json())]
        assert errors == [], f"{method} {path} {response.status_code}: {errors[:3]}"


def _anchor(schema: Any) -> Any:
    """Point local refs (``#/components/...``) at the registered contract resource."""
    if isinstance(schema, dict):
        return {
            key: (f"urn:contract{value}" if key == "$ref" and value.startswith("#") else
                  _anchor(value))
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_anchor(item) for item in schema]
    return schema


def _nullable_to_json_schema(node: Any) -> Any:
    """Turn OpenAPI 3.0's ``nullable: true`` into a JSON Schema type list."""
    if isinstance(node, dict):
        converted = {key: _nullable_to_json_schema(value) for key, value in node.items()
                     if key != "nullable"}
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            converted["type"] = [node["type"], "null"]
        return _anchor_refs_in_place(converted)
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    return node


def _anchor_refs_in_place(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        node["$ref"] = f"urn:contract{ref}"
    return node


def load_contract() -> Contract:
    if not CONTRACT_FILE.is_file():
        pytest.skip(f"{CONTRACT_FILE} not found (../shared/reference is absent)")
    return Contract(CONTRACT_FILE)


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [str(event["type"]) for event in events]


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
