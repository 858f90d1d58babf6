"""Handlers of ``fs:delete``, ``fs:rename`` and ``fs:readdir``: file operations in the workspace.

Every path is relative to the workspace; absolute paths, ``..`` and symlinks that resolve
outside the workspace are rejected with :class:`~scaffolder.pathsafety.UnsafePathError`.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from scaffolder.context import ActionContext
from scaffolder.errors import ActionError
from scaffolder.pathsafety import safe_join, split_relative

__all__ = ["delete", "readdir", "rename"]

_GLOB_CHARACTERS = frozenset("*?[")


# fs:delete ----------------------------------------------------------------------------------


def delete(ctx: ActionContext) -> None:
    """Delete files and folders of the workspace; each entry is a path or a glob pattern."""
    for pattern in ctx.input["files"]:
        ctx.check_cancelled()
        matches = _expand(ctx, str(pattern))
        if not matches:
            ctx.logger.info("Nothing to delete for %r: no such file or folder", pattern)
        for relative in matches:
            _delete_one(ctx, relative)


def _expand(ctx: ActionContext, pattern: str) -> list[str]:
    """Return the workspace-relative paths ``pattern`` names that exist, sorted."""
    parts = split_relative(pattern, root=ctx.workspace, what="file")
    if not parts:
        raise ActionError(
            f"file {pattern!r} names the workspace itself, which fs:delete cannot delete",
            action=ctx.action_id,
            hint="list the files or folders inside the workspace to delete",
        )
    relative = "/".join(parts)
    if not _GLOB_CHARACTERS.intersection(relative):
        return [relative] if os.path.lexists(ctx.workspace / relative) else []
    found = glob.glob(relative, root_dir=ctx.workspace, recursive=True, include_hidden=True)
    return sorted({Path(match).as_posix() for match in found if match})


def _delete_one(ctx: ActionContext, relative: str) -> None:
    parent_relative, _, name = relative.rpartition("/")
    parent = safe_join(ctx.workspace, parent_relative, what="file")
    path = parent / name
    if not os.path.lexists(path):
        return  # removed already, with a folder matched earlier by the same pattern
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)
    ctx.logger.info("Deleted %s", relative)


# fs:rename ----------------------------------------------------------------------------------


def rename(ctx: ActionContext) -> None:
    """Rename (move) files and folders inside the workspace, in the order given."""
    for item in ctx.input["files"]:
        ctx.check_cancelled()
        _rename_one(ctx, str(item["from"]), str(item["to"]), bool(item.get("overwrite", False)))


def _rename_one(ctx: ActionContext, source_text: str, dest_text: str, overwrite: bool) -> None:
    source = safe_join(ctx.workspace, source_text, what="from")
    dest = safe_join(ctx.workspace, dest_text, what="to")
    if not os.path.lexists(source):
        raise ActionError(
            f"cannot rename {source_text!r}: no such file or folder in the workspace",
            action=ctx.action_id,
        )
    if source == ctx.workspace or dest == ctx.workspace:
        raise ActionError(
            f"cannot rename {source_text!r} to {dest_text!r}: the workspace "
            "itself cannot be renamed or replaced",
            action=ctx.action_id,
        )
    if dest.is_relative_to(source) and dest != source:
        raise ActionError(
            f"cannot move {source_text!r} into itself ({dest_text!r})", action=ctx.action_id
        )
    if os.path.lexists(dest):
        if not overwrite:
            raise ActionError(
                f"cannot rename {source_text!r} to {dest_text!r}: the destination exists",
                action=ctx.action_id,
                hint="set overwrite: true to replace it",
            )
        _remove(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, dest)
    ctx.logger.info("Renamed %s to %s", source_text, dest_text)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


# fs:readdir ---------------------------------------------------------------------------------


def readdir(ctx: ActionContext) -> None:
    """List files and folders under each path, as Backstage's ``fs:readdir`` outputs them.

    Each entry is ``{name, path, fullPath}``, ``path`` being relative to the workspace.
    Symlinks are listed as files and never followed, as Node's ``readdir`` reports them.
    """
    files: list[dict[str, str]] = []
    folders: list[dict[str, str]] = []
    recursive = bool(ctx.input.get("recursive", False))
    for path_text in ctx.input["paths"]:
        folder = safe_join(ctx.workspace, str(path_text), what="path")
        if not folder.is_dir():
            raise ActionError(
                f"cannot read {path_text!r}: not a folder in the workspace", action=ctx.action_id
            )
        _list(ctx, folder, recursive, files, folders)
    ctx.output("files", files)
    ctx.output("folders", folders)


def _list(
    ctx: ActionContext,
    folder: Path,
    recursive: bool,
    files: list[dict[str, str]],
    folders: list[dict[str, str]],
) -> None:
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        element = _element(ctx.workspace, Path(entry.path))
        if entry.is_dir(follow_symlinks=False):
            folders.append(element)
            if recursive:
                _list(ctx, Path(entry.path), recursive, files, folders)
        else:
            files.append(element)


def _element(workspace: Path, path: Path) -> dict[str, str]:
    return {
        "name": path.name,
        "path": path.relative_to(workspace).as_posix(),
        "fullPath": str(path),
    }
