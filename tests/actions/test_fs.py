"""fs:delete, fs:rename and fs:readdir through the real Runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaffolder.runner import Runner, TaskResult, TaskSpec


def run_step(tmp_path: Path, action: str, step_input: dict[str, Any]) -> TaskResult:
    steps = [{"id": "step", "action": action, "input": step_input}]
    spec = TaskSpec(template={"spec": {"steps": steps}}, parameters={})
    return Runner().run(spec, task_id="task-1", workspace=tmp_path / "ws")


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    for relative in ["a.txt", "b.txt", "keep.md", "docs/x.txt", "docs/sub/y.txt", ".hidden.txt"]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)
    return root


def test_delete_paths_and_globs(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:delete", {"files": ["*.txt", "docs", "missing.txt"]})
    assert result.status == "completed", result.error
    assert sorted(p.name for p in workspace.iterdir()) == ["keep.md"]


def test_delete_recursive_glob(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:delete", {"files": ["docs/**/*.txt"]})
    assert result.status == "completed", result.error
    assert not (workspace / "docs/x.txt").exists()
    assert not (workspace / "docs/sub/y.txt").exists()
    assert (workspace / "a.txt").exists()


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/hostname", ".", "docs/../.."])
def test_delete_outside_rejected(tmp_path: Path, workspace: Path, path: str) -> None:
    (tmp_path / "outside.txt").write_text("x")
    result = run_step(tmp_path, "fs:delete", {"files": [path]})
    assert result.status == "failed"
    assert (tmp_path / "outside.txt").exists()
    assert (workspace / "a.txt").exists()


def test_delete_symlink_not_followed(tmp_path: Path, workspace: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "precious").write_text("x")
    (workspace / "link").symlink_to(tmp_path / "outside")
    result = run_step(tmp_path, "fs:delete", {"files": ["link/precious"]})
    assert result.status == "failed"
    assert (tmp_path / "outside" / "precious").exists()


def test_rename_files(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:rename", {"files": [
        {"from": "a.txt", "to": "new/a.md"},
        {"from": "docs", "to": "documentation"},
    ]})
    assert result.status == "completed", result.error
    assert (workspace / "new/a.md").read_text() == "a.txt"
    assert (workspace / "documentation/sub/y.txt").exists()


def test_rename_existing_destination_needs_overwrite(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:rename", {"files": [{"from": "a.txt", "to": "b.txt"}]})
    assert result.status == "failed"
    assert result.error is not None
    assert "overwrite" in (result.error.hint or "")
    result = run_step(tmp_path, "fs:rename",
                      {"files": [{"from": "a.txt", "to": "b.txt", "overwrite": True}]})
    assert result.status == "completed", result.error
    assert (workspace / "b.txt").read_text() == "a.txt"


def test_rename_missing_source_fails(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:rename", {"files": [{"from": "nope", "to": "x"}]})
    assert result.status == "failed"
    assert result.error is not None
    assert "'nope'" in result.error.message


def test_rename_outside_rejected(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:rename", {"files": [{"from": "a.txt", "to": "../a.txt"}]})
    assert result.status == "failed"
    assert not (tmp_path / "a.txt").exists()


def test_readdir_shape(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:readdir", {"paths": ["docs"]})
    assert result.status == "completed", result.error
    output = result.step_outputs["step"]
    assert output["files"] == [{"name": "x.txt", "path": "docs/x.txt",
                                "fullPath": str(workspace / "docs/x.txt")}]
    assert [folder["path"] for folder in output["folders"]] == ["docs/sub"]


def test_readdir_recursive(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:readdir", {"paths": ["./"], "recursive": True})
    assert result.status == "completed", result.error
    paths = [entry["path"] for entry in result.step_outputs["step"]["files"]]
    assert paths == [".hidden.txt", "a.txt", "b.txt", "docs/sub/y.txt", "docs/x.txt", "keep.md"]


def test_readdir_outside_rejected(tmp_path: Path, workspace: Path) -> None:
    result = run_step(tmp_path, "fs:readdir", {"paths": [".."]})
    assert result.status == "failed"
