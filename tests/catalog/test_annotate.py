"""``scaffold catalog annotate`` against simulated PagerDuty accounts."""

from __future__ import annotations

import difflib
import os
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


ANCHORED_FILE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: &meta
  name: anchored
  annotations: &ann
    pagerduty.com/integration-key: '{key}'
  tags: &tags []
  labels: &used {{team: core}}
spec: &s
  type: &t service
  owner: team-a
  lifecycle: production
  extra: *used
"""


def test_unreferenced_anchors_kept(world: World, tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    before = ANCHORED_FILE.format(key=KEY_PAY)
    path.write_text(before)

    result = world.run("catalog", "annotate", str(path))

    assert result.exit_code == 0, result.output
    assert added_lines(before, path.read_text()) == ['    pagerduty.com/service-id: "PPAY001"']


def test_crlf_file_keeps_crlf(world: World, tmp_path: Path) -> None:
    path = write_entity(tmp_path, "pay", "")
    text = component("payments", {"pagerduty.com/integration-key": KEY_PAY})
    before = text.replace("\n", "\r\n").encode()
    path.write_bytes(before)

    result = world.run("catalog", "annotate", str(path))

    assert result.exit_code == 0, result.output
    old_lines = before.decode().splitlines(keepends=True)
    new_lines = path.read_bytes().decode().splitlines(keepends=True)
    diff = list(difflib.ndiff(old_lines, new_lines))
    assert [line for line in diff if line.startswith("- ")] == []
    assert [line[2:] for line in diff if line.startswith("+ ")] == [
        '    pagerduty.com/service-id: "PPAY001"\r\n'
    ]


def test_bom_and_missing_newline_kept(world: World, tmp_path: Path) -> None:
    path = write_entity(tmp_path, "pay", "")
    text = component("payments", {"pagerduty.com/integration-key": KEY_PAY}).rstrip("\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())

    result = world.run("catalog", "annotate", str(path))

    assert result.exit_code == 0, result.output
    after = path.read_bytes()
    assert after.startswith(b"\xef\xbb\xbfapiVersion:")
    assert after.endswith(b"lifecycle: production")
    assert added_lines(text, after.decode("utf-8-sig")) == [
        '    pagerduty.com/service-id: "PPAY001"'
    ]


def test_check_diff_matches_write(world: World, tmp_path: Path) -> None:
    anchored = tmp_path / "anchored.yaml"
    anchored.write_text(ANCHORED_FILE.format(key=KEY_PAY))
    crlf = write_entity(tmp_path, "ledger", "")
    text = component("ledger", {"pagerduty.com/service-id": "PLED001"})
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    before = {path: path.read_bytes() for path in (anchored, crlf)}

    check = world.run("catalog", "annotate", "--check", str(anchored), str(crlf))
    assert check.exit_code == 1, check.output
    assert {path: path.read_bytes() for path in before} == before
    assert world.run("catalog", "annotate", str(anchored), str(crlf)).exit_code == 0

    for path, old in before.items():
        new = path.read_bytes().decode()
        name = os.path.relpath(path)
        expected = "".join(
            difflib.unified_diff(
                old.decode().splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        )
        assert expected.count("\n+") == 2
        assert expected.encode() in check.stdout_bytes


def test_broken_yaml_in_folder_fails(world: World, tmp_path: Path) -> None:
    annotations = {"pagerduty.com/integration-key": KEY_PAY, "pagerduty.com/service-id": "PPAY001"}
    write_entity(tmp_path, "pay", component("payments", annotations))
    broken = tmp_path / "misc" / "broken.yaml"
    broken.parent.mkdir()
    broken.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [x\n")

    for options in (["--check"], []):
        result = world.run("catalog", "annotate", *options, str(tmp_path))

        assert result.exit_code == 1, result.output
        assert f"{broken}:5" in result.stderr
        assert "not valid YAML" in result.stderr
        assert "1 invalid YAML file(s)" in result.stdout


def test_broken_yaml_in_json(world: World, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: [x\n")

    code, body = world.run_json("catalog", "annotate", "--check", str(tmp_path))

    assert code == 1
    assert [item["file"] for item in body["invalidFiles"]] == [f"{broken}:4"]
    assert "not valid YAML" in body["invalidFiles"][0]["message"]
