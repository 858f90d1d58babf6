"""Our v1beta3 JSON Schema against Backstage's published Template schema.

Every case is a whole Template document: the examples of the reference file and mutations of
them. Both schemas must give the expected verdict; where ours is deliberately stricter the case
says so and the reference must accept it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from template_helpers import REFERENCE_DIR

from scaffolder.paths import schemas_dir

if not (REFERENCE_DIR / "Template.v1beta3.schema.json").is_file():
    pytest.skip(
        f"reference schemas not found at {REFERENCE_DIR} (../shared/reference is absent)",
        allow_module_level=True,
    )

Document = dict[str, Any]


def load_reference(name: str) -> Document:
    loaded: Document = json.loads((REFERENCE_DIR / name).read_text(encoding="utf-8"))
    return loaded


REFERENCE_TEMPLATE = load_reference("Template.v1beta3.schema.json")
EXAMPLE: Document = REFERENCE_TEMPLATE["examples"][0]


def reference_validator() -> jsonschema.Draft7Validator:
    resources = []
    for name in ("Entity", "EntityMeta", "common"):
        contents = load_reference(f"{name}.schema.json")
        resources.append((contents["$id"], Resource.from_contents(contents, DRAFT7)))
    template = Resource.from_contents(REFERENCE_TEMPLATE, DRAFT7)
    registry: Registry[Any] = Registry().with_resources([*resources, ("TemplateV1beta3", template)])
    return jsonschema.Draft7Validator(REFERENCE_TEMPLATE, registry=registry)


def our_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((schemas_dir() / "template.v1beta3.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


REFERENCE = reference_validator()
OURS = our_validator()


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[Document], None]
    ours: bool
    reference: bool


def spec(document: Document) -> Document:
    result: Document = document["spec"]
    return result


def set_at(*keys: str | int, value: Any) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        target: Any = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def delete_at(*keys: str | int) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        target: Any = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


def unchanged(document: Document) -> None:
    return None


PAGE = {"title": "Page", "properties": {"name": {"type": "string", "ui:autofocus": True}}}

ACCEPTED_BY_BOTH = [
    Case("reference example", unchanged, True, True),
    Case("parameters as pages", set_at("spec", "parameters", value=[PAGE, PAGE]), True, True),
    Case(
        "page with when",
        set_at("spec", "parameters", value=[{**PAGE, "when": "${{ x }}"}]),
        True,
        True,
    ),
    Case("no parameters", delete_at("spec", "parameters"), True, True),
    Case("no output", delete_at("spec", "output"), True, True),
    Case("empty steps", set_at("spec", "steps", value=[]), True, True),
    Case("step without id", set_at("spec", "steps", value=[{"action": "debug:log"}]), True, True),
    Case("step if boolean", set_at("spec", "steps", 0, "if", value=False), True, True),
    Case(
        "step input object", set_at("spec", "steps", 0, "input", value={"url": "./x"}), True, True
    ),
    Case(
        "step each string",
        set_at("spec", "steps", 0, "each", value="${{ parameters.x }}"),
        True,
        True,
    ),
    Case("step each list", set_at("spec", "steps", 0, "each", value=["a", "b"]), True, True),
    Case("step unknown key", set_at("spec", "steps", 0, "timeout", value=30), True, True),
    Case("spec unknown key", set_at("spec", "custom", value={"a": 1}), True, True),
    Case("metadata extra keys", set_at("metadata", "labels", value={"team": "a"}), True, True),
    Case("name with separators", set_at("metadata", "name", value="a.b_c-d9"), True, True),
    Case("name of 63 characters", set_at("metadata", "name", value="a" * 63), True, True),
    Case(
        "output links and text",
        set_at(
            "spec",
            "output",
            value={
                "links": [
                    {"title": "Repo", "url": "https://x", "icon": "github", "if": True},
                    {"entityRef": "component:default/x"},
                ],
                "text": [{"title": "Hi", "content": "**md**", "default": True, "if": "${{ a }}"}],
                "remoteUrl": "${{ steps.publish.output.remoteUrl }}",
            },
        ),
        True,
        True,
    ),
    Case(
        "presentation",
        set_at("spec", "presentation", value={"buttonLabels": {"createButtonText": "Go"}}),
        True,
        True,
    ),
    Case(
        "form decorators",
        set_at("spec", "EXPERIMENTAL_formDecorators", value=[{"id": "d", "input": {"a": 1}}]),
        True,
        True,
    ),
    Case("new form decorators", set_at("spec", "formDecorators", value=[{"id": "d"}]), True, True),
    Case(
        "secrets schema",
        set_at("spec", "secrets", value={"schema": {"type": "object"}}),
        True,
        True,
    ),
    Case(
        "recovery",
        set_at("spec", "EXPERIMENTAL_recovery", value={"EXPERIMENTAL_strategy": "startOver"}),
        True,
        True,
    ),
    Case(
        "relations",
        set_at("relations", value=[{"type": "ownedBy", "targetRef": "group:a"}]),
        True,
        True,
    ),
    Case(
        "status",
        set_at("status", value={"items": [{"type": "t", "level": "info", "message": "ok"}]}),
        True,
        True,
    ),
]

REJECTED_BY_BOTH = [
    Case("missing spec", delete_at("spec"), False, False),
    Case("missing metadata", delete_at("metadata"), False, False),
    Case("missing name", delete_at("metadata", "name"), False, False),
    Case("empty name", set_at("metadata", "name", value=""), False, False),
    Case("missing apiVersion", delete_at("apiVersion"), False, False),
    Case("apiVersion v1beta2", set_at("apiVersion", value="backstage.io/v1beta2"), False, False),
    Case("kind Component", set_at("kind", value="Component"), False, False),
    Case("missing kind", delete_at("kind"), False, False),
    Case("unknown top-level key", set_at("extra", value=1), False, False),
    Case("spec not an object", set_at("spec", value=["a"]), False, False),
    Case("missing type", delete_at("spec", "type"), False, False),
    Case("empty type", set_at("spec", "type", value=""), False, False),
    Case("missing steps", delete_at("spec", "steps"), False, False),
    Case("steps an object", set_at("spec", "steps", value={"action": "debug:log"}), False, False),
    Case("step a string", set_at("spec", "steps", value=["debug:log"]), False, False),
    Case("step without action", delete_at("spec", "steps", 0, "action"), False, False),
    Case("action a number", set_at("spec", "steps", 0, "action", value=3), False, False),
    Case("step id a number", set_at("spec", "steps", 0, "id", value=3), False, False),
    Case("step if a number", set_at("spec", "steps", 0, "if", value=1), False, False),
    Case("step input a list", set_at("spec", "steps", 0, "input", value=["a"]), False, False),
    Case(
        "step permission tags",
        set_at("spec", "steps", 0, "backstage:permissions", value={"tags": "one"}),
        False,
        False,
    ),
    Case("parameters a string", set_at("spec", "parameters", value="name"), False, False),
    Case("parameters a number", set_at("spec", "parameters", value=1), False, False),
    Case("pages of strings", set_at("spec", "parameters", value=["name"]), False, False),
    Case(
        "page when a number",
        set_at("spec", "parameters", value=[{**PAGE, "when": 1}]),
        False,
        False,
    ),
    Case(
        "page permission tags",
        set_at("spec", "parameters", "backstage:permissions", value={"tags": [1]}),
        False,
        False,
    ),
    Case("output a list", set_at("spec", "output", value=["a"]), False, False),
    Case("output extra number", set_at("spec", "output", value={"count": 3}), False, False),
    Case(
        "output links an object",
        set_at("spec", "output", value={"links": {"url": "x"}}),
        False,
        False,
    ),
    Case("link url empty", set_at("spec", "output", value={"links": [{"url": ""}]}), False, False),
    Case(
        "text title empty", set_at("spec", "output", value={"text": [{"title": ""}]}), False, False
    ),
    Case(
        "text content a number",
        set_at("spec", "output", value={"text": [{"content": 1}]}),
        False,
        False,
    ),
    Case("owner empty", set_at("spec", "owner", value=""), False, False),
    Case("lifecycle a number", set_at("spec", "lifecycle", value=1), False, False),
    Case("presentation a string", set_at("spec", "presentation", value="x"), False, False),
    Case(
        "decorators an object",
        set_at("spec", "EXPERIMENTAL_formDecorators", value={}),
        False,
        False,
    ),
    Case("label not a string", set_at("metadata", "labels", value={"a": 1}), False, False),
    Case("empty tag", set_at("metadata", "tags", value=[""]), False, False),
    Case("title empty", set_at("metadata", "title", value=""), False, False),
    Case("relation without target", set_at("relations", value=[{"type": "ownedBy"}]), False, False),
    Case(
        "status level unknown",
        set_at("status", value={"items": [{"type": "t", "level": "fatal", "message": "x"}]}),
        False,
        False,
    ),
]

# Ours is stricter on these on purpose; Backstage's schema accepts them.
STRICTER_THAN_REFERENCE = [
    Case("name with space", set_at("metadata", "name", value="bad name"), False, True),
    Case("name leading dash", set_at("metadata", "name", value="-svc"), False, True),
    Case("name double separator", set_at("metadata", "name", value="a--b"), False, True),
    Case("name of 64 characters", set_at("metadata", "name", value="a" * 64), False, True),
    Case("action empty", set_at("spec", "steps", 0, "action", value=""), False, True),
    Case("each a number", set_at("spec", "steps", 0, "each", value=3), False, True),
    Case("each an object", set_at("spec", "steps", 0, "each", value={"a": 1}), False, True),
    Case(
        "page properties a list",
        set_at("spec", "parameters", "properties", value=["a"]),
        False,
        True,
    ),
    Case(
        "page required a string",
        set_at("spec", "parameters", "required", value="name"),
        False,
        True,
    ),
]

CASES = ACCEPTED_BY_BOTH + REJECTED_BY_BOTH + STRICTER_THAN_REFERENCE


def build(case: Case) -> Document:
    document = copy.deepcopy(EXAMPLE)
    case.change(document)
    return document


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_reference_verdict(case: Case) -> None:
    errors = [error.message for error in REFERENCE.iter_errors(build(case))]
    assert (not errors) == case.reference, errors


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_our_verdict(case: Case) -> None:
    errors = [error.message for error in OURS.iter_errors(build(case))]
    assert (not errors) == case.ours, errors


@pytest.mark.parametrize("index", range(len(REFERENCE_TEMPLATE["examples"])))
def test_reference_examples_accepted(index: int) -> None:
    example = REFERENCE_TEMPLATE["examples"][index]
    assert list(REFERENCE.iter_errors(example)) == []
    assert list(OURS.iter_errors(example)) == []


def test_entity_example_rejected() -> None:
    component = load_reference("Entity.schema.json")["examples"][0]
    assert not REFERENCE.is_valid(component)
    assert not OURS.is_valid(component)


def test_schema_is_self_contained() -> None:
    schema = json.loads((schemas_dir() / "template.v1beta3.schema.json").read_text("utf-8"))
    refs: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(value for key, value in node.items() if key == "$ref")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    assert refs
    assert all(ref.startswith("#/") for ref in refs), refs


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(OURS.schema)
