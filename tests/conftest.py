"""Shared fixtures for the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep task files and the template code cache out of the real home folder."""
    monkeypatch.setenv("SCAFFOLDER_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setenv("SCAFFOLDER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _reset_scaffolder_logger() -> Iterator[None]:
    """Undo the handler and level that a CLI invocation installs, so caplog sees every test."""
    yield
    logger = logging.getLogger("scaffolder")
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
