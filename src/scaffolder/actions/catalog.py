"""The ``catalog:write`` action: write a catalog entity as YAML into the workspace."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from scaffolder.context import ActionContext
from scaffolder.errors import ActionError
from scaffolder.pathsafety import safe_join

DEFAULT_FILE_PATH = "catalog-info.yaml"


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _entity_label(entity: dict[str, Any]) -> str:
    metadata = entity.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{entity.get('kind', '<no kind>')}:{name or '<no name>'}"


def write(ctx: ActionContext) -> None:
    """Write ``input.entity`` as YAML to ``input.filePath`` (default ``catalog-info.yaml``)."""
    entity: dict[str, Any] = ctx.input["entity"]
    file_path: str = ctx.input.get("filePath") or DEFAULT_FILE_PATH
    target = safe_join(ctx.workspace, file_path, what="filePath")
    if target.is_dir():
        raise ActionError(
            f"filePath {file_path!r} is a folder",
            hint="give a file name such as 'catalog-info.yaml'",
        )

    try:
        text = yaml.safe_dump(entity, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as error:
        raise ActionError(f"entity cannot be written as YAML: {error}") from error

    ctx.logger.info("writing entity %s to %s", _entity_label(entity), file_path)
    _write_atomically(target, text)
