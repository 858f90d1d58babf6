"""Fixtures for driving ``scaffold`` end to end."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from scaffolder.cli import main
from scaffolder.pagerduty.simulator import Simulator

SERVICE_VALUES = {
    "name": "payments",
    "description": "Takes payments",
    "owner": "group:default/platform",
}


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


@pytest.fixture
def pd_config(tmp_path: Path, simulator: Simulator) -> Path:
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump({"pagerDuty": simulator.app_config()}), encoding="utf-8")
    return path


@pytest.fixture
def bare_remote(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(remote)], check=True)
    return remote


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def service_args(simulator: Simulator, **overrides: Any) -> list[str]:
    values = {**SERVICE_VALUES, "escalationPolicyId": simulator.demo_escalation_policy_id,
              **overrides}
    args: list[str] = []
    for key, value in values.items():
        args += ["--set", f"{key}={value}"]
    return args


def write_template(folder: Path, steps: list[dict[str, Any]],
                   parameters: dict[str, Any] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "custom"},
        "spec": {"type": "service", "parameters": parameters or {"properties": {}},
                 "steps": steps},
    }
    (folder / "template.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return folder
