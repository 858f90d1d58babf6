"""``scaffold catalog mappings``: every service beside its entity, with a status."""

from __future__ import annotations

from pathlib import Path

from tests.catalog.conftest import KEY_LEDGER, KEY_PAY, KEY_SEARCH, World, component, write_entity


def rows_by_service(body: dict[str, list[dict[str, object]]]) -> dict[object, dict[str, object]]:
    return {row["serviceId"]: row for row in body["mappings"] if row["serviceId"]}


def test_statuses_of_every_service(world: World, tmp_path: Path) -> None:
    both = {"pagerduty.com/service-id": "PPAY001", "pagerduty.com/integration-key": KEY_PAY}
    write_entity(tmp_path, "pay", component("payments", both))
    wrong_key = {"pagerduty.com/service-id": "PLED001", "pagerduty.com/integration-key": KEY_PAY}
    write_entity(tmp_path, "ledger", component("ledger", wrong_key))
    no_account = {"pagerduty.com/integration-key": KEY_SEARCH}
    write_entity(tmp_path, "search", component("search", no_account))
    write_entity(tmp_path, "ghost", component("ghost", {"pagerduty.com/service-id": "PGHOST1"}))

    code, body = world.run_json("catalog", "mappings", str(tmp_path))

    assert code == 1
    rows = rows_by_service(body)
    assert rows["PPAY001"]["status"] == "in sync"
    assert rows["PPAY001"]["entity"] == "component:default/payments"
    assert rows["PLED001"]["status"] == "out of sync"
    assert "belongs to service PPAY001" in str(rows["PLED001"]["details"])
    assert rows["PSEARCH"]["status"] == "out of sync"
    assert "pagerduty.com/account is missing" in str(rows["PSEARCH"]["details"])
    assert rows["PNOINT1"]["status"] == "not mapped"
    assert rows["PSPARE1"]["status"] == "not mapped"
    assert rows["PSPARE1"]["account"] == "spare"
    ghost = [row for row in body["mappings"] if row["entity"] == "component:default/ghost"]
    assert ghost[0]["status"] == "not found"
    assert "PGHOST1" in str(ghost[0]["details"])


def test_wrong_account_out_of_sync(world: World, tmp_path: Path) -> None:
    annotations = {"pagerduty.com/service-id": "PLED001", "pagerduty.com/account": "eu"}
    write_entity(tmp_path, "ledger", component("ledger", annotations))

    _, body = world.run_json("catalog", "mappings", str(tmp_path))

    row = rows_by_service(body)["PLED001"]
    assert row["status"] == "out of sync"
    assert "pagerduty.com/account is 'eu'" in str(row["details"])


def test_key_only_in_sync(world: World, tmp_path: Path) -> None:
    write_entity(
        tmp_path, "ledger", component("ledger", {"pagerduty.com/integration-key": KEY_LEDGER})
    )

    result = world.run("catalog", "mappings", str(tmp_path))

    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "PLED001" in line)
    assert "in sync" in line
    assert "component:default/ledger" in line


def test_out_of_sync_exits_1(world: World, tmp_path: Path) -> None:
    wrong_key = {"pagerduty.com/service-id": "PLED001", "pagerduty.com/integration-key": KEY_PAY}
    write_entity(tmp_path, "ledger", component("ledger", wrong_key))

    result = world.run("catalog", "mappings", str(tmp_path))

    assert result.exit_code == 1, result.output
    assert "out of sync" in result.stdout


def test_not_found_exits_1(world: World, tmp_path: Path) -> None:
    write_entity(tmp_path, "ghost", component("ghost", {"pagerduty.com/service-id": "PGHOST1"}))

    result = world.run("catalog", "mappings", str(tmp_path))

    assert result.exit_code == 1, result.output
    assert "not found" in result.stdout


def test_help_names_exit_codes(world: World) -> None:
    result = world.run("catalog", "mappings", "--help")

    assert "Exits 1" in result.stdout
    assert "out of sync" in result.stdout


def test_broken_yaml_listed_as_problem(world: World, tmp_path: Path) -> None:
    both = {"pagerduty.com/service-id": "PPAY001", "pagerduty.com/integration-key": KEY_PAY}
    write_entity(tmp_path, "pay", component("payments", both))
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: [x\n")

    result = world.run("catalog", "mappings", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert f"problem: {broken}:4: not valid YAML" in result.stderr
    code, body = world.run_json("catalog", "mappings", str(tmp_path))
    assert code == 0
    assert [item["file"] for item in body["invalidFiles"]] == [f"{broken}:4"]
