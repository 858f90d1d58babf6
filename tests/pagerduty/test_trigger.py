"""Triggering incidents through the Events API v2: routing, accounts, retries, read-only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from scaffolder.actions import pagerduty_reads as handlers
from scaffolder.cli import main
from scaffolder.context import ActionContext, MemoryCheckpoints, Runtime
from scaffolder.errors import PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.accounts import parse_pagerduty_section
from scaffolder.pagerduty.client import RetryPolicy
from scaffolder.pagerduty.events import Trigger, event_body, send_trigger
from scaffolder.pagerduty.simulator import BACKSTAGE_VENDOR_ID, DEMO_SEED, Simulator
from scaffolder.paths import actions_dir
from scaffolder.redact import Redactor

FAST = RetryPolicy(budget=2.0, timeout=2.0, base_delay=0.01, max_delay=0.05)
ENQUEUE = "POST /events/v2/enqueue"
SEED: dict[str, Any] = {
    **DEMO_SEED,
    "services": [
        {
            "name": "payments-api",
            "escalation_policy": "Demo Escalation Policy",
            "integrations": [
                {"type": "generic_events_api_inbound_integration", "vendor": BACKSTAGE_VENDOR_ID}
            ],
        },
        {"name": "ledger", "escalation_policy": "Demo Escalation Policy"},
    ],
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SEED) as simulator:
        yield simulator


def service(sim: Simulator, name: str = "payments-api") -> dict[str, Any]:
    found = sim.state.service_by_name(name)
    assert found is not None
    return dict(found)


def routing_key(sim: Simulator) -> str:
    return str(sim.state.integrations_of(service(sim)["id"])[0]["integration_key"])


def incidents_of(sim: Simulator, name: str = "payments-api") -> list[dict[str, Any]]:
    service_id = service(sim, name)["id"]
    with sim.state.lock:
        return [dict(i) for i in sim.state.incidents.values() if i["service_id"] == service_id]


def write_config(tmp_path: Path, section: dict[str, Any]) -> Path:
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump({"pagerDuty": section}), encoding="utf-8")
    return path


def write_entity(folder: Path, annotations: dict[str, str]) -> Path:
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "payments", "annotations": annotations},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    path = folder / "catalog-info.yaml"
    path.write_text(yaml.safe_dump(entity), encoding="utf-8")
    return path


def scaffold(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["-v", "--config", str(config), "pagerduty", "trigger", *args], env={"NO_COLOR": "1"}
    )


def json_output(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.output[result.output.index("{"):])
    return data


# The command


def test_trigger_by_key_annotation(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim.app_config())
    entity = write_entity(tmp_path, {"pagerduty.com/integration-key": routing_key(sim)})

    result = scaffold(config, str(entity), "--summary", "Checkout down", "--json")

    assert result.exit_code == 0, result.output
    answer = json_output(result)
    [incident] = incidents_of(sim)
    assert incident["title"] == "Checkout down"
    assert incident["incident_key"] == answer["dedup_key"]
    assert incident["urgency"] == "high"
    assert len(answer["dedup_key"]) == 32
    assert answer["account"] == "default"
    assert sim.counts == {ENQUEUE: 1}
    assert routing_key(sim) not in result.output
    assert sim.api_token not in result.output


def test_trigger_by_service_id_uses_backstage_key(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim.app_config())
    entity = write_entity(tmp_path, {"pagerduty.com/service-id": service(sim)["id"]})

    result = scaffold(config, str(entity), "--summary", "Disk full", "--severity", "warning")

    assert result.exit_code == 0, result.output
    assert f"of service {service(sim)['id']}" in result.output
    [incident] = incidents_of(sim)
    assert incident["urgency"] == "low"
    assert sim.counts[ENQUEUE] == 1


def test_trigger_same_dedup_key_one_incident(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim.app_config())
    options = ["--integration-key", routing_key(sim), "--dedup-key", "deploy-42", "--json"]

    first = scaffold(config, "--summary", "First", *options)
    second = scaffold(config, "--summary", "Second", *options)

    assert json_output(first)["dedup_key"] == "deploy-42"
    assert json_output(second)["dedup_key"] == "deploy-42"
    [incident] = incidents_of(sim)
    assert incident["title"] == "Second"


def test_trigger_service_without_integration(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim.app_config())

    result = scaffold(config, "--service-id", service(sim, "ledger")["id"], "--summary", "x")

    assert result.exit_code == 1
    assert "has no Backstage integration" in result.output
    assert ENQUEUE not in sim.counts


def test_trigger_invalid_routing_key(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim.app_config())
    key = "ffffffffffffffffffffffffffffffff"

    result = scaffold(config, "--integration-key", key, "--summary", "x")

    assert result.exit_code == 1
    assert "rejected the trigger with key ffff…ffff" in result.output
    assert "Invalid routing key" in result.output
    assert key not in result.output
    assert sim.counts == {ENQUEUE: 1}


def test_trigger_read_only_sends_nothing(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, {**sim.app_config(), "readOnly": True})

    result = scaffold(config, "--integration-key", routing_key(sim), "--summary", "x")

    assert result.exit_code == 1
    assert "read-only (pagerDuty.readOnly: true)" in result.output
    assert sim.counts == {}
    assert incidents_of(sim) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--summary", "x", "--severity", "fatal"], "Invalid value for '--severity'"),
        (["--summary", "x", "--details", "[1]"], "--details must be a JSON object"),
        (["--summary", "x", "--details", "{"], "--details is not valid JSON"),
        (["--summary", "   "], "the incident summary is empty"),
        (["--summary", "s" * 1025], "accepts at most 1024"),
    ],
    ids=["severity", "details-list", "details-json", "blank-summary", "long-summary"],
)
def test_trigger_bad_input(
    tmp_path: Path, sim: Simulator, options: list[str], message: str
) -> None:
    config = write_config(tmp_path, sim.app_config())

    result = scaffold(config, "--integration-key", routing_key(sim), *options)

    assert result.exit_code == 2
    assert message in result.output
    assert sim.counts == {}


def test_trigger_eu_account_uses_its_events_url(tmp_path: Path) -> None:
    with Simulator(SEED) as us, Simulator(SEED, subdomain="acme-eu", region="eu") as eu:
        accounts = [
            {"id": "us", "isDefault": True, **us.app_config()},
            {"id": "eu", **eu.app_config()},
        ]
        config = write_config(tmp_path, {"accounts": accounts})
        annotations = {
            "pagerduty.com/integration-key": routing_key(eu),
            "pagerduty.com/account": "eu",
        }
        entity = write_entity(tmp_path, annotations)

        result = scaffold(config, str(entity), "--summary", "EU outage", "--json")

        assert result.exit_code == 0, result.output
        assert json_output(result)["account"] == "eu"
        assert eu.counts == {ENQUEUE: 1}
        assert us.counts == {}
        assert [i["title"] for i in incidents_of(eu)] == ["EU outage"]


def test_eu_region_default_events_host() -> None:
    section = {
        "oauth": {"clientId": "id", "clientSecret": "secret", "subDomain": "acme", "region": "eu"}
    }

    [account] = parse_pagerduty_section(section).accounts

    assert account.events_base_url == "https://events.eu.pagerduty.com/v2"


# Retries


def default_account(sim: Simulator) -> Any:
    return parse_pagerduty_section(sim.app_config()).accounts[0]


def body_for(sim: Simulator, dedup_key: str = "retry-1") -> dict[str, Any]:
    return event_body(routing_key(sim), Trigger(summary="Flaky"), "tests", dedup_key)


@pytest.mark.parametrize("fault", ["503", "500", "429", "drop"])
def test_send_retries_with_dedup_key(sim: Simulator, fault: str) -> None:
    sim.inject(ENQUEUE, fault, times=1, reset_after=0)

    answer = send_trigger(default_account(sim), body_for(sim), retry=FAST)

    assert answer["dedup_key"] == "retry-1"
    assert sim.counts[ENQUEUE] == 2
    assert len(incidents_of(sim)) == 1


def test_send_budget_runs_out(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    sim.inject(ENQUEUE, "503")
    caplog.set_level(logging.DEBUG, logger="scaffolder")

    short = RetryPolicy(budget=0.3, timeout=0.3, base_delay=0.01, max_delay=0.05)

    with pytest.raises(PagerDutyError) as raised:
        send_trigger(default_account(sim), body_for(sim), retry=short)

    assert "retry budget of 0.3 s ran out" in raised.value.message
    assert routing_key(sim) not in raised.value.message
    assert routing_key(sim) not in caplog.text
    assert sim.counts[ENQUEUE] >= 2


def test_send_requires_dedup_key(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="dedup_key"):
        send_trigger(default_account(sim), body_for(sim, dedup_key=""), retry=FAST)
    assert sim.counts == {}


# The action


def manifest() -> dict[str, Any]:
    path = actions_dir() / "pagerduty" / "incident-trigger.yaml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def run_action(
    sim: Simulator,
    inputs: dict[str, Any],
    workspace: Path,
    *,
    dry_run: bool = False,
    checkpoints: MemoryCheckpoints | None = None,
) -> dict[str, Any]:
    data = manifest()
    jsonschema.validate(inputs, data["input"])
    runtime = Runtime()
    runtime.set_pagerduty(PagerDuty.from_config(
        {"pagerDuty": sim.app_config()}, redactor=Redactor(), env={}, retry=FAST
    ))
    ctx = ActionContext(
        action_id=data["id"],
        input=inputs,
        workspace=workspace,
        logger=logging.LoggerAdapter(logging.getLogger("scaffolder.task"), {}),
        task_id="task-1",
        step_id="page",
        dry_run=dry_run,
        runtime=runtime,
        checkpoints=checkpoints or MemoryCheckpoints(),
    )
    handlers.trigger_incident(ctx)
    runtime.close()
    jsonschema.validate(ctx.outputs, data["output"])
    return ctx.outputs


def test_action_dry_run_sends_nothing(tmp_path: Path, sim: Simulator) -> None:
    write_entity(tmp_path, {"pagerduty.com/service-id": service(sim)["id"]})

    outputs = run_action(sim, {"summary": "Test page"}, tmp_path, dry_run=True)

    assert outputs["serviceId"] == service(sim)["id"]
    assert outputs["dedupKey"].startswith("(dry run")
    assert ENQUEUE not in sim.counts
    assert incidents_of(sim) == []


def test_action_resume_does_not_resend(tmp_path: Path, sim: Simulator) -> None:
    write_entity(tmp_path, {"pagerduty.com/integration-key": routing_key(sim)})
    checkpoints = MemoryCheckpoints()
    inputs = {"summary": "Test page", "severity": "info", "customDetails": {"build": 7}}

    first = run_action(sim, inputs, tmp_path, checkpoints=checkpoints)
    again = run_action(sim, inputs, tmp_path, checkpoints=checkpoints)

    assert first == again
    assert sim.counts[ENQUEUE] == 1
    [incident] = incidents_of(sim)
    assert incident["incident_key"] == first["dedupKey"]
    assert first["serviceId"] == ""
