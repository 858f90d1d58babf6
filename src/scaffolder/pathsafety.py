"""Path checks for every action that takes a path: nothing may leave its root folder.

A relative path from a template or a step input is joined to its root (the workspace, a
target folder, a skeleton) with :func:`safe_join`. It rejects absolute paths, ``..``
segments, and existing symlinks along the way that resolve outside the root.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from scaffolder.errors import ActionError

__all__ = ["UnsafePathError", "is_inside", "safe_join", "split_relative"]


class UnsafePathError(ActionError):
    """A path that would read or write outside the folder it must stay in.

    ``path`` is the offending value as given, ``root`` the folder it must stay in.
    """

    def __init__(self, message: str, *, path: str, root: Path, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.root = root


def is_inside(root: Path, path: Path | str) -> bool:
    """Return whether ``path``, with every symlink resolved, is ``root`` or below it."""
    real_root = os.path.realpath(root)
    real_path = os.path.realpath(path)
    return real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep)


def split_relative(relative: str, *, root: Path, what: str = "path") -> tuple[str, ...]:
    """Split ``relative`` into its segments, rejecting forms that could leave ``root``.

    Empty and ``.`` segments are dropped, so ``""``, ``.`` and ``./`` name the root itself.
    An absolute path, a ``..`` segment, a backslash-separated ``..`` or a NUL character
    raises :class:`UnsafePathError`.
    """
    if "\0" in relative:
        raise UnsafePathError(
            f"{what} {relative!r} contains a NUL character", path=relative, root=root
        )
    if relative.startswith(("/", "\\")) or os.path.isabs(relative):
        raise UnsafePathError(
            f"{what} {relative!r} is absolute, but it must be relative to {str(root)!r}",
            path=relative,
            root=root,
            hint="use a relative path such as './service'",
        )
    parts = tuple(part for part in PurePosixPath(relative).parts if part not in ("", "."))
    if any(part == ".." or ".." in part.split("\\") for part in parts):
        raise UnsafePathError(
            f"{what} {relative!r} contains '..', which could leave {str(root)!r}",
            path=relative,
            root=root,
            hint="use a path below the folder, without '..'",
        )
    return parts


def safe_join(root: Path, relative: str, *, what: str = "path") -> Path:
    """Join ``relative`` to ``root`` and return the result, which is guaranteed inside ``root``.

    Raises :class:`UnsafePathError` for an absolute path, a ``..`` segment, or a path whose
    existing symlinks resolve outside ``root``. The returned path is not resolved, so a
    symlink inside the root that points inside the root is kept as written.
    """
    joined = root.joinpath(*split_relative(relative, root=root, what=what))
    if not is_inside(root, joined):
        raise UnsafePathError(
            f"{what} {relative!r} resolves through a symlink to "
            f"{os.path.realpath(joined)!r}, outside {str(root)!r}",
            path=relative,
            root=root,
            hint="remove the symlink or choose a path that stays inside the folder",
        )
    return joined
