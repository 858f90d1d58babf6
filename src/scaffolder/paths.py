"""Locations of the data folders shipped with the package (actions, schemas, templates)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``actions``, ``schemas`` or ``templates``).

    An installed wheel carries them under ``scaffolder/_data``; a source checkout (editable
    install or tests) has them at the top of the repository.
    """
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"data folder {name!r} not found beside the scaffolder package")


def actions_dir() -> Path:
    return data_dir("actions")


def schemas_dir() -> Path:
    return data_dir("schemas")


def templates_dir() -> Path:
    return data_dir("templates")
