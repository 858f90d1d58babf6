"""Catalog commands on cases tests/catalog leaves out: exact key matching, an entity in a later
YAML document, and dependsOn refs that take the entity's own namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from tests.catalog.conftest import KEY_PAY, SEEDS, World, component, write_config, write_entity

from scaffolder.pagerduty.simulator import Simulator


@pytest.fixture
def catalog_world(tmp_path: Path) -> Iterator[World]:
    with ExitStack() as stack:
        sims = {name: stack.enter_context(Simulator(data)) for name, data in SEEDS.items()}
        yield World(sims, write_config(tmp_path / "app-config.yaml", sims))


def test_annotate_rejects_partial_key(catalog_world: World, tmp_path: Path) -> None:
    partial = KEY_PAY[:-2]
    path = write_entity(
        tmp_path, "pay", component("payments", {"pagerduty.com/integration-key": partial})
    )
    before = path.read_text()

    code, body = catalog_world.run_json("catalog", "annotate", str(tmp_path))

    assert code == 1
    assert body["entities"][0]["status"] == "problem"
    assert path.read_text() == before


def test_annotate_entity_in_second_document(catalog_world: World, tmp_path: Path) -> None:
    first = "# the team's location\nkind: Location  # kept\nspec: {targets: [a, b]}\n"
    second = component("payments", {"pagerduty.com/integration-key": KEY_PAY})
    path = tmp_path / "catalog-info.yaml"
    path.write_text(first + "---\n" + second, encoding="utf-8")

    result = catalog_world.run("catalog", "annotate", str(path))

    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.startswith(first + "---\n")
    documents = list(yaml.safe_load_all(text))
    assert documents[1]["metadata"]["annotations"]["pagerduty.com/service-id"] == "PPAY001"


def namespaced(name: str, service_id: str, depends_on: list[str] | None = None) -> str:
    text = component(name, {"pagerduty.com/service-id": service_id}, dependsOn=depends_on)
    return text.replace(f"  name: {name}\n", f"  name: {name}\n  namespace: shop\n")


def relationships(world: World) -> set[tuple[str, str]]:
    state = world.sims["main"].state
    with state.lock:
        return {(item["dependent_service"]["id"], item["supporting_service"]["id"])
                for item in state.dependencies}


def test_depends_on_uses_own_namespace(catalog_world: World, tmp_path: Path) -> None:
    write_entity(tmp_path, "payments", namespaced("payments", "PPAY001", ["component:ledger"]))
    write_entity(tmp_path, "ledger", namespaced("ledger", "PLED001"))
    # The same name in the default namespace must not be picked for a ref from namespace shop.
    write_entity(tmp_path, "other-ledger",
                 component("ledger", {"pagerduty.com/service-id": "PDIGIT1"}))

    result = catalog_world.run(
        "catalog", "sync-dependencies", str(tmp_path), "--strategy", "backstage"
    )

    assert result.exit_code == 0, result.output
    assert relationships(catalog_world) == {("PPAY001", "PLED001")}
