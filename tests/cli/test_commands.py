"""``scaffold templates``, ``scaffold actions`` and the top-level options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import run_cli, write_template


def test_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.output.startswith("scaffold, version ")


def test_help_documents_exit_codes() -> None:
    result = run_cli("--help")
    assert "Exit codes:" in result.output
    assert "130" in result.output


def test_templates_list_json() -> None:
    result = run_cli("templates", "list", "--json")
    assert result.exit_code == 0
    assert [item["name"] for item in json.loads(result.stdout)] == ["service-with-pagerduty"]


def test_templates_show_lists_parameters() -> None:
    result = run_cli("templates", "show", "service-with-pagerduty")
    assert result.exit_code == 0
    assert "escalationPolicyId" in result.output
    assert "pagerduty:service:create" in result.output


def test_builtin_templates_validate() -> None:
    result = run_cli("templates", "validate", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["valid"] is True


def test_validate_reports_static_problems(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "a", "action": "debug:log",
         "input": {"message": "${{ steps.b.output.x }} ${{ parameters.nope }}"}},
        {"id": "b", "action": "debug:nothing"},
        {"id": "c", "action": "debug:log", "input": {"message": 5, "bogus": True}},
        {"id": "d", "action": "debug:log", "input": {"message": "${{ paramters.x }}"}},
    ], parameters={"properties": {"name": {"type": "string"}}})
    result = run_cli("templates", "validate", str(folder), "--json")
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["templates"][str(folder)]
    text = "\n".join(problems)
    assert "step 'b' is referenced before it runs" in text
    assert "parameter 'nope' is not declared" in text
    assert "unknown action 'debug:nothing'" in text
    assert "input.message: 5 is not of type 'string'" in text
    assert "'bogus' was unexpected" in text
    assert "unknown variable 'paramters'" in text


def test_actions_list_json_has_schemas() -> None:
    result = run_cli("actions", "list", "--json")
    actions = {item["id"]: item for item in json.loads(result.stdout)}
    assert "pagerduty:service:create" in actions
    assert "publish:git" in actions
    assert actions["fetch:template"]["schema"]["input"]["type"] == "object"


def test_actions_show_unknown_action() -> None:
    result = run_cli("actions", "show", "fetch:templat")
    assert result.exit_code == 2
    assert "did you mean 'fetch:template'" in result.stderr


def test_version_runs_in_fresh_process() -> None:
    result = subprocess.run([sys.executable, "-m", "scaffolder", "--version"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_help_summaries_match_commands() -> None:
    from scaffolder.cli import COMMAND_SUMMARIES, LAZY_COMMANDS, main

    assert set(COMMAND_SUMMARIES) == set(LAZY_COMMANDS)
    for name in LAZY_COMMANDS:
        command = main.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None
        assert run_cli(name, "--help").exit_code == 0


def test_version_fast_path_matches_click() -> None:
    fast = subprocess.run([sys.executable, "-m", "scaffolder", "--version"],
                          capture_output=True, text=True, check=True).stdout
    assert fast == run_cli("--version").output


def test_validate_notes_steps_needing_trust(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "cc", "action": "fetch:cookiecutter", "input": {"url": "./cc"}}])
    result = run_cli("templates", "validate", str(folder), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["needsTrust"] == {str(folder): ["cc: fetch:cookiecutter"]}
