"""``POST /v2/dry-run`` and ``POST /v2/actions/{id}/run``: runs that are not stored as tasks.

A dry run writes the request's ``directoryContents`` as the template's folder, runs the
template with ``dry_run`` set (actions without dry-run support are skipped with made-up
outputs, as in Backstage) and returns the log, the workspace's files and the output. Both kinds
of run happen in a temporary folder that is removed before the response is sent.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import stat
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scaffolder.bridge.http import HttpError
from scaffolder.bridge.models import DirectoryFile
from scaffolder.bridge.validation import parameter_errors
from scaffolder.context import Event
from scaffolder.errors import ScaffolderError, StepError, TemplateError
from scaffolder.parameters import collect_parameters
from scaffolder.pathsafety import UnsafePathError, safe_join
from scaffolder.runner import Runner, TaskSpec
from scaffolder.templates import API_VERSION, Template, load_template

RUN_STEP_ID = "run"


def dry_run(
    runner: Runner,
    *,
    scratch: Path,
    document: Mapping[str, Any],
    values: Mapping[str, Any],
    secrets: Mapping[str, str],
    files: list[DirectoryFile],
    principal: str,
) -> dict[str, Any]:
    """Run ``document`` in dry-run mode and return Backstage's ``DryRunResult`` body.

    Raises :class:`HttpError` 400 for an invalid template, values or file, with the
    ``errors`` list of Backstage's validation response for invalid values.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dry-run-", dir=scratch) as temporary:
        root = Path(temporary)
        template_dir = root / "template"
        template_dir.mkdir()
        _write_files(template_dir, files)
        template = _load_document(document, root / "document", template_dir)
        problems = parameter_errors(template, values)
        if problems:
            raise HttpError(400, "InputError", "invalid values", {"errors": problems})
        parameters = collect_parameters(template, values=values, interactive=False)

        events: list[Event] = []
        result = runner.run(
            TaskSpec(template=template.document, parameters=parameters,
                     template_dir=template_dir, user={"ref": principal}),
            task_id=f"dry-run-{uuid.uuid4()}",
            workspace=root / "workspace",
            secrets=secrets,
            dry_run=True,
            on_event=events.append,
        )
        return {
            "log": [{"body": event.body} for event in events],
            "directoryContents": _read_files(root / "workspace"),
            "output": result.output,
            "steps": [_step_summary(index, step) for index, step in enumerate(template.steps)],
        }


def run_action(
    runner: Runner,
    *,
    scratch: Path,
    action_id: str,
    action_input: dict[str, Any],
    secrets: Mapping[str, str],
    dry_run: bool,
    principal: str,
) -> dict[str, Any]:
    """Run one action in a fresh workspace; return ``{output, log}``.

    Raises :class:`HttpError` 404 for an unknown action, 400 for invalid input, and 422 (with
    the log) when the action fails.
    """
    if action_id not in runner.registry:
        raise HttpError(404, "NotFoundError", f"unknown action {action_id!r}")
    try:
        runner.registry.validate_input(action_id, action_input, step_id=RUN_STEP_ID)
    except StepError as error:
        raise HttpError(400, "InputError", error.message) from error

    document = {
        "apiVersion": API_VERSION,
        "kind": "Template",
        "metadata": {"name": "action-run"},
        "spec": {"steps": [{"id": RUN_STEP_ID, "name": action_id, "action": action_id,
                            "input": action_input}]},
    }
    scratch.mkdir(parents=True, exist_ok=True)
    events: list[Event] = []
    with tempfile.TemporaryDirectory(prefix="action-", dir=scratch) as temporary:
        result = runner.run(
            TaskSpec(template=document, parameters={}, user={"ref": principal}),
            task_id=f"action-{uuid.uuid4()}",
            workspace=Path(temporary) / "workspace",
            secrets=secrets,
            dry_run=dry_run,
            on_event=events.append,
        )
    log = [{"body": event.body} for event in events]
    if result.status != "completed":
        message = result.error.message if result.error is not None else result.status
        raise HttpError(422, "ActionError", message, {"log": log})
    return {"output": result.step_outputs.get(RUN_STEP_ID, {}), "log": log}


def _write_files(template_dir: Path, files: list[DirectoryFile]) -> None:
    for file in files:
        if file.symlink:
            raise HttpError(400, "InputError",
                            f"directoryContents entry {file.path!r} is a symlink, which a dry "
                            "run does not accept")
        try:
            target = safe_join(template_dir, file.path, what="directoryContents path")
            content = base64.b64decode(file.base64Content, validate=True)
        except UnsafePathError as error:
            raise HttpError(400, "InputError", error.message) from error
        except (binascii.Error, ValueError) as error:
            raise HttpError(400, "InputError",
                            f"directoryContents entry {file.path!r} has invalid base64Content: "
                            f"{error}") from error
        try:
            _write_file(target, template_dir, content, executable=bool(file.executable))
        except OSError as error:
            raise HttpError(400, "InputError",
                            f"directoryContents path {file.path!r} cannot be written: "
                            f"{error.strerror or error}") from error


def _write_file(target: Path, template_dir: Path, content: bytes, *, executable: bool) -> None:
    if target == template_dir or target.is_dir():
        raise IsADirectoryError(21, "it names a folder, not a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    if executable:
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _load_document(document: Mapping[str, Any], folder: Path, template_dir: Path) -> Template:
    """Validate the request's template like a template file, with its files in ``template_dir``."""
    folder.mkdir()
    path = folder / "template.yaml"
    path.write_text(yaml.safe_dump(dict(document), sort_keys=False), encoding="utf-8")
    try:
        template = load_template(str(path))
    except TemplateError as error:
        raise HttpError(400, "InputError", error.message.replace(str(path), "template")) from error
    except ScaffolderError as error:
        raise HttpError(400, "InputError", error.message) from error
    return dataclasses.replace(template, directory=template_dir, path=template_dir)


def _read_files(workspace: Path) -> list[dict[str, Any]]:
    """Return the workspace's regular files, base64-encoded; symlinks are not followed."""
    files: list[dict[str, Any]] = []
    if not workspace.is_dir():
        return files
    for folder, folder_names, names in os.walk(workspace):
        folder_names.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            encoded = base64.b64encode(path.read_bytes()).decode("ascii")
            # Backstage's client reads base64Content; the contract's SerializedFile also
            # requires content, which carries the same base64 text.
            files.append({
                "path": path.relative_to(workspace).as_posix(),
                "base64Content": encoded,
                "content": encoded,
                "executable": bool(path.stat().st_mode & stat.S_IXUSR),
            })
    return files


def _step_summary(index: int, step: Mapping[str, Any]) -> dict[str, Any]:
    step_id = str(step.get("id") or f"step-{index + 1}")
    return {"id": step_id, "name": str(step.get("name") or step_id),
            "action": str(step.get("action", ""))}
