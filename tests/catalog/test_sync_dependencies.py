"""``scaffold catalog sync-dependencies`` with each strategy."""

from __future__ import annotations

from pathlib import Path

import yaml
from tests.catalog.conftest import World, component, write_config, write_entity


def relationships(world: World, account: str = "main") -> set[tuple[str, str]]:
    """Return ``(dependent, supporting)`` service ids stored by a simulator."""
    state = world.sims[account].state
    with state.lock:
        return {
            (item["dependent_service"]["id"], item["supporting_service"]["id"])
            for item in state.dependencies
        }


def add_relationship(world: World, dependent: str, supporting: str) -> None:
    state = world.sims["main"].state
    with state.lock:
        state.dependencies.append(
            {
                "id": f"D{dependent}{supporting}",
                "type": "service_dependency",
                "supporting_service": {"id": supporting, "type": "technical_service_reference"},
                "dependent_service": {"id": dependent, "type": "technical_service_reference"},
            }
        )


def catalog(tmp_path: Path, payments_depends_on: list[str]) -> Path:
    write_entity(
        tmp_path,
        "payments",
        component(
            "payments", {"pagerduty.com/service-id": "PPAY001"}, dependsOn=payments_depends_on
        ),
    )
    write_entity(tmp_path, "ledger", component("ledger", {"pagerduty.com/service-id": "PLED001"}))
    write_entity(tmp_path, "digits", component("digits", {"pagerduty.com/service-id": "PDIGIT1"}))
    annotations = {"pagerduty.com/service-id": "PSEARCH", "pagerduty.com/account": "eu"}
    write_entity(tmp_path, "search", component("search", annotations))
    write_entity(tmp_path, "docs", component("docs"))
    return tmp_path / "payments" / "catalog-info.yaml"


def depends_on(path: Path) -> list[str]:
    return list(yaml.safe_load(path.read_text())["spec"].get("dependsOn") or [])


def test_backstage_adds_and_removes(world: World, tmp_path: Path) -> None:
    catalog(tmp_path, ["ledger", "component:default/docs"])
    add_relationship(world, "PPAY001", "PDIGIT1")

    result = world.run("catalog", "sync-dependencies", str(tmp_path), "--strategy", "backstage")

    assert result.exit_code == 0, result.output
    assert relationships(world) == {("PPAY001", "PLED001")}


def test_backstage_relationship_direction(world: World, tmp_path: Path) -> None:
    catalog(tmp_path, ["ledger"])

    world.run("catalog", "sync-dependencies", str(tmp_path), "--strategy", "backstage")

    state = world.sims["main"].state
    with state.lock:
        [dependency] = state.dependencies
    assert dependency["dependent_service"]["id"] == "PPAY001"
    assert dependency["supporting_service"]["id"] == "PLED001"


def test_pagerduty_rewrites_depends_on(world: World, tmp_path: Path) -> None:
    path = catalog(tmp_path, ["ledger", "docs", "component:default/missing"])
    add_relationship(world, "PPAY001", "PDIGIT1")
    before = path.read_text()

    result = world.run("catalog", "sync-dependencies", str(tmp_path), "--strategy", "pagerduty")

    assert result.exit_code == 0, result.output
    assert depends_on(path) == ["docs", "component:default/missing", "digits"]
    assert "missing" in result.output
    assert world.writes()["main"] == 0
    assert before.replace("    - ledger\n", "") + "    - digits\n" == path.read_text()


def test_both_never_removes(world: World, tmp_path: Path) -> None:
    path = catalog(tmp_path, ["ledger"])
    add_relationship(world, "PPAY001", "PDIGIT1")

    result = world.run("catalog", "sync-dependencies", str(tmp_path), "--strategy", "both")

    assert result.exit_code == 0, result.output
    assert relationships(world) == {("PPAY001", "PDIGIT1"), ("PPAY001", "PLED001")}
    assert depends_on(path) == ["ledger", "digits"]


def test_dry_run_changes_nothing(world: World, tmp_path: Path) -> None:
    path = catalog(tmp_path, ["ledger"])
    add_relationship(world, "PPAY001", "PDIGIT1")
    before = path.read_text()

    code, plan = world.run_json(
        "catalog", "sync-dependencies", str(tmp_path), "--strategy", "both", "--dry-run"
    )

    assert code == 0
    assert plan["applied"] is False
    assert [edge["supporting"]["serviceId"] for edge in plan["pagerduty"]["add"]] == ["PLED001"]
    assert plan["catalog"][0]["add"] == ["digits"]
    assert path.read_text() == before
    assert world.writes()["main"] == 0


