"""The output folder: checked before a run, filled only after every step succeeded."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from scaffolder.errors import OutputDirError


def check_output_dir(path: Path, *, force: bool) -> None:
    """Raise unless ``path`` is missing, an empty folder, or ``force`` is set."""
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"output {str(path)!r} exists and is not a folder",
                             hint="choose another --output")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise OutputDirError(
            f"output folder {str(path)!r} is not empty",
            hint="choose another --output, empty the folder, or pass --force to write into it",
        )


def make_workspace(output: Path) -> Path:
    """Create the temporary workspace beside ``output``, so the final move is a rename."""
    output.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{output.name}.scaffold-", dir=output.parent))


def install_workspace(workspace: Path, output: Path) -> None:
    """Move the finished workspace to ``output``.

    A missing or empty ``output`` is replaced with one rename, so readers never see a half
    written folder. A non-empty one (only with ``--force``) receives the files one by one.
    """
    if output.is_dir() and not any(output.iterdir()):
        output.rmdir()
    if not output.exists():
        os.replace(workspace, output)
        return
    shutil.copytree(workspace, output, symlinks=True, dirs_exist_ok=True)
    shutil.rmtree(workspace, ignore_errors=True)


def discard_workspace(workspace: Path) -> None:
    shutil.rmtree(workspace, ignore_errors=True)
