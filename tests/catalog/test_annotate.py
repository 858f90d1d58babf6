"""``scaffold catalog annotate`` against simulated PagerDuty accounts."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from tests.catalog.conftest import (
    KEY_DIGITS,
    KEY_LEDGER,
    KEY_PAY,
    KEY_SEARCH,
    KEY_UNKNOWN,
    World,
    component,
    write_entity,
)

RICH_FILE = """\
# Catalog entities of the payments team.
# Edited by hand: keep the comments.
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments   # the public name
  description: 'Takes payments'
  labels: &team-labels
    team: "core"
  annotations:
    github.com/project-slug: 'acme/payments'
    pagerduty.com/integration-key: "{key}"
    # more annotations go above this line

  # tags come last
  tags:
    - python
    - api

spec:
  type: service
  owner: team-a  # the owning team
  lifecycle: production
  extra: *team-labels
--- # the ledger
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  tags:
  - go
spec: {{type: service, owner: team-b, lifecycle: production}}
---
# not an entity: skipped and kept as it is
settings:
  answer:   42
"""


def added_lines(before: str, after: str) -> list[str]:
    """Return the added lines of a diff, failing when any line was removed or changed."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    removed = [line for line in diff if line.startswith("- ")]
    assert removed == []
    return [line[2:] for line in diff if line.startswith("+ ")]


