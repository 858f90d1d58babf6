"""On-call users, open incidents and change events of a service: CLI, actions and reads."""

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
from scaffolder.context import ActionContext, Runtime
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.client import RetryPolicy
from scaffolder.pagerduty.simulator import BACKSTAGE_VENDOR_ID, Simulator
from scaffolder.paths import actions_dir
from scaffolder.redact import Redactor

FAST = RetryPolicy(budget=5.0, timeout=5.0, base_delay=0.01, max_delay=0.05)
POLICY = "Payments Policy"
OTHER_POLICY = "Other Policy"


def _oncalls() -> list[dict[str, Any]]:
    """250 on-calls of the payments policy (3 pages of 100) and a few of another policy.

    Level 1 has Bob and Alice many times over, and Carol once, at the end of level 1, so on
    the second page. Level 2 (Dave, Erin) fills the rest of pages 2 and 3.
    """
    level_one = [
        {"user": "Bob Baker" if index % 2 else "Alice Adams", "escalation_policy": POLICY}
        for index in range(149)
    ]
    level_one.append({"user": "Carol Cole", "escalation_policy": POLICY})
    level_two = [
        {
            "user": "Dave Dunn" if index % 2 else "Erin Eads",
            "escalation_policy": POLICY,
            "escalation_level": 2,
        }
        for index in range(100)
    ]
    other = [{"user": "Zoe Zane", "escalation_policy": OTHER_POLICY}]
    return [*level_two[:50], *level_one, *level_two[50:], *other]


def _incidents() -> list[dict[str, Any]]:
    """140 open incidents and 10 resolved ones of payments-api, created a minute apart."""
    incidents = []
    for index in range(150):
        status = "acknowledged" if index % 2 else "triggered"
        if index % 15 == 0:
            status = "resolved"
        incidents.append(
            {
                "service": "payments-api",
                "title": f"incident {index}",
                "status": status,
                "created_at": f"2024-05-{1 + index // 60:02d}T{(index // 60) % 24:02d}:"
                f"{index % 60:02d}:00Z",
            }
        )
    incidents.append({"service": "ledger", "title": "other service", "status": "triggered"})
    return incidents


def _change_events() -> list[dict[str, Any]]:
    times = [f"2024-06-01T10:{minute:02d}:00Z" for minute in (5, 30, 1, 59, 17)]
    return [
        {
            "service": "payments-api",
            "summary": f"deploy at {stamp}",
            "timestamp": stamp,
            "source": "ci",
            "links": [{"href": f"https://ci.example.com/{index}", "text": "build"}],
        }
        for index, stamp in enumerate(times)
    ] + [{"service": "ledger", "summary": "ledger deploy", "timestamp": "2024-06-02T00:00:00Z"}]


SEED: dict[str, Any] = {
    "users": [
        {"name": name, "email": name.split()[0].lower() + "@example.com"}
        for name in ("Alice Adams", "Bob Baker", "Carol Cole", "Dave Dunn", "Erin Eads", "Zoe Zane")
    ],
    "escalation_policies": [
        {"name": POLICY, "escalation_rules": [{"targets": ["Alice Adams"]}]},
        {"name": OTHER_POLICY, "escalation_rules": [{"targets": ["Zoe Zane"]}]},
    ],
    "services": [
        {
            "name": "payments-api",
            "escalation_policy": POLICY,
            "integrations": [
                {"type": "generic_events_api_inbound_integration", "vendor": BACKSTAGE_VENDOR_ID}
            ],
        },
        {"name": "ledger", "escalation_policy": OTHER_POLICY},
    ],
    "oncalls": _oncalls(),
    "incidents": _incidents(),
    "change_events": _change_events(),
}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SEED) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh_counts(sim: Simulator) -> None:
    sim.reset_counts()


def service_id(sim: Simulator, name: str = "payments-api") -> str:
    service = sim.state.service_by_name(name)
    assert service is not None
    return str(service["id"])


def write_config(tmp_path: Path, sim: Simulator) -> Path:
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump({"pagerDuty": sim.app_config()}), encoding="utf-8")
    return path


def write_entity(folder: Path, annotations: dict[str, str], name: str = "payments") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    path = folder / "catalog-info.yaml"
    path.write_text(yaml.safe_dump(entity), encoding="utf-8")
    return path


def scaffold(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "pagerduty", *args], env={
        "NO_COLOR": "1",
    })


# On-call


def test_oncall_three_pages_lowest_level_only(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim)
    entity = write_entity(tmp_path / "repo", {"pagerduty.com/service-id": service_id(sim)})

    result = scaffold(config, "oncall", str(entity), "--json")

    assert result.exit_code == 0, result.output
    users = json.loads(result.output)
    assert [user["name"] for user in users] == ["Alice Adams", "Bob Baker", "Carol Cole"]
    assert {user["escalation_level"] for user in users} == {1}
    assert len({user["id"] for user in users}) == 3
    assert users[0]["email"] == "alice@example.com"
    assert users[0]["html_url"].endswith(users[0]["id"])
    assert users[0]["avatar_url"].startswith("https://")
    assert sim.counts["GET /oncalls"] == 3


def test_oncall_table_human_output(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim)

    result = scaffold(config, "oncall", "--service-id", service_id(sim))

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("PagerDuty service payments-api")
    assert lines[1].split() == ["NAME", "EMAIL", "LEVEL", "URL"]
    assert lines[2].startswith("Alice Adams")
    assert "\x1b[" not in result.output
    email_column = lines[1].index("EMAIL")
    assert [line[email_column:].split()[0] for line in lines[2:]] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]


