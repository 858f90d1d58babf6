"""The ``pagerduty simulate`` command: options, printed text, and a real run until Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from click.testing import CliRunner

from scaffolder.cli_pagerduty import describe, pagerduty_group
from scaffolder.pagerduty.simulator import Simulator

SOURCE_DIR = Path(__file__).resolve().parents[2] / "src"


def test_simulate_help_lists_options() -> None:
    result = CliRunner().invoke(pagerduty_group, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output
    assert "--seed" in result.output


def test_simulate_invalid_seed_exits_2(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("servces: []\n", encoding="utf-8")
    result = CliRunner().invoke(pagerduty_group, ["simulate", "--seed", str(seed)])
    assert result.exit_code == 2
    assert "unknown seed keys ['servces']" in result.output


def test_simulate_missing_seed_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = CliRunner().invoke(pagerduty_group, ["simulate", "--seed", str(missing)])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_describe_has_urls_credentials_and_config() -> None:
    with Simulator() as sim:
        text = describe(sim)
        assert sim.url in text
        assert sim.api_token in text
        assert sim.client_id in text
        assert sim.client_secret in text
        assert "not the real PagerDuty" in text
        snippets = text.split("\n\n")
        token_config = yaml.safe_load(next(s for s in snippets if "apiToken" in s))
        assert token_config["pagerDuty"] == {
            "apiBaseUrl": sim.url,
            "eventsBaseUrl": f"{sim.url}/events/v2",
            "apiToken": sim.api_token,
        }
        oauth_config = yaml.safe_load(next(s for s in snippets if "clientId" in s))
        assert oauth_config["pagerDuty"]["oauth"]["subDomain"] == "demo"


def test_simulate_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(SOURCE_DIR), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-c",
        "from scaffolder.cli_pagerduty import pagerduty_group; pagerduty_group()",
        "simulate",
        "--port",
        "0",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        url = re.search(r"REST API:\s+(\S+)", text)
        token = re.search(r"API token:\s+(\S+)", text)
        assert url is not None, text
        assert token is not None, text
        headers = {"Authorization": f"Token token={token.group(1)}"}
        assert httpx.get(f"{url.group(1)}/abilities", headers=headers).status_code == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "stopping the PagerDuty simulator" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
