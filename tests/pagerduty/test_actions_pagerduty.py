"""The pagerduty:* action handlers against the simulator, with their manifests' schemas."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scaffolder.actions import pagerduty as handlers
from scaffolder.context import ActionContext, MemoryCheckpoints, Runtime
from scaffolder.errors import PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.client import RetryPolicy
from scaffolder.pagerduty.services import DRY_RUN_PLACEHOLDER
from scaffolder.pagerduty.simulator import DEMO_SEED, Simulator
from scaffolder.paths import actions_dir
from scaffolder.redact import Redactor

FAST = RetryPolicy(budget=5.0, timeout=5.0, base_delay=0.01, max_delay=0.05)
TOKEN_ROUTE = "POST /oauth/token"
HANDLERS: dict[str, Callable[[ActionContext], None]] = {
    "pagerduty:service:create": handlers.create_service,
    "pagerduty:integration:create": handlers.create_integration,
    "pagerduty:service:get": handlers.get_service,
    "pagerduty:abilities:list": handlers.list_abilities,
    "pagerduty:ability:check": handlers.check_ability,
    "pagerduty:vendors:list": handlers.list_vendors,
    "pagerduty:escalation-policies:list": handlers.list_escalation_policies,
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def manifest(action_id: str) -> dict[str, Any]:
    for path in (actions_dir() / "pagerduty").glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data["id"] == action_id:
            return dict(data)
    raise AssertionError(f"no manifest for {action_id}")


def token_section(sim: Simulator) -> dict[str, Any]:
    return {"apiToken": sim.api_token, "apiBaseUrl": sim.url}


def oauth_section(sim: Simulator) -> dict[str, Any]:
    return {"apiBaseUrl": sim.url, "oauth": {
        "clientId": sim.client_id, "clientSecret": sim.client_secret,
        "subDomain": sim.subdomain, "region": sim.region, "tokenUrl": sim.token_url,
    }}


def pagerduty(section: dict[str, Any]) -> PagerDuty:
    return PagerDuty.from_config({"pagerDuty": section}, redactor=Redactor(), env={}, retry=FAST)


def run(
    pd: PagerDuty,
    action_id: str,
    inputs: dict[str, Any],
    *,
    dry_run: bool = False,
    checkpoints: MemoryCheckpoints | None = None,
) -> dict[str, Any]:
    """Validate ``inputs``, run the handler, validate and return its outputs."""
    data = manifest(action_id)
    jsonschema.validate(inputs, data["input"])
    runtime = Runtime()
    runtime.set_pagerduty(pd)
    ctx = ActionContext(
        action_id=action_id,
        input=inputs,
        workspace=Path("."),
        logger=logging.LoggerAdapter(logging.getLogger("scaffolder.task"), {}),
        task_id="task-1",
        step_id="pagerduty",
        dry_run=dry_run,
        runtime=runtime,
        checkpoints=checkpoints if checkpoints is not None else MemoryCheckpoints(),
    )
    HANDLERS[action_id](ctx)
    jsonschema.validate(ctx.outputs, data["output"])
    return ctx.outputs


def service_inputs(sim: Simulator, name: str = "checkout", **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "Checkout API",
            "escalationPolicyId": sim.demo_escalation_policy_id, **extra}


def services_named(sim: Simulator, name: str) -> list[dict[str, Any]]:
    with sim.state.lock:
        return [dict(s) for s in sim.state.services.values() if s["name"] == name]


def integrations_of(sim: Simulator, service_id: str) -> list[dict[str, Any]]:
    with sim.state.lock:
        return [dict(i) for i in sim.state.integrations_of(service_id)]


def writes(sim: Simulator) -> dict[str, int]:
    return {route: n for route, n in sim.counts.items() if not route.startswith("GET ")}


# pagerduty:service:create


def test_create_uses_three_requests_with_token(sim: Simulator) -> None:
    outputs = run(pagerduty(token_section(sim)), "pagerduty:service:create", service_inputs(sim))

    assert sim.counts == {
        "GET /services": 1,
        "POST /services": 1,
        "POST /services/{id}/integrations": 1,
    }
    assert outputs["created"] is True
    assert outputs["account"] == "default"
    assert outputs["serviceUrl"].endswith(outputs["serviceId"])
    [integration] = integrations_of(sim, outputs["serviceId"])
    assert integration["vendor_id"] == "PRO19CT"
    assert integration["integration_key"] == outputs["integrationKey"]


def test_create_with_oauth_adds_one_token_request(sim: Simulator) -> None:
    pd = pagerduty(oauth_section(sim))

    run(pd, "pagerduty:service:create", service_inputs(sim, "first"))
    run(pd, "pagerduty:service:create", service_inputs(sim, "second"))

    assert sim.counts[TOKEN_ROUTE] == 1
    assert sum(sim.counts.values()) == 1 + 2 * 3


def test_rerun_reuses_without_writes(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    first = run(pd, "pagerduty:service:create", service_inputs(sim))
    sim.reset_counts()

    second = run(pd, "pagerduty:service:create", service_inputs(sim))

    assert sim.counts == {"GET /services": 1}
    assert second["created"] is False
    assert second["serviceId"] == first["serviceId"]
    assert second["integrationKey"] == first["integrationKey"]


def test_resume_with_checkpoints_sends_nothing(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    checkpoints = MemoryCheckpoints()
    first = run(pd, "pagerduty:service:create", service_inputs(sim), checkpoints=checkpoints)
    sim.reset_counts()

    again = run(pd, "pagerduty:service:create", service_inputs(sim), checkpoints=checkpoints)

    assert sim.counts == {}
    assert again == first


def test_resume_after_failed_integration_rereads_it(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    checkpoints = MemoryCheckpoints()
    sim.inject("POST /services/{id}/integrations", "500", times=2)
    with pytest.raises(PagerDutyError, match="may or may not have applied"):
        run(pd, "pagerduty:service:create", service_inputs(sim), checkpoints=checkpoints)
    sim.reset_counts()

    outputs = run(pd, "pagerduty:service:create", service_inputs(sim), checkpoints=checkpoints)

    assert writes(sim) == {"POST /services/{id}/integrations": 1}
    assert sim.counts["GET /services/{id}"] == 1
    assert len(services_named(sim, "checkout")) == 1
    assert len(integrations_of(sim, outputs["serviceId"])) == 1


def test_dry_run_only_reads(sim: Simulator) -> None:
    outputs = run(pagerduty(token_section(sim)), "pagerduty:service:create",
                  service_inputs(sim), dry_run=True)

    assert writes(sim) == {}
    assert outputs["serviceId"] == DRY_RUN_PLACEHOLDER
    assert outputs["integrationKey"] == DRY_RUN_PLACEHOLDER
    assert outputs["created"] is True
    assert services_named(sim, "checkout") == []


def test_dry_run_reports_existing_service(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    real = run(pd, "pagerduty:service:create", service_inputs(sim))
    sim.reset_counts()

    outputs = run(pd, "pagerduty:service:create", service_inputs(sim), dry_run=True)

    assert writes(sim) == {}
    assert outputs == {**real, "created": False}


def test_existing_name_with_on_existing_fail(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    run(pd, "pagerduty:service:create", service_inputs(sim))
    sim.reset_counts()

    with pytest.raises(PagerDutyError, match="onExisting is 'fail'"):
        run(pd, "pagerduty:service:create", service_inputs(sim, onExisting="fail"))
    assert writes(sim) == {}


def test_same_name_on_other_policy_rejected() -> None:
    seed = copy.deepcopy(DEMO_SEED)
    seed["escalation_policies"] = [
        *seed["escalation_policies"],
        {"name": "Other Policy", "escalation_rules": [
            {"targets": seed["escalation_policies"][0]["escalation_rules"][0]["targets"]},
        ]},
    ]
    with Simulator(seed=seed) as sim:
        other = next(p["id"] for p in sim.state.escalation_policies.values()
                     if p["name"] == "Other Policy")
        pd = pagerduty(token_section(sim))
        run(pd, "pagerduty:service:create", service_inputs(sim))

        with pytest.raises(PagerDutyError) as caught:
            inputs = {**service_inputs(sim), "escalationPolicyId": other}
            run(pd, "pagerduty:service:create", inputs)

    assert repr(sim.demo_escalation_policy_id) in caught.value.message
    assert repr(other) in caught.value.message


def test_dropped_create_rechecked_then_retried(sim: Simulator) -> None:
    sim.inject("POST /services", "drop", times=1)

    outputs = run(pagerduty(token_section(sim)), "pagerduty:service:create", service_inputs(sim))

    assert outputs["created"] is True
    assert len(services_named(sim, "checkout")) == 1
    assert sim.counts["POST /services"] == 2
    assert sim.counts["GET /services"] == 2


def test_applied_create_with_lost_answer_not_repeated(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    other_client = pagerduty(token_section(sim)).client()
    sim.inject("POST /services", "drop", times=1, delay=1.0)

    def create_meanwhile() -> None:
        deadline = time.monotonic() + 5
        while sim.counts.get("POST /services", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        other_client.post("/services", {"service": {
            "type": "service", "name": "checkout",
            "escalation_policy": {"id": sim.demo_escalation_policy_id,
                                  "type": "escalation_policy_reference"},
        }})

    helper = threading.Thread(target=create_meanwhile)
    helper.start()
    outputs = run(pd, "pagerduty:service:create", service_inputs(sim))
    helper.join(timeout=10)

    [service] = services_named(sim, "checkout")
    assert outputs["serviceId"] == service["id"]
    assert outputs["created"] is True
    assert sim.counts["POST /services"] == 2
    assert sim.counts["GET /services"] == 2


def test_alert_grouping_sent(sim: Simulator) -> None:
    outputs = run(pagerduty(token_section(sim)), "pagerduty:service:create",
                  service_inputs(sim, alertGrouping="time"))

    with sim.state.lock:
        stored = sim.state.services[outputs["serviceId"]]
    assert "time" in json.dumps(stored)


def test_missing_ability_named_on_402(sim: Simulator) -> None:
    with sim.state.lock:
        sim.state.abilities.remove("time_based_alert_grouping")

    with pytest.raises(PagerDutyError) as caught:
        run(pagerduty(token_section(sim)), "pagerduty:service:create",
            service_inputs(sim, alertGrouping="time"))

    assert caught.value.status == 402
    assert "time_based_alert_grouping" in caught.value.message


def test_unknown_alert_grouping_rejected_by_schema(sim: Simulator) -> None:
    with pytest.raises(jsonschema.ValidationError, match="'sometimes'"):
        run(pagerduty(token_section(sim)), "pagerduty:service:create",
            service_inputs(sim, alertGrouping="sometimes"))
    assert sim.counts == {}


def test_unknown_account_input_named(sim: Simulator) -> None:
    with pytest.raises(PagerDutyError) as caught:
        run(pagerduty(token_section(sim)), "pagerduty:service:create",
            service_inputs(sim, account="nope"))

    assert "'nope'" in caught.value.message
    assert "'default'" in caught.value.message


# Several accounts


@pytest.fixture
def two_sims() -> Iterator[tuple[Simulator, Simulator]]:
    with Simulator(subdomain="alpha") as alpha, Simulator(subdomain="beta") as beta:
        yield alpha, beta


def two_accounts(alpha: Simulator, beta: Simulator) -> PagerDuty:
    return pagerduty({"accounts": [
        {"id": "a", "isDefault": True, **token_section(alpha)},
        {"id": "b", **token_section(beta)},
    ]})


def test_policy_account_found_with_one_get_each(two_sims: tuple[Simulator, Simulator]) -> None:
    alpha, beta = two_sims

    outputs = run(two_accounts(alpha, beta), "pagerduty:service:create", service_inputs(beta))

    assert outputs["account"] == "b"
    assert alpha.counts == {"GET /escalation_policies/{id}": 1}
    assert beta.counts["GET /escalation_policies/{id}"] == 1
    assert len(services_named(beta, "checkout")) == 1


def test_policy_in_no_account_rejected(two_sims: tuple[Simulator, Simulator]) -> None:
    alpha, beta = two_sims

    with pytest.raises(PagerDutyError, match="not found in any configured PagerDuty account"):
        run(two_accounts(alpha, beta), "pagerduty:service:create",
            {**service_inputs(alpha), "escalationPolicyId": "PNOPE99"})
    assert writes(alpha) == writes(beta) == {}


def test_policy_in_both_accounts_rejected() -> None:
    with Simulator() as first, Simulator() as second:
        assert first.demo_escalation_policy_id == second.demo_escalation_policy_id

        with pytest.raises(PagerDutyError, match="several PagerDuty accounts"):
            run(two_accounts(first, second), "pagerduty:service:create", service_inputs(first))
        assert writes(first) == writes(second) == {}


def test_escalation_policy_labels_name_accounts(two_sims: tuple[Simulator, Simulator]) -> None:
    alpha, beta = two_sims

    outputs = run(two_accounts(alpha, beta), "pagerduty:escalation-policies:list", {})

    labels = [item["label"] for item in outputs["escalationPolicies"]]
    assert labels == ["(a) Demo Escalation Policy", "(b) Demo Escalation Policy"]


def test_escalation_policy_label_single_account(sim: Simulator) -> None:
    outputs = run(pagerduty(token_section(sim)), "pagerduty:escalation-policies:list", {})

    assert outputs["escalationPolicies"] == [{
        "id": sim.demo_escalation_policy_id, "name": "Demo Escalation Policy",
        "account": "default", "label": "Demo Escalation Policy",
    }]


# Other actions


def test_integration_create_by_vendor_name_reused(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    service = run(pd, "pagerduty:service:create", service_inputs(sim))
    inputs = {"serviceId": service["serviceId"], "vendor": "Datadog"}

    first = run(pd, "pagerduty:integration:create", inputs)
    sim.reset_counts()
    second = run(pd, "pagerduty:integration:create", inputs)

    assert first["created"] is True
    assert second == {**first, "created": False}
    assert writes(sim) == {}
    vendors = sorted(i["vendor_id"] for i in integrations_of(sim, service["serviceId"]))
    assert vendors == ["PAM4FGS", "PRO19CT"]


def test_integration_create_unknown_vendor(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    service = run(pd, "pagerduty:service:create", service_inputs(sim))

    with pytest.raises(PagerDutyError, match="no vendor is named 'Nagios Deluxe'"):
        run(pd, "pagerduty:integration:create",
            {"serviceId": service["serviceId"], "vendor": "Nagios Deluxe"})


def test_service_get_by_exact_integration_key(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    first = run(pd, "pagerduty:service:create", service_inputs(sim, "one"))
    second = run(pd, "pagerduty:service:create", service_inputs(sim, "two"))

    found = run(pd, "pagerduty:service:get", {"integrationKey": second["integrationKey"]})

    assert found["serviceId"] == second["serviceId"]
    assert found["name"] == "two"
    assert found["integrationKey"] == second["integrationKey"]
    assert found["serviceId"] != first["serviceId"]


def test_service_get_rejects_partial_key(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    created = run(pd, "pagerduty:service:create", service_inputs(sim))

    with pytest.raises(PagerDutyError, match="no PagerDuty service has an integration"):
        run(pd, "pagerduty:service:get", {"integrationKey": created["integrationKey"][:-1]})


def test_service_get_by_id(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    created = run(pd, "pagerduty:service:create", service_inputs(sim))

    found = run(pd, "pagerduty:service:get", {"serviceId": created["serviceId"]})

    assert found == {
        "serviceId": created["serviceId"], "name": "checkout",
        "serviceUrl": created["serviceUrl"],
        "escalationPolicyId": sim.demo_escalation_policy_id,
        "integrationKey": created["integrationKey"], "account": "default",
    }


def test_abilities_list_and_check(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))

    listed = run(pd, "pagerduty:abilities:list", {})
    present = run(pd, "pagerduty:ability:check", {"ability": "teams"})
    absent = run(pd, "pagerduty:ability:check", {"ability": "warp_drive"})

    assert "teams" in listed["abilities"]
    assert present == {"available": True}
    assert absent == {"available": False}


def test_vendors_list_filters_by_name(sim: Simulator) -> None:
    outputs = run(pagerduty(token_section(sim)), "pagerduty:vendors:list", {"name": "data"})

    assert outputs["vendors"] == [{"id": "PAM4FGS", "name": "Datadog"}]


def test_credentials_absent_from_logs_outputs_errors(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pd = pagerduty(oauth_section(sim))
    outputs = run(pd, "pagerduty:service:create", service_inputs(sim))
    with pytest.raises(PagerDutyError) as caught:
        run(pd, "pagerduty:service:create", service_inputs(sim, onExisting="fail"))

    text = caplog.text + json.dumps(outputs) + caught.value.message + str(caught.value.hint)
    assert sim.client_secret not in text
    assert "pdus+_" not in text


def test_concurrent_same_name_creates_once(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    inputs = {"name": "racer", "escalationPolicyId": sim.demo_escalation_policy_id}
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            results.append(run(pd, "pagerduty:service:create", dict(inputs)))
        except BaseException as error:  # collected for the assertions below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sim.counts.get("POST /services") == 1
    assert sim.counts.get("POST /services/{id}/integrations") == 1
    assert len({result["serviceId"] for result in results}) == 1
    assert len({result["integrationKey"] for result in results}) == 1
    assert sum(1 for result in results if result["created"]) == 1


def test_name_taken_by_another_process_is_reused(sim: Simulator) -> None:
    pd = pagerduty(token_section(sim))
    sim.inject("POST /services", "slow", times=1, delay=0.5)
    inputs = {"name": "contested", "escalationPolicyId": sim.demo_escalation_policy_id}
    box: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: box.setdefault("out", run(pd, "pagerduty:service:create", inputs)))
    worker.start()
    deadline = time.monotonic() + 5
    while sim.counts.get("POST /services", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    other = pagerduty(token_section(sim)).client()
    rival = other.post("/services", {"service": {
        "name": "contested", "type": "service",
        "escalation_policy": {"id": sim.demo_escalation_policy_id,
                              "type": "escalation_policy_reference"}}})
    worker.join(10)

    assert box["out"]["serviceId"] == rival["service"]["id"]
    assert box["out"]["created"] is False
    services = [s for s in sim.state.services.values() if s["name"] == "contested"]
    assert len(services) == 1