def test_oncall_nobody_on_call(tmp_path: Path) -> None:
    seed = {**SEED, "oncalls": []}
    with Simulator(seed) as empty:
        config = write_config(tmp_path, empty)
        result = scaffold(config, "oncall", "--service-id", service_id(empty))
    assert result.exit_code == 0, result.output
    assert "nobody is on call" in result.output


# Incidents


def test_incidents_open_newest_first(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim)

    result = scaffold(config, "incidents", "--service-id", service_id(sim), "--json")

    assert result.exit_code == 0, result.output
    incidents = json.loads(result.output)
    assert len(incidents) == 140
    assert {item["status"] for item in incidents} == {"triggered", "acknowledged"}
    created = [item["created_at"] for item in incidents]
    assert created == sorted(created, reverse=True)
    assert incidents[0]["title"] == "incident 149"
    assert "other service" not in {item["title"] for item in incidents}
    assert sim.counts["GET /incidents"] == 2


def test_incidents_have_assignees(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim)

    result = scaffold(config, "incidents", "--service-id", service_id(sim), "--json")

    first = json.loads(result.output)[0]
    assert sorted(a["name"] for a in first["assignees"]) == [
        "Alice Adams",
        "Bob Baker",
        "Carol Cole",
    ]
    assert set(first) == {
        "id", "incident_number", "title", "status", "urgency", "created_at", "html_url",
        "assignees",
    }


def test_incidents_table_shows_numbers(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim)

    result = scaffold(config, "incidents", "--service-id", service_id(sim))

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:3] == ["NUMBER", "STATUS", "URGENCY"]
    assert "incident 149" in lines[2]


# Change events


def test_changes_newest_first_with_links(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim)
    entity = write_entity(tmp_path / "repo", {"pagerduty.com/service-id": service_id(sim)})

    result = scaffold(config, "changes", str(tmp_path / "repo"), "--json")

    assert result.exit_code == 0, result.output
    events = json.loads(result.output)
    assert [e["timestamp"][11:16] for e in events] == ["10:59", "10:30", "10:17", "10:05", "10:01"]
    assert events[0]["links"] == [{"href": "https://ci.example.com/3", "text": "build"}]
    assert events[0]["source"] == "ci"
    assert entity.is_file()


def test_changes_limit(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim)

    result = scaffold(config, "changes", "--service-id", service_id(sim), "--limit", "2", "--json")

    assert [e["timestamp"][11:16] for e in json.loads(result.output)] == ["10:59", "10:30"]


# Actions


def manifest(action_id: str) -> dict[str, Any]:
    for path in (actions_dir() / "pagerduty").glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data["id"] == action_id:
            return dict(data)
    raise AssertionError(f"no manifest for {action_id}")


def run_action(
    sim: Simulator, action_id: str, inputs: dict[str, Any], workspace: Path
) -> dict[str, Any]:
    data = manifest(action_id)
    assert data["supportsDryRun"] is True
    jsonschema.validate(inputs, data["input"])
    runtime = Runtime()
    runtime.set_pagerduty(PagerDuty.from_config(
        {"pagerDuty": sim.app_config()}, redactor=Redactor(), env={}, retry=FAST
    ))
    ctx = ActionContext(
        action_id=action_id,
        input=inputs,
        workspace=workspace,
        logger=logging.LoggerAdapter(logging.getLogger("scaffolder.task"), {}),
        task_id="task-1",
        step_id="read",
        dry_run=True,
        runtime=runtime,
    )
    function = getattr(handlers, data["handler"].split(":")[1])
    function(ctx)
    runtime.close()
    jsonschema.validate(ctx.outputs, data["output"])
    return ctx.outputs


def test_action_oncall_from_workspace_entity(tmp_path: Path, sim: Simulator) -> None:
    write_entity(tmp_path, {"pagerduty.com/service-id": service_id(sim)})

    outputs = run_action(sim, "pagerduty:oncall:list", {}, tmp_path)

    assert [user["name"] for user in outputs["users"]] == [
        "Alice Adams",
        "Bob Baker",
        "Carol Cole",
    ]
    assert outputs["serviceId"] == service_id(sim)
    assert outputs["account"] == "default"


def test_action_incidents_by_integration_key(tmp_path: Path, sim: Simulator) -> None:
    key = sim.state.integrations_of(service_id(sim))[0]["integration_key"]

    outputs = run_action(sim, "pagerduty:incidents:list", {"integrationKey": key}, tmp_path)

    assert len(outputs["incidents"]) == 140
    assert outputs["serviceId"] == service_id(sim)


def test_action_change_events_limit(tmp_path: Path, sim: Simulator) -> None:
    write_entity(tmp_path / "sub", {"pagerduty.com/service-id": service_id(sim)})
    inputs = {"catalogInfoPath": "sub/catalog-info.yaml", "limit": 3}

    outputs = run_action(sim, "pagerduty:change-events:list", inputs, tmp_path)

    assert [e["summary"][-9:-4] for e in outputs["changeEvents"]] == ["10:59", "10:30", "10:17"]


def test_action_path_outside_workspace(tmp_path: Path, sim: Simulator) -> None:
    from scaffolder.pathsafety import UnsafePathError

    with pytest.raises(UnsafePathError):
        run_action(sim, "pagerduty:oncall:list", {"catalogInfoPath": "../x"}, tmp_path)
