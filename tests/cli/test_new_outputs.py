"""scaffold new: outputs, prompts, verbose logs and the README's first template."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from scaffolder.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_template(folder: Path, spec: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "audit"},
        "spec": {"type": "service", **spec},
    }
    (folder / "template.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return folder


def commit_count(repo: Path) -> int:
    result = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"],
                            capture_output=True, text=True, check=True)
    return int(result.stdout)


def readme_template_yaml() -> str:
    """Return the ``template.yaml`` block of the README's "Your first template" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your first template", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README's first-template section has no yaml block"
    return match.group(1)


def test_readme_first_template_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "hello"
    (folder / "skeleton").mkdir(parents=True)
    (folder / "template.yaml").write_text(readme_template_yaml(), encoding="utf-8")
    (folder / "skeleton" / "README.md").write_text("# ${{ values.name }}\n", encoding="utf-8")
    (folder / "skeleton" / "${{ values.name }}.txt").write_text("hi\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    validated = run_cli("templates", "validate", "./hello")
    created = run_cli("new", "--template", "./hello", "--set", "name=world",
                      "--state-dir", str(tmp_path / "state"))

    assert validated.exit_code == 0, validated.output
    assert created.exit_code == 0, created.output
    output = tmp_path / "world"
    assert (output / "README.md").read_text(encoding="utf-8") == "# world\n"
    assert (output / "world.txt").is_file()
    assert commit_count(output) == 1


def test_no_terminal_never_prompts(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", {
        "parameters": {"required": ["name", "size"], "properties": {
            "name": {"type": "string"}, "size": {"type": "integer"}}},
        "steps": [{"id": "log", "action": "debug:log", "input": {"message": "hi"}}],
    })
    output = tmp_path / "out"

    result = subprocess.run(
        [sys.executable, "-m", "scaffolder", "new", "-t", str(folder), "--output", str(output),
         "--state-dir", str(tmp_path / "state")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"},
    )

    assert result.returncode == 2, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr
    assert "name" in error_lines[0]
    assert "size" in error_lines[0]
    assert "Traceback" not in result.stderr
    assert not output.exists()


def test_spec_output_shown_at_end(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", {
        "parameters": {"properties": {"name": {"type": "string"}}},
        "steps": [{"id": "log", "action": "debug:log", "input": {"message": "hi"}}],
        "output": {
            "links": [{"title": "Repository", "url": "https://example.com/${{ parameters.name }}"}],
            "text": [{"title": "Next steps", "content": "Run ${{ parameters.name }} locally"}],
        },
    })

    result = run_cli("new", "-t", str(folder), "--no-input", "--set", "name=pay",
                     "--output", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state"))

    assert result.exit_code == 0, result.output
    assert "Repository: https://example.com/pay" in result.stdout
    assert "Next steps" in result.stdout
    assert "Run pay locally" in result.stdout


def test_later_step_failure_writes_nothing(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", {
        "steps": [
            {"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton"}},
            {"id": "rename", "action": "fs:rename",
             "input": {"files": [{"from": "missing.txt", "to": "other.txt"}]}},
        ],
    })
    (folder / "skeleton").mkdir()
    (folder / "skeleton" / "a.txt").write_text("a", encoding="utf-8")
    output = tmp_path / "out"

    result = run_cli("new", "-t", str(folder), "--no-input", "--output", str(output),
                     "--state-dir", str(tmp_path / "state"))

    assert result.exit_code == 1, result.output
    assert not output.exists()
    assert list(tmp_path.glob(".out.scaffold-*")) == []
    task_line = re.search(r"task (\S+) failed", result.stderr)
    assert task_line is not None, result.stderr
    assert f"--resume {task_line.group(1)}" in result.stderr


def test_absolute_rendered_file_name_rejected(tmp_path: Path) -> None:
    escaped = tmp_path / "abs-escaped"
    folder = write_template(tmp_path / "t", {
        "steps": [{"id": "fetch", "action": "fetch:template",
                   "input": {"url": "./skeleton", "values": {"name": str(escaped)}}}],
    })
    (folder / "skeleton").mkdir()
    (folder / "skeleton" / "${{ values.name }}.txt").write_text("a", encoding="utf-8")
    output = tmp_path / "out"

    result = run_cli("new", "-t", str(folder), "--no-input", "--output", str(output),
                     "--state-dir", str(tmp_path / "state"))

    assert result.exit_code == 1, result.output
    assert "step fetch" in result.stderr
    assert not escaped.with_suffix(".txt").exists()
    assert not output.exists()


def test_verbose_shows_debug_logs(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", {
        "steps": [{"id": "log", "action": "debug:log", "input": {"message": "hi"}}],
    })
    args = ["new", "-t", str(folder), "--no-input", "--state-dir", str(tmp_path / "state")]

    quiet = run_cli(*args, "--output", str(tmp_path / "quiet"))
    verbose = run_cli("--verbose", *args, "--output", str(tmp_path / "verbose"))

    assert quiet.exit_code == 0, quiet.output
    assert verbose.exit_code == 0, verbose.output
    assert "DEBUG " not in quiet.stderr
    assert "DEBUG " in verbose.stderr


def test_show_commands_print_json() -> None:
    template = run_cli("templates", "show", "service-with-pagerduty", "--json")
    action = run_cli("actions", "show", "publish:git", "--json")

    assert template.exit_code == 0, template.output
    assert action.exit_code == 0, action.output
    assert json.loads(template.stdout)["name"] == "service-with-pagerduty"
    assert json.loads(action.stdout)["id"] == "publish:git"


def test_ci_script_runs_required_checks() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert "python3 -m venv" in script
    assert "'.[test]'" in script
    assert re.search(r"ruff check [^\n]*\bsrc\b", script)
    assert re.search(r"mypy --strict [^\n]*\bsrc\b", script)
    assert "python -m pytest -q" in script
    assert "python -m pytest -q" in readme
