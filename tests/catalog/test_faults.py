"""Annotating under rate limits, and with an OAuth token that lacks a scope."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from tests.catalog.conftest import (
    KEY_PAY,
    SEEDS,
    World,
    component,
    events,
    seed,
    write_config,
    write_entity,
)

from scaffolder.pagerduty.simulator import Simulator

ENTITIES = 300


def test_rate_limit_storm_finishes(tmp_path: Path) -> None:
    services = [
        {"id": f"PS{n:05d}", "name": f"svc-{n}", "integrations": [events(f"{n:032x}")]}
        for n in range(ENTITIES)
    ]
    with Simulator(seed("main", services)) as sim:
        world = World({"main": sim}, write_config(tmp_path / "app-config.yaml", {"main": sim}))
        for n in range(ENTITIES):
            name = f"svc-{n}"
            write_entity(
                tmp_path / "catalog",
                name,
                component(name, {"pagerduty.com/service-id": f"PS{n:05d}"}),
            )
        sim.inject("GET /services", "429", times=2, reset_after=1)
        sim.inject("POST /services/{id}/integrations", "429", probability=0.3, reset_after=0)

        result = world.run("catalog", "annotate", "--create-integration", str(tmp_path / "catalog"))

        assert result.exit_code == 0, result.output
        assert f"{ENTITIES} updated" in result.stdout
        assert sim.counts["GET /services"] == 3 + 2
        assert sim.counts["POST /services/{id}/integrations"] > ENTITIES
        with sim.state.lock:
            backstage = [i for i in sim.state.integrations.values() if i["vendor_id"] == "PRO19CT"]
        assert len(backstage) == ENTITIES
        assert len({i["service_id"] for i in backstage}) == ENTITIES


def test_missing_scope_named(tmp_path: Path) -> None:
    with ExitStack() as stack:
        sim = stack.enter_context(Simulator(SEEDS["main"]))
        sim.granted_scopes = {"services.write", "vendors.read"}
        config = write_config(tmp_path / "app-config.yaml", {"main": sim}, oauth=True)
        world = World({"main": sim}, config)
        write_entity(
            tmp_path, "pay", component("payments", {"pagerduty.com/integration-key": KEY_PAY})
        )

        result = world.run("catalog", "annotate", str(tmp_path))

        assert result.exit_code == 1
        assert "services.read" in result.stderr
        assert "Traceback" not in result.output
