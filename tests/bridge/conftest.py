from __future__ import annotations

from collections.abc import Iterator

import pytest
from bridge_support import Contract, Server, load_contract, thread_server, write_config

from scaffolder.pagerduty.simulator import Simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture(scope="module")
def server(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One bridge in a thread of the test process, shared by the tests of a module."""
    config = write_config(tmp_path_factory.mktemp("bridge"), sim)
    with thread_server(config) as running:
        yield running


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract()
