"""Finding an entity's PagerDuty service: annotations, accounts and the errors of bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from scaffolder.cli import main
from scaffolder.errors import InputError, PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.lookup import find_service, mask_key, target_for
from scaffolder.pagerduty.simulator import BACKSTAGE_VENDOR_ID, DEMO_SEED, Simulator
from scaffolder.redact import Redactor

SEED: dict[str, Any] = {
    **DEMO_SEED,
    "services": [
        {
            "name": "payments-api",
            "escalation_policy": "Demo Escalation Policy",
            "integrations": [
                {"type": "generic_events_api_inbound_integration", "vendor": BACKSTAGE_VENDOR_ID}
            ],
        }
    ],
}
UNKNOWN_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[Simulator, Simulator]]:
    with Simulator(SEED) as first, Simulator(SEED, subdomain="second") as second:
        yield first, second


def only_service(sim: Simulator) -> dict[str, Any]:
    return dict(next(iter(sim.state.services.values())))


def backstage_key(sim: Simulator) -> str:
    service = only_service(sim)
    return str(sim.state.integrations_of(service["id"])[0]["integration_key"])


def accounts_config(tmp_path: Path, first: Simulator, second: Simulator) -> Path:
    accounts = [
        {"id": "main", "isDefault": True, **first.app_config()},
        {"id": "second", **second.app_config()},
    ]
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump({"pagerDuty": {"accounts": accounts}}), encoding="utf-8")
    return path


def write_entity(folder: Path, annotations: dict[str, str], name: str = "payments") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    path = folder / f"{name}.yaml" if name != "payments" else folder / "catalog-info.yaml"
    path.write_text(yaml.safe_dump(entity), encoding="utf-8")
    return path


def scaffold(config: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["-v", "--config", str(config), "pagerduty", *args], env={"NO_COLOR": "1"}
    )


def assert_no_credentials(result: Result, *sims: Simulator) -> None:
    for sim in sims:
        assert sim.api_token not in result.output
        assert sim.client_secret not in result.output


def test_service_by_annotation_default_account(
    tmp_path: Path, sims: tuple[Simulator, Simulator]
) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)
    service = only_service(first)
    entity = write_entity(tmp_path, {"pagerduty.com/service-id": service["id"]})

    result = scaffold(config, "service", str(entity), "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["id"] == service["id"]
    assert summary["account"] == "main"
    assert summary["name"] == "payments-api"
    assert summary["integration_key"] == backstage_key(first)
    assert summary["escalation_policy"]["name"] == "Demo Escalation Policy"
    assert summary["status"] == "active"
    assert_no_credentials(result, first, second)


def test_account_annotation_selects_account(
    tmp_path: Path, sims: tuple[Simulator, Simulator]
) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)
    annotations = {
        "pagerduty.com/integration-key": backstage_key(second),
        "pagerduty.com/account": "second",
    }
    write_entity(tmp_path / "repo", annotations)

    result = scaffold(config, "service", str(tmp_path / "repo"), "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["account"] == "second"
    assert summary["id"] == only_service(second)["id"]


def test_entity_selected_by_ref(tmp_path: Path, sims: tuple[Simulator, Simulator]) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)
    write_entity(tmp_path, {"pagerduty.com/service-id": only_service(first)["id"]}, "alpha")
    write_entity(tmp_path, {}, "beta")

    result = scaffold(config, "service", str(tmp_path), "--entity", "component:default/alpha")

    assert result.exit_code == 0, result.output
    assert "payments-api" in result.output
    assert backstage_key(first) not in result.output
    assert mask_key(backstage_key(first)) in result.output


def test_unknown_integration_key(tmp_path: Path, sims: tuple[Simulator, Simulator]) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)

    result = scaffold(config, "oncall", "--integration-key", UNKNOWN_KEY)

    assert result.exit_code == 1
    assert "no PagerDuty service on account 'main' has an integration with key 0123…cdef" in (
        result.output
    )
    assert UNKNOWN_KEY not in result.output
    assert_no_credentials(result, first, second)


def test_unknown_service_id(tmp_path: Path, sims: tuple[Simulator, Simulator]) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)
    entity = write_entity(tmp_path, {"pagerduty.com/service-id": "PNOPE00"})

    result = scaffold(config, "incidents", str(entity))

    assert result.exit_code == 1
    assert "PagerDuty service 'PNOPE00' does not exist on account 'main'" in result.output
    assert_no_credentials(result, first, second)


def test_entity_without_annotation(tmp_path: Path, sims: tuple[Simulator, Simulator]) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)
    entity = write_entity(tmp_path, {"backstage.io/techdocs-ref": "dir:."})
    first.reset_counts()

    result = scaffold(config, "changes", str(entity))

    assert result.exit_code == 2
    assert "entity 'component:default/payments'" in result.output
    assert "has no PagerDuty annotation" in result.output
    assert first.counts == {}


def test_unknown_account_annotation(tmp_path: Path, sims: tuple[Simulator, Simulator]) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)
    annotations = {
        "pagerduty.com/service-id": only_service(first)["id"],
        "pagerduty.com/account": "nope",
    }
    entity = write_entity(tmp_path, annotations)

    result = scaffold(config, "service", str(entity))

    assert result.exit_code == 2
    assert "PagerDuty account 'nope' is not configured" in result.output
    assert "pagerduty.com/account annotation" in result.output


def test_unknown_account_option(tmp_path: Path, sims: tuple[Simulator, Simulator]) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)

    result = scaffold(config, "oncall", "--service-id", "P1", "--account", "elsewhere")

    assert result.exit_code == 2
    assert "'elsewhere' is not configured; configured accounts: 'main', 'second'" in (
        result.output
    )


def test_malformed_entity_ref(tmp_path: Path, sims: tuple[Simulator, Simulator]) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)
    write_entity(tmp_path, {"pagerduty.com/service-id": "P1"})

    result = scaffold(config, "service", str(tmp_path), "--entity", "component:/payments")

    assert result.exit_code == 2
    assert "entity ref 'component:/payments' is malformed" in result.output


def test_service_id_and_key_together(tmp_path: Path, sims: tuple[Simulator, Simulator]) -> None:
    first, second = sims
    config = accounts_config(tmp_path, first, second)

    result = scaffold(config, "service", "--service-id", "P1", "--integration-key", "k" * 32)

    assert result.exit_code == 2
    assert "either a service id or an integration key" in result.output


def test_find_service_by_key_library(sims: tuple[Simulator, Simulator]) -> None:
    first, _ = sims
    pd = PagerDuty.from_config({"pagerDuty": first.app_config()}, redactor=Redactor(), env={})

    found = find_service(pd, target_for(integration_key=backstage_key(first)))

    assert found.id == only_service(first)["id"]
    assert found.integration_key == backstage_key(first)
    assert found.escalation_policy_id == first.demo_escalation_policy_id
    pd.close()


def test_find_service_errors_library(sims: tuple[Simulator, Simulator]) -> None:
    first, _ = sims
    pd = PagerDuty.from_config({"pagerDuty": first.app_config()}, redactor=Redactor(), env={})

    with pytest.raises(PagerDutyError) as missing:
        find_service(pd, target_for(service_id="PNOPE00"))
    with pytest.raises(InputError):
        find_service(pd, target_for(service_id="PNOPE00", account="other"))

    assert missing.value.status == 404
    pd.close()


def test_mask_key_keeps_ends() -> None:
    assert mask_key("abcdefghijklmnopqrstuvwxyz") == "abcd…wxyz"
    assert mask_key("short") == "…"
