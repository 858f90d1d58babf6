"""The GitHub Actions example of docs/ci.md, run as written against the simulator.

The example's files and command come from the document. Only what must point at this machine
changes: the PagerDuty base URL (the simulator), the repository URL (a local bare repository)
and the escalation policy id (the simulator's).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.pagerduty.simulator import Simulator

CI_DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"


def yaml_block(text: str, first_line: str) -> str:
    """Return the body of the fenced YAML block that starts with ``first_line``."""
    match = re.search(r"```yaml\n(" + re.escape(first_line) + r"\n.*?)```", text, re.S)
    assert match is not None, f"docs/ci.md has no YAML block starting with {first_line!r}"
    return match.group(1)


def github_command(text: str) -> list[str]:
    """Return the arguments of the ``scaffold`` call in the GitHub Actions workflow."""
    workflow = yaml.safe_load(yaml_block(text, "# .github/workflows/new-service.yml"))
    step = next(step for step in workflow["jobs"]["scaffold"]["steps"]
                if step.get("id") == "scaffold")
    script = step["run"].replace("\\\n", " ")
    command = next(line for line in script.splitlines() if line.strip().startswith("scaffold "))
    words = shlex.split(command.split(">", 1)[0])
    assert words[0] == "scaffold"
    return words[1:]


def test_github_actions_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = CI_DOC.read_text(encoding="utf-8")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(remote)], check=True)
    (tmp_path / "ci").mkdir()

    with Simulator() as sim:
        config = yaml.safe_load(yaml_block(text, "# ci/app-config.yaml"))
        assert config["pagerDuty"]["apiToken"] == "${PAGERDUTY_TOKEN}"
        config["pagerDuty"]["apiBaseUrl"] = sim.url
        (tmp_path / "ci" / "app-config.yaml").write_text(yaml.safe_dump(config))
        values = yaml.safe_load(yaml_block(text, "# ci/new-service.yaml"))
        values["repoUrl"] = str(remote)
        values["escalationPolicyId"] = sim.demo_escalation_policy_id
        (tmp_path / "ci" / "new-service.yaml").write_text(yaml.safe_dump(values))
        arguments = [word.replace("$RUNNER_TEMP", str(tmp_path / "runner"))
                     for word in github_command(text)]
        environment = {"PAGERDUTY_TOKEN": sim.api_token, "GIT_TOKEN": "unused-git-token",
                       "NO_COLOR": "1"}

        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(main, arguments, env=environment)

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "completed"
    assert report["steps"]["publish"]["output"]["remoteUrl"]
    assert (tmp_path / "runner" / "new-service" / "catalog-info.yaml").is_file()
    assert sim.api_token not in result.output
    pushed = subprocess.run(["git", "-C", str(remote), "show", "main:catalog-info.yaml"],
                            capture_output=True, text=True, check=True).stdout
    assert "pagerduty.com/service-id" in pushed

