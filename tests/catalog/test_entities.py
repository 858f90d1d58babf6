"""Entity refs, finding entities, and round-trip editing of catalog files."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaffolder.catalog import (
    EntityRef,
    find_entity,
    load_entities,
    pagerduty_annotations,
    parse_entity_ref,
)
from scaffolder.catalog_files import CatalogFile, append_item, detect_indent
from scaffolder.errors import InputError

TWO_ENTITIES = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations:
    pagerduty.com/service-id: PPAY001
    pagerduty.com/account: eu
spec: {type: service}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments
  namespace: billing
spec: {type: openapi}
---
just: data
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("payments", EntityRef("component", "default", "payments")),
        ("api:payments", EntityRef("api", "default", "payments")),
        ("billing/payments", EntityRef("component", "billing", "payments")),
        ("Group:billing/team-a", EntityRef("Group", "billing", "team-a")),
        ("a/b", EntityRef("component", "a", "b")),
    ],
)
def test_parse_ref_defaults(text: str, expected: EntityRef) -> None:
    assert parse_entity_ref(text, default_kind="component") == expected


@pytest.mark.parametrize("text", ["", ":x", "component:", "k:/x", "ns/", "a b", "x/y:z", "k:n/a/b"])
def test_parse_ref_malformed(text: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_entity_ref(text, default_kind="component")
    assert repr(text) in raised.value.message


def test_parse_ref_needs_kind() -> None:
    with pytest.raises(InputError, match="has no kind"):
        parse_entity_ref("payments")


def test_ref_string_lowercases() -> None:
    assert str(EntityRef("Component", "Default", "Payments")) == "component:default/Payments"


def test_load_skips_non_entities(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text(TWO_ENTITIES)
    (tmp_path / "values.yaml").write_text("replicas: 2\n")

    entities = load_entities([tmp_path])

    assert [str(entity.ref) for entity in entities] == [
        "component:default/payments",
        "api:billing/payments",
    ]
    assert [entity.index for entity in entities] == [0, 1]
    annotations = pagerduty_annotations(entities[0])
    assert annotations.service_id == "PPAY001"
    assert annotations.account == "eu"
    assert annotations.integration_key is None


def test_find_entity_by_name_and_ref(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text(TWO_ENTITIES)

    assert find_entity(path, "payments").ref.kind == "Component"
    assert find_entity(path, "api:billing/payments").ref.kind == "API"
    with pytest.raises(InputError, match="several entities"):
        find_entity(path, None)
    with pytest.raises(InputError, match="no entity 'ledger'"):
        find_entity(path, "ledger")


def test_missing_path_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_entities([tmp_path / "nope"])


def test_untouched_file_renders_same() -> None:
    catalog_file = CatalogFile.parse(Path("x.yaml"), TWO_ENTITIES)
    for index in range(len(catalog_file.chunks)):
        catalog_file.mark_changed(index)

    assert catalog_file.render() == TWO_ENTITIES


def test_append_keeps_trailing_comment() -> None:
    text = "spec:\n  dependsOn:\n    - a # first\n  # after the list\n  owner: x\n"
    catalog_file = CatalogFile.parse(Path("x.yaml"), text)
    append_item(catalog_file.chunks[0].data["spec"]["dependsOn"], "b")
    catalog_file.mark_changed(0)

    assert catalog_file.render() == (
        "spec:\n  dependsOn:\n    - a # first\n    - b\n  # after the list\n  owner: x\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:\n  b:\n    - x\n", (2, 4, 2)),
        ("a:\n  b:\n  - x\n", (2, 2, 0)),
        ("a:\n    b:\n      - x\n", (4, 4, 2)),
        ("a: 1\n", (2, 4, 2)),
    ],
)
def test_detect_indent(text: str, expected: tuple[int, int, int]) -> None:
    assert detect_indent(text) == expected


def test_same_entity_in_two_files_asks_for_path(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "catalog-info.yaml").write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: payments}\n"
            "spec: {type: service, lifecycle: production, owner: team}\n")
    with pytest.raises(InputError) as caught:
        find_entity(tmp_path, "component:default/payments")
    assert caught.value.hint == "several files define the same entity: give the path of one file"
