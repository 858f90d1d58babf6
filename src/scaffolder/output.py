"""The output folder: checked before a run, filled only after every step succeeded."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from scaffolder.errors import OutputDirError


def check_output_dir(path: Path, *, force: bool) -> None:
    """Raise unless ``path`` is missing, an empty folder, or ``force`` is set.

    A folder that contains a git repository is refused even with ``force``: the result would
    replace the repository's history with a new first commit.
    """
    try:
        _check_output_dir(path, force=force)
    except OSError as error:
        raise OutputDirError(f"cannot use output {str(path)!r}: {error.strerror or error}",
                             hint="choose another --output") from None


def _check_output_dir(path: Path, *, force: bool) -> None:
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"output {str(path)!r} exists and is not a folder",
                             hint="choose another --output")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputDirError(f"output {str(path)!r} is inside {str(parent)!r}, which "
                                     "is not a folder", hint="choose another --output")
            break
    if not path.is_dir() or not any(path.iterdir()):
        return
    if (path / ".git").exists():
        raise OutputDirError(
            f"output folder {str(path)!r} contains a git repository",
            hint="choose another --output; scaffold new writes a new repository and would "
            "replace its history",
        )
    if not force:
        raise OutputDirError(
            f"output folder {str(path)!r} is not empty",
            hint="choose another --output, empty the folder, or pass --force to write into it",
        )


def make_workspace(output: Path) -> Path:
    """Create the temporary workspace beside ``output``, so the final move is a rename."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{output.name}.scaffold-", dir=output.parent))
    except OSError as error:
        raise OutputDirError(
            f"cannot create a workspace beside {str(output)!r}: {error.strerror or error}",
            hint="choose an --output in a folder you can write to",
        ) from None


def install_workspace(workspace: Path, output: Path) -> None:
    """Move the finished workspace to ``output``.

    A missing or empty ``output`` is replaced with one rename, so readers never see a half
    written folder. A non-empty one (only with ``--force``) receives the files one by one.
    """
    if output.is_dir() and not any(output.iterdir()):
        output.rmdir()
    if not output.exists():
        # mkdtemp made the workspace private (0700); the result gets the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        workspace.chmod(0o777 & ~umask)
        os.replace(workspace, output)
        return
    shutil.copytree(workspace, output, symlinks=True, dirs_exist_ok=True)
    shutil.rmtree(workspace, ignore_errors=True)


def discard_workspace(workspace: Path) -> None:
    shutil.rmtree(workspace, ignore_errors=True)