def test_cross_account_reported_not_sent(world: World, tmp_path: Path) -> None:
    catalog(tmp_path, ["search"])

    code, plan = world.run_json(
        "catalog", "sync-dependencies", str(tmp_path), "--strategy", "backstage"
    )

    assert code == 1
    problems = [note for note in plan["notes"] if note["problem"]]
    assert len(problems) == 1
    assert "across accounts" in problems[0]["message"]
    assert relationships(world) == set()
    assert relationships(world, "eu") == set()
    assert world.writes() == {"main": 0, "eu": 0, "spare": 0}


def test_malformed_ref_reported_with_file(world: World, tmp_path: Path) -> None:
    path = catalog(tmp_path, ['"component:"', "ledger", "{kind: component}"])

    code, plan = world.run_json(
        "catalog", "sync-dependencies", str(tmp_path), "--strategy", "backstage"
    )

    assert code == 1
    problems = [note for note in plan["notes"] if note["problem"]]
    assert [note["ref"] for note in problems] == ["component:", "{'kind': 'component'}"]
    assert "malformed" in problems[0]["message"]
    assert "is not a string" in problems[1]["message"]
    assert str(path) in problems[0]["file"]
    assert relationships(world) == {("PPAY001", "PLED001")}


def test_read_only_rejects_backstage(world: World, tmp_path: Path) -> None:
    catalog(tmp_path, ["ledger"])
    world.config = write_config(tmp_path / "ro.yaml", world.sims, read_only=True)

    result = world.run("catalog", "sync-dependencies", str(tmp_path), "--strategy", "both")

    assert result.exit_code == 2
    assert "read-only" in result.stderr
    assert relationships(world) == set()


def test_second_sync_no_writes(world: World, tmp_path: Path) -> None:
    catalog(tmp_path, ["ledger"])
    assert (
        world.run("catalog", "sync-dependencies", str(tmp_path), "--strategy", "both").exit_code
        == 0
    )
    world.reset_counts()

    result = world.run("catalog", "sync-dependencies", str(tmp_path), "--strategy", "both")

    assert result.exit_code == 0, result.output
    assert world.writes() == {"main": 0, "eu": 0, "spare": 0}


def test_ref_notes_at_entry_line(world: World, tmp_path: Path) -> None:
    path = catalog(tmp_path, ['"component:"', "ledger", "{kind: component}", "resource:db"])

    code, plan = world.run_json(
        "catalog", "sync-dependencies", str(tmp_path), "--strategy", "backstage", "--dry-run"
    )

    assert code == 1
    files = {note["ref"]: note["file"] for note in plan["notes"]}
    assert files["component:"] == f"{path}:12"
    assert files["{'kind': 'component'}"] == f"{path}:14"
    assert files["resource:db"] == f"{path}:15"


def test_flow_ref_line_in_second_document(world: World, tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    document = component("payments", {"pagerduty.com/service-id": "PPAY001"})
    path.write_text(
        "# first document\nkind: Location\n---\n"
        + document
        + '  dependsOn: ["ledger",\n    "component:/bad//ref"]\n'
    )

    code, plan = world.run_json(
        "catalog", "sync-dependencies", str(path), "--strategy", "backstage", "--dry-run"
    )

    assert code == 1
    [problem] = [note for note in plan["notes"] if note["problem"]]
    assert problem["ref"] == "component:/bad//ref"
    assert problem["file"] == f"{path}:15"


def test_broken_yaml_in_folder_fails(world: World, tmp_path: Path) -> None:
    catalog(tmp_path, ["ledger"])
    broken = tmp_path / "misc" / "broken.yaml"
    broken.parent.mkdir()
    broken.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [x\n")

    result = world.run(
        "catalog", "sync-dependencies", str(tmp_path), "--strategy", "backstage", "--dry-run"
    )

    assert result.exit_code == 1, result.output
    assert f"problem: {broken}:5: not valid YAML" in result.stderr
    code, plan = world.run_json(
        "catalog", "sync-dependencies", str(tmp_path), "--strategy", "backstage", "--dry-run"
    )
    assert code == 1
    [problem] = [note for note in plan["notes"] if note["problem"]]
    assert problem["file"] == f"{broken}:5"
    assert problem["entity"] is None
