"""fetch:template, fetch:template:file, fetch:plain and fetch:plain:file through the real Runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaffolder.runner import Runner, TaskResult, TaskSpec


def run_steps(tmp_path: Path, steps: list[dict[str, Any]], **parameters: Any) -> TaskResult:
    document = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "test"},
        "spec": {"steps": steps},
    }
    spec = TaskSpec(template=document, parameters=parameters, template_dir=tmp_path / "template")
    return Runner().run(spec, task_id="task-1", workspace=tmp_path / "workspace")


def write(root: Path, files: dict[str, str]) -> None:
    for relative, contents in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(contents, encoding="utf-8")


def error_of(result: TaskResult) -> str:
    assert result.status == "failed"
    assert result.error is not None
    return result.error.message


def test_fetch_template_renders_skeleton(tmp_path: Path) -> None:
    write(tmp_path / "template", {"skeleton/${{ values.name }}/README.md": "# ${{ values.name }}"})
    result = run_steps(tmp_path, [{
        "id": "fetch", "action": "fetch:template",
        "input": {"url": "./skeleton", "targetPath": "./out",
                  "values": {"name": "${{ parameters.name }}"}},
    }], name="billing")
    assert result.status == "completed", result.error
    assert (tmp_path / "workspace/out/billing/README.md").read_text() == "# billing"


def test_fetch_template_remote_url_rejected(tmp_path: Path) -> None:
    (tmp_path / "template").mkdir()
    result = run_steps(tmp_path, [{
        "id": "fetch", "action": "fetch:template",
        "input": {"url": "https://github.com/acme/skeleton"},
    }])
    assert "only relative paths inside the template folder" in error_of(result)


def test_fetch_template_url_outside_template_rejected(tmp_path: Path) -> None:
    write(tmp_path, {"template/x": "", "elsewhere/f.txt": "x"})
    result = run_steps(tmp_path, [{
        "id": "fetch", "action": "fetch:template", "input": {"url": "../elsewhere"},
    }])
    assert "outside the template folder" in error_of(result)


@pytest.mark.parametrize("target", ["../escape", "/tmp/escape", "a/../../escape"])
def test_fetch_template_target_outside_rejected(tmp_path: Path, target: str) -> None:
    write(tmp_path / "template", {"skeleton/f.txt": "x"})
    result = run_steps(tmp_path, [{
        "id": "fetch", "action": "fetch:template",
        "input": {"url": "./skeleton", "targetPath": target},
    }])
    assert "targetPath" in error_of(result)
    assert not (tmp_path / "escape").exists()


def test_fetch_template_extension_with_compat_rejected(tmp_path: Path) -> None:
    write(tmp_path / "template", {"skeleton/f.txt": "x"})
    result = run_steps(tmp_path, [{
        "id": "fetch", "action": "fetch:template",
        "input": {"url": "./skeleton", "templateFileExtension": True, "cookiecutterCompat": True},
    }])
    assert "templateFileExtension cannot be combined" in error_of(result)


def test_fetch_template_both_copy_lists_rejected(tmp_path: Path) -> None:
    write(tmp_path / "template", {"skeleton/f.txt": "x"})
    result = run_steps(tmp_path, [{
        "id": "fetch", "action": "fetch:template",
        "input": {"url": "./skeleton", "copyWithoutRender": ["a"],
                  "copyWithoutTemplating": ["b"]},
    }])
    assert "cannot be used together" in error_of(result)


def test_fetch_template_error_names_step_and_file(tmp_path: Path) -> None:
    write(tmp_path / "template", {"skeleton/docs/a.md": "line\n{% for %}\n"})
    result = run_steps(tmp_path, [{
        "id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton"},
    }])
    message = error_of(result)
    assert message.startswith("step fetch (fetch:template)")
    assert "file docs/a.md, line 2" in message


def test_fetch_template_logs_skipped_existing(tmp_path: Path) -> None:
    write(tmp_path / "template", {"skeleton/a.txt": "new"})
    write(tmp_path / "workspace", {"a.txt": "old"})
    events: list[Any] = []
    spec = TaskSpec(
        template={"spec": {"steps": [{"id": "f", "action": "fetch:template",
                                      "input": {"url": "./skeleton"}}]}},
        parameters={}, template_dir=tmp_path / "template",
    )
    result = Runner().run(spec, task_id="t", workspace=tmp_path / "workspace",
                          on_event=events.append)
    assert result.status == "completed"
    assert (tmp_path / "workspace/a.txt").read_text() == "old"
    messages = [event.body.get("message", "") for event in events]
    assert any("Kept 1 existing files because replace is false: a.txt" in m for m in messages)


def test_fetch_template_file_renders_one_file(tmp_path: Path) -> None:
    write(tmp_path / "template", {"files/README.md": "# ${{ values.name }}\n"})
    result = run_steps(tmp_path, [{
        "id": "readme", "action": "fetch:template:file",
        "input": {"url": "./files/README.md", "targetPath": "docs/README.md",
                  "values": {"name": "billing"}},
    }])
    assert result.status == "completed", result.error
    assert (tmp_path / "workspace/docs/README.md").read_text() == "# billing\n"


def test_fetch_template_file_keeps_existing(tmp_path: Path) -> None:
    write(tmp_path / "template", {"files/README.md": "new"})
    write(tmp_path / "workspace", {"README.md": "old"})
    result = run_steps(tmp_path, [{
        "id": "readme", "action": "fetch:template:file",
        "input": {"url": "./files/README.md", "targetPath": "README.md"},
    }])
    assert result.status == "completed", result.error
    assert (tmp_path / "workspace/README.md").read_text() == "old"


def test_fetch_plain_copies_without_templating(tmp_path: Path) -> None:
    write(tmp_path / "template", {"static/${{ values.x }}.txt": "${{ values.x }}"})
    write(tmp_path / "workspace", {"docs/${{ values.x }}.txt": "old"})
    result = run_steps(tmp_path, [{
        "id": "plain", "action": "fetch:plain",
        "input": {"url": "./static", "targetPath": "docs"},
    }])
    assert result.status == "completed", result.error
    assert (tmp_path / "workspace/docs/${{ values.x }}.txt").read_text() == "${{ values.x }}"


def test_fetch_plain_file_copies_one_file(tmp_path: Path) -> None:
    write(tmp_path / "template", {"files/LICENSE": "${{ not rendered }}"})
    result = run_steps(tmp_path, [{
        "id": "plain", "action": "fetch:plain:file",
        "input": {"url": "./files/LICENSE", "targetPath": "LICENSE"},
    }])
    assert result.status == "completed", result.error
    assert (tmp_path / "workspace/LICENSE").read_text() == "${{ not rendered }}"


def test_fetch_plain_file_target_required(tmp_path: Path) -> None:
    write(tmp_path / "template", {"files/LICENSE": "x"})
    result = run_steps(tmp_path, [{
        "id": "plain", "action": "fetch:plain:file", "input": {"url": "./files/LICENSE"},
    }])
    assert "targetPath" in error_of(result)
