"""Handlers of ``debug:log`` and ``debug:wait``, for developing and testing templates."""

from __future__ import annotations

import json
import os
from pathlib import Path

from scaffolder.context import ActionContext
from scaffolder.errors import ActionError

__all__ = ["MAX_WAIT_SECONDS", "log", "wait"]

# Backstage's debug:wait rejects waits longer than 30 seconds unless the integrator raises it.
MAX_WAIT_SECONDS = 30.0
_MAX_LOGGED_FILE_BYTES = 64 * 1024


def log(ctx: ActionContext) -> None:
    """Write the message, and optionally the workspace's files, into the task log."""
    message = ctx.input.get("message")
    if message:
        ctx.logger.info("%s", message)
    if "extra" in ctx.input:
        ctx.logger.info("extra: %s", json.dumps(ctx.input["extra"], indent=2, default=str))
    listing = ctx.input.get("listWorkspace", False)
    if listing:
        _log_workspace(ctx, with_contents=listing == "with-contents")


def _log_workspace(ctx: ActionContext, *, with_contents: bool) -> None:
    files = sorted(_workspace_files(ctx.workspace))
    lines = [f"  - {path}" for path in files]
    ctx.logger.info("Workspace:\n%s", "\n".join(lines) if lines else "  (empty)")
    if not with_contents:
        return
    for relative in files:
        ctx.logger.info("%s:\n%s", relative, _file_preview(ctx.workspace / relative))


def _workspace_files(workspace: Path) -> list[str]:
    found: list[str] = []
    for folder, _, names in os.walk(workspace):
        for name in names:
            found.append((Path(folder) / name).relative_to(workspace).as_posix())
    return found


def _file_preview(path: Path) -> str:
    if path.is_symlink():
        return f"(symlink to {os.readlink(path)})"
    with path.open("rb") as handle:
        data = handle.read(_MAX_LOGGED_FILE_BYTES + 1)
    if b"\0" in data:
        return "(binary file)"
    text = data[:_MAX_LOGGED_FILE_BYTES].decode("utf-8", errors="replace")
    if len(data) > _MAX_LOGGED_FILE_BYTES:
        text += f"\n(truncated after {_MAX_LOGGED_FILE_BYTES} bytes)"
    return text


def wait(ctx: ActionContext) -> None:
    """Wait for the given duration, returning early (and raising) when the task is cancelled."""
    seconds = (
        float(ctx.input.get("minutes", 0)) * 60
        + float(ctx.input.get("seconds", 0))
        + float(ctx.input.get("milliseconds", 0)) / 1000
    )
    if seconds > MAX_WAIT_SECONDS:
        raise ActionError(
            f"waiting {seconds:g} seconds is longer than the maximum of {MAX_WAIT_SECONDS:g}",
            action=ctx.action_id,
            hint="wait at most 30 seconds per step",
        )
    if ctx.dry_run:
        ctx.logger.info("Dry run: not waiting %g seconds", seconds)
        return
    ctx.logger.info("Waiting %g seconds", seconds)
    ctx.cancelled.wait(seconds)
    ctx.check_cancelled()
