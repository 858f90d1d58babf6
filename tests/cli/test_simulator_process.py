"""``scaffold new`` against ``scaffold pagerduty simulate`` running as a second process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from tests.cli.conftest import run_cli


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def simulator_process() -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffolder", "pagerduty", "simulate", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    fields: dict[str, str] = {}
    deadline = time.monotonic() + 10
    for line in process.stdout:
        key, _, value = line.strip().partition(":")
        fields[key.strip()] = value.strip()
        if key.strip() == "demo escalation policy" or time.monotonic() > deadline:
            break
    try:
        yield f"http://127.0.0.1:{port}", fields
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def _service_count(url: str, token: str, name: str) -> int:
    response = httpx.get(f"{url}/services", params={"query": name},
                         headers={"Authorization": f"Token token={token}",
                                  "Accept": "application/vnd.pagerduty+json;version=2"})
    response.raise_for_status()
    return sum(1 for service in response.json()["services"] if service["name"] == name)


def test_new_against_simulator_process(tmp_path: Path,
                                       simulator_process: tuple[str, dict[str, str]]) -> None:
    url, fields = simulator_process
    token = fields["API token"]
    config = tmp_path / "app-config.yaml"
    config.write_text(yaml.safe_dump({"pagerDuty": {
        "apiToken": token, "apiBaseUrl": url, "eventsBaseUrl": f"{url}/events/v2",
    }}), encoding="utf-8")
    args = ["--set", "description=Takes payments", "--set", "owner=platform",
            "--set", f"escalationPolicyId={fields['demo escalation policy']}",
            "--set", "name=payments"]
    catalogs = []
    for run in range(2):
        output = tmp_path / f"run{run}"
        result = run_cli("--config", str(config), "new", "-t", "service-with-pagerduty",
                         "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                         str(output), *args)
        assert result.exit_code == 0, result.output
        catalogs.append((output / "catalog-info.yaml").read_text(encoding="utf-8"))
    assert catalogs[0] == catalogs[1]
    assert _service_count(url, token, "payments") == 1
