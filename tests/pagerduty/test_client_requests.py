"""PagerDuty client requests, dry runs, rate-limit storms and credentials in CLI output."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from scaffolder.actions import pagerduty as handlers
from scaffolder.cli import main
from scaffolder.context import ActionContext, MemoryCheckpoints, Runtime
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.accounts import parse_pagerduty_section
from scaffolder.pagerduty.client import PagerDutyClient, RetryPolicy
from scaffolder.pagerduty.simulator import Simulator
from scaffolder.paths import actions_dir
from scaffolder.redact import Redactor

FAST = RetryPolicy(budget=5.0, timeout=5.0, base_delay=0.01, max_delay=0.05)


class RecordingHandler(BaseHTTPRequestHandler):
    """Record each request's path, query and headers, and respond with one page of services."""

    requests: list[dict[str, Any]]

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers)})
        offset = int(parse_qs(url.query).get("offset", ["0"])[0])
        body = {"services": [{"id": f"P{offset}"}], "more": offset == 0, "limit": 100,
                "offset": offset}
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def token_client(api_base_url: str, token: str, **options: Any) -> PagerDutyClient:
    [account] = parse_pagerduty_section({"apiToken": token, "apiBaseUrl": api_base_url}).accounts
    options.setdefault("retry", FAST)
    return PagerDutyClient(account, redactor=Redactor(), **options)


def run_action(pd: PagerDuty, action_id: str, inputs: dict[str, Any], *,
               dry_run: bool = False) -> dict[str, Any]:
    """Validate ``inputs`` against the action's manifest, run it, and return its outputs."""
    manifest = next(
        data for path in (actions_dir() / "pagerduty").glob("*.yaml")
        if (data := yaml.safe_load(path.read_text(encoding="utf-8")))["id"] == action_id)
    jsonschema.validate(inputs, manifest["input"])
    runtime = Runtime()
    runtime.set_pagerduty(pd)
    ctx = ActionContext(
        action_id=action_id, input=inputs, workspace=Path("."),
        logger=logging.LoggerAdapter(logging.getLogger("scaffolder.task"), {}),
        task_id="audit", step_id="pagerduty", dry_run=dry_run, runtime=runtime,
        checkpoints=MemoryCheckpoints(),
    )
    handler = {
        "pagerduty:service:create": handlers.create_service,
        "pagerduty:integration:create": handlers.create_integration,
    }[action_id]
    handler(ctx)
    jsonschema.validate(ctx.outputs, manifest["output"])
    return ctx.outputs


def writes(sim: Simulator) -> dict[str, int]:
    return {route: n for route, n in sim.counts.items() if not route.startswith("GET ")}


def test_client_sends_v2_accept_and_token(recorder: ThreadingHTTPServer) -> None:
    port = recorder.server_address[1]
    client = token_client(f"http://127.0.0.1:{port}", "audit-token-123")

    client.get("/services")

    [request] = recorder.requests  # type: ignore[attr-defined]
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["accept"] == "application/vnd.pagerduty+json;version=2"
    assert headers["authorization"] == "Token token=audit-token-123"


def test_list_all_pages_with_limit_100(recorder: ThreadingHTTPServer) -> None:
    port = recorder.server_address[1]
    client = token_client(f"http://127.0.0.1:{port}", "audit-token-123")

    services = client.list_all("/services", "services")

    requests = recorder.requests  # type: ignore[attr-defined]
    assert [service["id"] for service in services] == ["P0", "P1"]
    assert len(requests) == 2
    assert [request["query"]["limit"] for request in requests] == [["100"], ["100"]]
    assert [request["query"]["offset"] for request in requests] == [["0"], ["1"]]


def test_backoff_capped_exponential_jittered(sim: Simulator) -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(budget=60.0, timeout=5.0, base_delay=0.1, max_delay=0.4)
    client = token_client(sim.url, sim.api_token, retry=policy, sleep=sleeps.append)
    sim.inject("GET /abilities", "503", times=6)

    client.get("/abilities")

    ceilings = [0.1, 0.2, 0.4, 0.4, 0.4, 0.4]
    assert len(sleeps) == len(ceilings)
    for delay, ceiling in zip(sleeps, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(sleeps[2:])) > 1


