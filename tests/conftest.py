"""Shared fixtures for the whole suite."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator

import pytest

# A runner started with SIGINT ignored (a shell's background job, some CI agents) passes that
# on to every child process, and Python children then never raise KeyboardInterrupt, so the
# tests that stop a child with Ctrl-C would hang. With a Python handler here, children start
# with the default action instead, as exec resets handled signals.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _private_state_and_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep task files and the template code cache out of the real home folder.

    Session-wide, because servers that module-scoped fixtures start keep rendering between
    tests, after a per-test setting would have been undone.
    """
    names = ("SCAFFOLDER_STATE_DIR", "SCAFFOLDER_CACHE_DIR")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["SCAFFOLDER_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    os.environ["SCAFFOLDER_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _reset_scaffolder_logger() -> Iterator[None]:
    """Undo the handler and level a CLI invocation installs, so caplog captures every test."""
    yield
    logger = logging.getLogger("scaffolder")
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