def test_key_only_gets_service_id(world: World, tmp_path: Path) -> None:
    path = write_entity(
        tmp_path, "pay", component("payments", {"pagerduty.com/integration-key": KEY_PAY})
    )
    before = path.read_text()

    result = world.run("catalog", "annotate", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert added_lines(before, path.read_text()) == ['    pagerduty.com/service-id: "PPAY001"']


def test_rich_file_keeps_every_byte(world: World, tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    before = RICH_FILE.format(key=KEY_PAY)
    path.write_text(before)

    result = world.run("catalog", "annotate", str(path))

    assert result.exit_code == 0, result.output
    after = path.read_text()
    assert added_lines(before, after) == ['    pagerduty.com/service-id: "PPAY001"']
    position = after.index("pagerduty.com/service-id")
    assert after.index("pagerduty.com/integration-key") < position
    assert position < after.index("# more annotations go above this line")


def test_service_id_gets_backstage_key(world: World, tmp_path: Path) -> None:
    path = write_entity(
        tmp_path, "ledger", component("ledger", {"pagerduty.com/service-id": "PLED001"})
    )
    before = path.read_text()

    result = world.run("catalog", "annotate", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert added_lines(before, path.read_text()) == [
        f'    pagerduty.com/integration-key: "{KEY_LEDGER}"'
    ]


def test_digit_key_stays_string(world: World, tmp_path: Path) -> None:
    path = write_entity(
        tmp_path, "digits", component("digits", {"pagerduty.com/service-id": "PDIGIT1"})
    )

    assert world.run("catalog", "annotate", str(tmp_path)).exit_code == 0

    annotations = yaml.safe_load(path.read_text())["metadata"]["annotations"]
    assert annotations["pagerduty.com/integration-key"] == KEY_DIGITS


def test_other_account_gets_annotation(world: World, tmp_path: Path) -> None:
    path = write_entity(
        tmp_path, "search", component("search", {"pagerduty.com/integration-key": KEY_SEARCH})
    )
    before = path.read_text()

    result = world.run("catalog", "annotate", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert added_lines(before, path.read_text()) == [
        '    pagerduty.com/service-id: "PSEARCH"',
        '    pagerduty.com/account: "eu"',
    ]


def test_default_account_found_first(world: World, tmp_path: Path) -> None:
    write_entity(tmp_path, "pay", component("payments", {"pagerduty.com/integration-key": KEY_PAY}))

    assert world.run("catalog", "annotate", str(tmp_path)).exit_code == 0

    assert world.sims["main"].counts.get("GET /services") == 1
    assert world.sims["eu"].counts.get("GET /services") is None
    assert world.sims["spare"].counts.get("GET /services") is None


def test_missing_integration_reported(world: World, tmp_path: Path) -> None:
    path = write_entity(tmp_path, "x", component("x", {"pagerduty.com/service-id": "PNOINT1"}))
    before = path.read_text()

    code, body = world.run_json("catalog", "annotate", str(tmp_path))

    assert code == 1
    assert body["entities"][0]["status"] == "problem"
    assert "--create-integration" in body["entities"][0]["detail"]
    assert path.read_text() == before
    assert world.writes()["main"] == 0


def test_create_integration_adds_key(world: World, tmp_path: Path) -> None:
    path = write_entity(tmp_path, "x", component("x", {"pagerduty.com/service-id": "PNOINT1"}))

    result = world.run("catalog", "annotate", "--create-integration", str(tmp_path))

    assert result.exit_code == 0, result.output
    key = yaml.safe_load(path.read_text())["metadata"]["annotations"][
        "pagerduty.com/integration-key"
    ]
    state = world.sims["main"].state
    with state.lock:
        integration = state.integration_by_key(key)
    assert integration is not None
    assert integration["service_id"] == "PNOINT1"
    assert integration["vendor_id"] == "PRO19CT"


def test_second_run_changes_nothing(world: World, tmp_path: Path) -> None:
    write_entity(tmp_path, "pay", component("payments", {"pagerduty.com/integration-key": KEY_PAY}))
    write_entity(tmp_path, "x", component("x", {"pagerduty.com/service-id": "PNOINT1"}))
    write_entity(
        tmp_path, "search", component("search", {"pagerduty.com/integration-key": KEY_SEARCH})
    )
    assert world.run("catalog", "annotate", "--create-integration", str(tmp_path)).exit_code == 0
    snapshot = {path: path.read_text() for path in tmp_path.rglob("catalog-info.yaml")}
    world.reset_counts()

    result = world.run("catalog", "annotate", "--create-integration", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert {path: path.read_text() for path in snapshot} == snapshot
    assert world.writes() == {"main": 0, "eu": 0, "spare": 0}
    assert "0 file(s) changed" in result.output


def test_check_prints_diff_exit_1(world: World, tmp_path: Path) -> None:
    path = write_entity(
        tmp_path, "pay", component("payments", {"pagerduty.com/integration-key": KEY_PAY})
    )
    before = path.read_text()

    result = world.run("catalog", "annotate", "--check", str(tmp_path))

    assert result.exit_code == 1
    assert '+    pagerduty.com/service-id: "PPAY001"' in result.stdout
    assert "--- a/" in result.stdout
    assert path.read_text() == before


def test_check_clean_exit_0(world: World, tmp_path: Path) -> None:
    annotations = {"pagerduty.com/integration-key": KEY_PAY, "pagerduty.com/service-id": "PPAY001"}
    write_entity(tmp_path, "pay", component("payments", annotations))

    result = world.run("catalog", "annotate", "--check", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert "+" not in result.stdout.split("ENTITY")[0]


def test_check_makes_no_writes(world: World, tmp_path: Path) -> None:
    write_entity(tmp_path, "x", component("x", {"pagerduty.com/service-id": "PNOINT1"}))

    result = world.run("catalog", "annotate", "--check", "--create-integration", str(tmp_path))

    assert result.exit_code == 1
    assert "would create a Backstage integration" in result.stdout
    assert world.writes()["main"] == 0


def test_problems_in_summary(world: World, tmp_path: Path) -> None:
    write_entity(
        tmp_path,
        "unknown-key",
        component("unknown-key", {"pagerduty.com/integration-key": KEY_UNKNOWN}),
    )
    write_entity(
        tmp_path, "unknown-id", component("unknown-id", {"pagerduty.com/service-id": "PNOSUCH"})
    )
    write_entity(
        tmp_path,
        "unknown-account",
        component(
            "unknown-account",
            {"pagerduty.com/service-id": "PPAY001", "pagerduty.com/account": "mars"},
        ),
    )
    write_entity(tmp_path, "plain", component("plain"))
    write_entity(tmp_path, "pay", component("payments", {"pagerduty.com/integration-key": KEY_PAY}))

    code, body = world.run_json("catalog", "annotate", str(tmp_path))

    assert code == 1
    by_entity = {item["entity"]: item for item in body["entities"]}
    assert by_entity["component:default/unknown-key"]["status"] == "problem"
    assert (
        "no PagerDuty service has an integration with key"
        in by_entity["component:default/unknown-key"]["detail"]
    )
    assert KEY_UNKNOWN not in by_entity["component:default/unknown-key"]["detail"]
    assert "'PNOSUCH'" in by_entity["component:default/unknown-id"]["detail"]
    assert "'mars'" in by_entity["component:default/unknown-account"]["detail"]
    assert by_entity["component:default/plain"]["status"] == "skipped"
    assert by_entity["component:default/payments"]["status"] == "updated"
    assert body["summary"] == {"problem": 3, "skipped": 1, "updated": 1}


def test_problem_table_no_traceback(world: World, tmp_path: Path) -> None:
    write_entity(
        tmp_path, "unknown-id", component("unknown-id", {"pagerduty.com/service-id": "PNOSUCH"})
    )

    result = world.run("catalog", "annotate", str(tmp_path))

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "problem" in result.stdout
    assert "PNOSUCH" in result.stderr


def test_wrong_account_is_problem(world: World, tmp_path: Path) -> None:
    annotations = {"pagerduty.com/integration-key": KEY_SEARCH, "pagerduty.com/account": "spare"}
    write_entity(tmp_path, "search", component("search", annotations))

    code, body = world.run_json("catalog", "annotate", str(tmp_path))

    assert code == 1
    assert "is in account 'eu'" in body["entities"][0]["detail"]


def test_read_only_rejects_create(world: World, tmp_path: Path) -> None:
    from tests.catalog.conftest import write_config

    config = write_config(tmp_path / "ro.yaml", world.sims, read_only=True)
    write_entity(tmp_path, "x", component("x", {"pagerduty.com/service-id": "PNOINT1"}))
    world.config = config

    result = world.run("catalog", "annotate", "--create-integration", str(tmp_path))

    assert result.exit_code == 2
    assert "read-only" in result.stderr
    assert world.writes()["main"] == 0


def test_invalid_yaml_names_file(world: World, tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text("kind: Component\nmetadata: [unclosed\n")

    result = world.run("catalog", "annotate", str(path))

    assert result.exit_code == 2
    assert "catalog-info.yaml" in result.stderr
    assert "Traceback" not in result.output
