from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scaffolder.actions.catalog import write
from scaffolder.context import ActionContext
from scaffolder.errors import ActionError
from scaffolder.paths import actions_dir
from scaffolder.pathsafety import UnsafePathError

ENTITY: dict[str, Any] = {
    "apiVersion": "backstage.io/v1alpha1",
    "kind": "Component",
    "metadata": {
        "name": "payments",
        "description": "Takes payments: cards, transfers and «vouchers»",
        "annotations": {"pagerduty.com/service-id": "PXYZ123"},
    },
    "spec": {"type": "service", "lifecycle": "experimental", "owner": "group:default/platform"},
}


def make_context(
    workspace: Path, action_input: dict[str, Any], dry_run: bool = False
) -> ActionContext:
    return ActionContext(
        action_id="catalog:write",
        input=action_input,
        workspace=workspace,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
        task_id="task-1",
        step_id="catalog",
        dry_run=dry_run,
    )


def test_manifest_valid() -> None:
    manifest = yaml.safe_load((actions_dir() / "catalog" / "write.yaml").read_text("utf-8"))

    jsonschema.Draft202012Validator.check_schema(manifest["input"])
    jsonschema.Draft202012Validator.check_schema(manifest["output"])
    module_name, _, function_name = manifest["handler"].partition(":")
    assert getattr(importlib.import_module(module_name), function_name) is write
    assert manifest["id"] == "catalog:write"
    assert manifest["supportsDryRun"] is True


def test_write_default_file(tmp_path: Path) -> None:
    write(make_context(tmp_path, {"entity": ENTITY}))

    text = (tmp_path / "catalog-info.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text) == ENTITY
    assert text.startswith("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n")
    assert "«vouchers»" in text


def test_write_nested_path(tmp_path: Path) -> None:
    write(make_context(tmp_path, {"entity": ENTITY, "filePath": "services/pay/catalog.yaml"}))

    written = tmp_path / "services" / "pay" / "catalog.yaml"
    assert yaml.safe_load(written.read_text(encoding="utf-8")) == ENTITY
    assert sorted(p.name for p in written.parent.iterdir()) == ["catalog.yaml"]


def test_write_replaces_existing(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text("old: true\n", encoding="utf-8")

    write(make_context(tmp_path, {"entity": ENTITY}))

    assert yaml.safe_load((tmp_path / "catalog-info.yaml").read_text("utf-8")) == ENTITY


def test_write_in_dry_run(tmp_path: Path) -> None:
    write(make_context(tmp_path, {"entity": ENTITY}, dry_run=True))

    assert (tmp_path / "catalog-info.yaml").is_file()


@pytest.mark.parametrize("file_path", ["../catalog-info.yaml", "a/../../x.yaml", "/tmp/x.yaml"])
def test_write_rejects_outside_path(tmp_path: Path, file_path: str) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()

    with pytest.raises(UnsafePathError, match="filePath") as caught:
        write(make_context(workspace, {"entity": ENTITY, "filePath": file_path}))

    assert repr(file_path) in str(caught.value)
    assert sorted(tmp_path.iterdir()) == [workspace]
    assert list(workspace.iterdir()) == []


def test_write_rejects_symlinked_folder(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    outside = tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    (workspace / "link").symlink_to(outside, target_is_directory=True)

    with pytest.raises(UnsafePathError, match="resolves through a symlink"):
        write(make_context(workspace, {"entity": ENTITY, "filePath": "link/catalog-info.yaml"}))

    assert list(outside.iterdir()) == []


def test_write_rejects_symlinked_file(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    target = tmp_path / "victim.yaml"
    target.write_text("keep: me\n", encoding="utf-8")
    (workspace / "catalog-info.yaml").symlink_to(target)

    with pytest.raises(UnsafePathError, match="resolves through a symlink"):
        write(make_context(workspace, {"entity": ENTITY}))

    assert target.read_text(encoding="utf-8") == "keep: me\n"


def test_write_allows_inner_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)

    write(make_context(tmp_path, {"entity": ENTITY, "filePath": "alias/catalog-info.yaml"}))

    assert (tmp_path / "real" / "catalog-info.yaml").is_file()


def test_write_rejects_folder_target(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").mkdir()

    with pytest.raises(ActionError, match="is a folder"):
        write(make_context(tmp_path, {"entity": ENTITY}))
