"""Bad input to ``scaffold new``: one clear line, exit 2 or 1, and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import run_cli, service_args, write_template

from scaffolder.pagerduty.simulator import Simulator


def _new(tmp_path: Path, template: Path | str, *extra: str) -> Any:
    output = tmp_path / "out"
    result = run_cli("new", "-t", str(template), "--no-input", "--state-dir",
                     str(tmp_path / "state"), "--output", str(output), *extra)
    return result, output


def _assert_clean_failure(result: Any, output: Path, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0]
    assert "Traceback" not in result.output
    assert not output.exists()
    assert list(output.parent.glob(f".{output.name}.scaffold-*")) == []


def test_template_not_yaml(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "template.yaml").write_text("steps: [unclosed\n", encoding="utf-8")
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 2, "YAML")


def test_template_of_another_kind(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "template.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n",
        encoding="utf-8")
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 2, "Component")


def test_template_of_another_api_version(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "template.yaml").write_text(
        "apiVersion: scaffolder.backstage.io/v1beta2\nkind: Template\nmetadata: {name: x}\n"
        "spec: {type: service, steps: []}\n", encoding="utf-8")
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 2, "v1beta2")


def test_unknown_action(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [{"id": "x", "action": "fetch:nothing"}])
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 2, "unknown action 'fetch:nothing'", "step x")


def test_step_input_breaking_schema(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log", "input": {"message": 42}}])
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 2, "step log (debug:log)", "input.message",
                          "not of type 'string'")


def test_value_breaking_parameter_schema(tmp_path: Path) -> None:
    folder = write_template(
        tmp_path / "t", [{"id": "log", "action": "debug:log", "input": {"message": "hi"}}],
        parameters={"properties": {"size": {"type": "integer", "maximum": 3}}})
    result, output = _new(tmp_path, folder, "--set", "size=9")
    _assert_clean_failure(result, output, 2, "size")


def test_no_input_lists_every_missing_value(tmp_path: Path) -> None:
    result, output = _new(tmp_path, "service-with-pagerduty")
    _assert_clean_failure(result, output, 2, "name", "description", "owner",
                          "escalationPolicyId")


def test_jinja_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton"}}])
    (folder / "skeleton").mkdir()
    (folder / "skeleton" / "README.md").write_text("# hi\n\n{% if %}\n", encoding="utf-8")
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 1, "README.md", "line 3")


def test_jinja_syntax_error_in_step_names_step(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log", "input": {"message": "${{ parameters.x | }}"}}])
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 2, "step log", "input.message")


def test_sandbox_escape_is_blocked(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log",
         "input": {"message": "${{ ''.__class__.__mro__ }}"}}])
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 1, "__class__", "blocked")


@pytest.mark.parametrize("target", ["../x", "/tmp/escape", "a/../../x"])
def test_target_path_outside_workspace(tmp_path: Path, target: str) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "fetch", "action": "fetch:template",
         "input": {"url": "./skeleton", "targetPath": target}}])
    (folder / "skeleton").mkdir()
    (folder / "skeleton" / "a.txt").write_text("a", encoding="utf-8")
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 1, "step fetch")
    assert not (tmp_path / "x").exists()


def test_rendered_file_name_outside_workspace(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "fetch", "action": "fetch:template",
         "input": {"url": "./skeleton", "values": {"name": "../../escaped"}}}])
    (folder / "skeleton").mkdir()
    (folder / "skeleton" / "${{ values.name }}.txt").write_text("a", encoding="utf-8")
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 1, "step fetch")
    assert not list(tmp_path.rglob("escaped.txt"))


def test_symlink_out_of_skeleton(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton"}}])
    (folder / "skeleton").mkdir()
    os.symlink("/etc/passwd", folder / "skeleton" / "passwd")
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 1, "passwd")


def test_output_folder_not_empty(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log", "input": {"message": "hi"}}])
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine", encoding="utf-8")
    result = run_cli("new", "-t", str(folder), "--no-input", "--output", str(output),
                     "--state-dir", str(tmp_path / "state"))
    assert result.exit_code == 2
    assert "is not empty" in result.stderr
    assert [path.name for path in output.iterdir()] == ["keep.txt"]


def test_force_writes_into_non_empty_folder(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton"}}])
    (folder / "skeleton").mkdir()
    (folder / "skeleton" / "new.txt").write_text("new", encoding="utf-8")
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine", encoding="utf-8")
    result = run_cli("new", "-t", str(folder), "--no-input", "--force", "--output",
                     str(output), "--state-dir", str(tmp_path / "state"))
    assert result.exit_code == 0, result.output
    assert (output / "keep.txt").read_text() == "mine"
    assert (output / "new.txt").read_text() == "new"


def test_git_url_that_does_not_exist(tmp_path: Path) -> None:
    result, output = _new(tmp_path, f"file://{tmp_path}/missing.git//templates?ref=main")
    _assert_clean_failure(result, output, 2)


def test_push_rejected_leaves_nothing(tmp_path: Path, simulator: Simulator, pd_config: Path,
                                      bare_remote: Path) -> None:
    hook = bare_remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    output = tmp_path / "out"
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                     str(output), *service_args(simulator, repoUrl=str(bare_remote)))
    assert result.exit_code == 1
    assert "scaffold --config" in result.stderr
    assert "new --resume" in result.stderr
    assert "--state-dir" in result.stderr
    assert not output.exists()
    refs = subprocess.run(["git", "-C", str(bare_remote), "show-ref"], capture_output=True,
                          text=True)
    assert refs.stdout == ""


def test_missing_template_option(tmp_path: Path) -> None:
    result = run_cli("new", "--no-input", "--state-dir", str(tmp_path / "state"))
    assert result.exit_code == 2
    assert "missing --template" in result.stderr


def test_resume_unknown_task(tmp_path: Path) -> None:
    result = run_cli("new", "--resume", "nope", "--state-dir", str(tmp_path / "state"))
    assert result.exit_code == 2
    assert "no saved task 'nope'" in result.stderr


def test_step_referenced_before_it_runs(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log", "input": {"message": "${{ steps.later.output.x }}"}},
        {"id": "later", "action": "debug:log", "input": {"message": "x"}}])
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 2, "step 'later' is referenced before it runs")


def test_cookiecutter_needs_trust(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "cc", "action": "fetch:cookiecutter", "input": {"url": "./cc"}}])
    (folder / "cc").mkdir()
    (folder / "cc" / "a.txt").write_text("{{ cookiecutter.x }}", encoding="utf-8")
    result, output = _new(tmp_path, folder)
    _assert_clean_failure(result, output, 2, "outside the sandbox", "cc: fetch:cookiecutter")
    assert "--trust" in result.stderr


def test_cookiecutter_runs_with_trust(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "cc", "action": "fetch:cookiecutter",
         "input": {"url": "./cc", "values": {"x": "hello"}}}])
    (folder / "cc").mkdir()
    (folder / "cc" / "a.txt").write_text("{{ cookiecutter.x }}", encoding="utf-8")
    result, output = _new(tmp_path, folder, "--trust")
    assert result.exit_code == 0, result.output
    assert (output / "a.txt").read_text(encoding="utf-8") == "hello"


def test_force_refuses_existing_repository(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log", "input": {"message": "hi"}}])
    output = tmp_path / "out"
    output.mkdir()
    subprocess.run(["git", "init", "-q", str(output)], check=True)
    (output / "mine.txt").write_text("mine", encoding="utf-8")
    result = run_cli("new", "-t", str(folder), "--no-input", "--force", "--output",
                     str(output), "--state-dir", str(tmp_path / "state"))
    assert result.exit_code == 2
    assert "contains a git repository" in result.stderr
    assert sorted(path.name for path in output.iterdir()) == [".git", "mine.txt"]


def test_output_inside_a_file(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log", "input": {"message": "hi"}}])
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    result = run_cli("new", "-t", str(folder), "--no-input", "--output",
                     str(tmp_path / "afile" / "sub"), "--state-dir", str(tmp_path / "state"))
    assert result.exit_code == 2
    assert "is not a folder" in result.stderr
    assert "Traceback" not in result.output


def test_pagerduty_template_without_config(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAGERDUTY_TOKEN", "PD_CLIENT_ID", "PD_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result, output = _new(tmp_path, "service-with-pagerduty", "--set", "name=pay",
                          "--set", "description=d", "--set", "owner=platform",
                          "--set", "escalationPolicyId=PX")
    _assert_clean_failure(result, output, 2, "no PagerDuty account is configured")


def test_dry_run_cannot_be_resumed(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log", "input": {"message": "hi"}}])
    result, _ = _new(tmp_path, folder, "--dry-run")
    assert result.exit_code == 0
    assert not (tmp_path / "state").exists()
    resumed = run_cli("new", "--resume", "x", "--dry-run")
    assert resumed.exit_code == 2
    assert "cannot be combined" in resumed.stderr


def test_json_error_goes_to_stdout(tmp_path: Path) -> None:
    result, _ = _new(tmp_path, "service-with-pagerduty", "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["status"] == "error"
    assert report["error"]["name"] == "ParameterError"
    assert "escalationPolicyId" in report["error"]["message"]


def test_output_folder_gets_usual_mode(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "log", "action": "debug:log", "input": {"message": "hi"}}])
    result, output = _new(tmp_path, folder)
    assert result.exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert output.stat().st_mode & 0o777 == 0o777 & ~umask


def test_empty_required_value_is_missing(tmp_path: Path) -> None:
    folder = write_template(
        tmp_path / "t", [{"id": "log", "action": "debug:log", "input": {"message": "hi"}}],
        parameters={"required": ["name"], "properties": {"name": {"type": "string"}}})
    result, output = _new(tmp_path, folder, "--set", "name=")
    _assert_clean_failure(result, output, 2, "name")
