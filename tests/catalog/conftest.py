"""Fixtures for the catalog commands: three simulated PagerDuty accounts and catalog files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from scaffolder.cli import main
from scaffolder.pagerduty.simulator import Simulator

# Keys are 32 hex digits like PagerDuty's; KEY_DIGITS is all digits, which would load as a
# number if it were written without quotes.
KEY_PAY = "a1" * 16
KEY_LEDGER = "b2" * 16
KEY_SEARCH = "c3" * 16
KEY_EVENTS_ONLY = "d4" * 16
KEY_DIGITS = "12345678901234567890123456789012"
KEY_UNKNOWN = "ee" * 16

POLICY = {"name": "Primary", "escalation_rules": [{"targets": ["Ada"]}]}


def backstage(key: str) -> dict[str, Any]:
    return {
        "type": "generic_events_api_inbound_integration",
        "name": "Backstage",
        "vendor": "PRO19CT",
        "integration_key": key,
    }


def events(key: str) -> dict[str, Any]:
    return {"type": "events_api_v2_inbound_integration", "name": "Events", "integration_key": key}


def seed(subdomain: str, services: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "account": {"subdomain": subdomain},
        "users": [{"name": "Ada", "email": "ada@example.com"}],
        "escalation_policies": [POLICY],
        "services": [{"escalation_policy": "Primary", **service} for service in services],
    }


SEEDS = {
    "main": seed(
        "main",
        [
            {"id": "PPAY001", "name": "payments", "integrations": [backstage(KEY_PAY)]},
            {"id": "PLED001", "name": "ledger", "integrations": [backstage(KEY_LEDGER)]},
            {"id": "PNOINT1", "name": "no-integration", "integrations": [events(KEY_EVENTS_ONLY)]},
            {"id": "PDIGIT1", "name": "digits", "integrations": [backstage(KEY_DIGITS)]},
        ],
    ),
    "eu": seed(
        "eu",
        [{"id": "PSEARCH", "name": "search", "integrations": [backstage(KEY_SEARCH)]}],
    ),
    "spare": seed("spare", [{"id": "PSPARE1", "name": "spare"}]),
}


@dataclass
class World:
    """Running simulators by account id, and an app-config that points at them."""

    sims: dict[str, Simulator]
    config: Path

    def run(self, *args: str) -> Result:
        runner = CliRunner()
        return runner.invoke(main, ["--config", str(self.config), *args], catch_exceptions=False)

    def run_json(self, *args: str) -> tuple[int, Any]:
        result = self.run(*args, "--json")
        return result.exit_code, json.loads(result.stdout)

    def writes(self) -> dict[str, int]:
        """Non-GET requests received by each simulator."""
        return {
            account: sum(n for route, n in sim.counts.items() if not route.startswith("GET "))
            for account, sim in self.sims.items()
        }

    def reset_counts(self) -> None:
        for sim in self.sims.values():
            sim.reset_counts()


def write_config(path: Path, sims: dict[str, Simulator], **extra: Any) -> Path:
    accounts = []
    for index, (account_id, sim) in enumerate(sims.items()):
        entry: dict[str, Any] = {"id": account_id, "isDefault": index == 0}
        entry.update(sim.app_config(oauth=bool(extra.get("oauth"))))
        if extra.get("oauth"):
            entry["oauth"]["tokenUrl"] = sim.token_url
        accounts.append(entry)
    section: dict[str, Any] = {"accounts": accounts}
    if extra.get("read_only"):
        section["readOnly"] = True
    path.write_text(yaml.safe_dump({"pagerDuty": section}), encoding="utf-8")
    return path


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with ExitStack() as stack:
        sims = {name: stack.enter_context(Simulator(data)) for name, data in SEEDS.items()}
        yield World(sims, write_config(tmp_path / "app-config.yaml", sims))


def component(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> str:
    """Return a catalog-info.yaml document of a Component, as a Backstage file looks."""
    lines = [
        "apiVersion: backstage.io/v1alpha1",
        "kind: Component",
        "metadata:",
        f"  name: {name}",
    ]
    if annotations:
        lines.append("  annotations:")
        lines.extend(f"    {key}: {json.dumps(value)}" for key, value in annotations.items())
    lines += ["spec:", "  type: service", "  owner: team-a", "  lifecycle: production"]
    depends_on = spec.get("dependsOn")
    if depends_on is not None:
        lines.append("  dependsOn:")
        lines.extend(f"    - {ref}" for ref in depends_on)
    return "\n".join(lines) + "\n"


def write_entity(folder: Path, name: str, text: str) -> Path:
    path = folder / name / "catalog-info.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