def test_debug_log_names_request_and_account(sim: Simulator,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="scaffolder.pagerduty")
    client = token_client(sim.url, sim.api_token)

    client.get("/abilities")

    lines = [record.getMessage() for record in caplog.records
             if record.name == "scaffolder.pagerduty"]
    matching = [line for line in lines if "GET /abilities" in line]
    assert matching, lines
    assert "200" in matching[0]
    assert "'default'" in matching[0]
    assert sim.api_token not in caplog.text


def test_integration_create_dry_run_only_reads(sim: Simulator) -> None:
    pd = PagerDuty.from_config({"pagerDuty": {"apiToken": sim.api_token, "apiBaseUrl": sim.url}},
                               redactor=Redactor(), env={}, retry=FAST)
    service = run_action(pd, "pagerduty:service:create",
                         {"name": "dry", "escalationPolicyId": sim.demo_escalation_policy_id})
    sim.reset_counts()

    outputs = run_action(pd, "pagerduty:integration:create",
                         {"serviceId": service["serviceId"], "vendor": "Datadog"}, dry_run=True)

    assert writes(sim) == {}
    assert outputs["created"] is True
    with sim.state.lock:
        vendors = [i["vendor_id"] for i in sim.state.integrations_of(service["serviceId"])]
    assert vendors == ["PRO19CT"]


def test_fifty_creates_under_429_storm(sim: Simulator) -> None:
    pd = PagerDuty.from_config(
        {"pagerDuty": {"apiToken": sim.api_token, "apiBaseUrl": sim.url}},
        redactor=Redactor(), env={},
        retry=RetryPolicy(budget=30.0, timeout=5.0, base_delay=0.01, max_delay=0.05))
    sim.inject("*", "429", probability=0.2, reset_after=1)
    errors: list[BaseException] = []

    def create(index: int) -> None:
        try:
            run_action(pd, "pagerduty:service:create",
                       {"name": f"storm-{index:02d}",
                        "escalationPolicyId": sim.demo_escalation_policy_id})
        except BaseException as error:  # collected for the assertions below
            errors.append(error)

    started = time.monotonic()
    threads = [threading.Thread(target=create, args=(index,)) for index in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.monotonic() - started
    sim.clear_faults()

    assert errors == []
    with sim.state.lock:
        services = [dict(service) for service in sim.state.services.values()
                    if service["name"].startswith("storm-")]
        integrations = {
            service["id"]: [item["vendor_id"] for item in sim.state.integrations_of(service["id"])]
            for service in services
        }
    expected_names = [f"storm-{index:02d}" for index in range(50)]
    assert sorted(service["name"] for service in services) == expected_names
    assert all(vendors == ["PRO19CT"] for vendors in integrations.values()), integrations
    # About 150 requests at a 429 rate of 20% make a run without any 429 very unlikely
    # (0.8 ** 150 is about 3e-15), so some thread must have waited the 1 s ratelimit-reset.
    assert elapsed >= 1.0


def test_cli_verbose_json_hides_oauth_credentials(tmp_path: Path, sim: Simulator) -> None:
    config = tmp_path / "app-config.yaml"
    config.write_text(yaml.safe_dump({"pagerDuty": sim.app_config(oauth=True)}), encoding="utf-8")
    state = tmp_path / "state"

    result = CliRunner().invoke(main, [
        "--verbose", "--config", str(config), "new", "-t", "service-with-pagerduty",
        "--no-input", "--json", "--state-dir", str(state), "--output", str(tmp_path / "out"),
        "--set", "name=payments", "--set", "description=Pays", "--set", "owner=platform",
        "--set", f"escalationPolicyId={sim.demo_escalation_policy_id}",
    ], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "DEBUG " in result.stderr
    assert sim.counts.get("POST /oauth/token") == 1
    saved = "".join(path.read_text(encoding="utf-8", errors="replace")
                    for path in state.rglob("*") if path.is_file())
    for text in (result.stdout, result.stderr, saved):
        assert sim.client_secret not in text
        assert "pdus+_" not in text
