"""Checks of the built-in template service-with-pagerduty and of its skeleton.

The skeleton is rendered here with a plain sandboxed Jinja environment using Backstage's
``${{ }}`` delimiters and the ``dump`` filter, so these checks do not depend on the engine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from scaffolder.paths import templates_dir

TEMPLATE_DIR = templates_dir() / "service-with-pagerduty"
SKELETON_DIR = TEMPLATE_DIR / "skeleton"
REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "backstage"

FULL_VALUES: dict[str, Any] = {
    "name": "payments-api",
    "description": 'Takes payments: cards, "transfers" and vouchers # not a comment',
    "owner": "group:default/platform",
    "lifecycle": "production",
    "system": "system:default/billing",
    "serviceId": "PSVC123",
    "integrationKey": "0123456789abcdef0123456789abcdef",
    "account": "eu-main",
}
MINIMAL_VALUES: dict[str, Any] = {
    "name": "payments-api",
    "description": "Takes payments.",
    "owner": "platform",
    "lifecycle": "experimental",
}
ANNOTATIONS = {
    "serviceId": "pagerduty.com/service-id",
    "integrationKey": "pagerduty.com/integration-key",
    "account": "pagerduty.com/account",
}


def make_environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        variable_start_string="${{",
        variable_end_string="}}",
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters["dump"] = json.dumps
    return environment


def render_skeleton(values: dict[str, Any], target: Path) -> Path:
    environment = make_environment()
    context = {"values": values}
    for source in sorted(SKELETON_DIR.rglob("*")):
        if not source.is_file():
            continue
        relative = source.relative_to(SKELETON_DIR).as_posix()
        destination = target / environment.from_string(relative).render(context)
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        destination.write_text(environment.from_string(text).render(context), encoding="utf-8")
    return target


def reference_registry() -> Registry:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"Backstage reference schemas not found in {REFERENCE_DIR}")
    resources = []
    for path in sorted(REFERENCE_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append(
            (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT7))
        )
    return Registry().with_resources(resources)


def reference_validator(schema_id: str) -> jsonschema.Draft7Validator:
    registry = reference_registry()
    schema = registry.contents(schema_id)
    return jsonschema.Draft7Validator(schema, registry=registry)


def load_template() -> dict[str, Any]:
    return yaml.safe_load((TEMPLATE_DIR / "template.yaml").read_text(encoding="utf-8"))


def parameter_properties() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for page in load_template()["spec"]["parameters"]:
        properties.update(page["properties"])
    return properties


def render_catalog_info(values: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    output = render_skeleton(values, tmp_path / "out")
    return yaml.safe_load((output / "catalog-info.yaml").read_text(encoding="utf-8"))


def test_template_matches_backstage_schema() -> None:
    errors = list(reference_validator("TemplateV1beta3").iter_errors(load_template()))

    assert errors == []


def test_template_metadata() -> None:
    template = load_template()

    assert template["metadata"]["name"] == "service-with-pagerduty"
    assert template["metadata"]["title"]
    assert template["metadata"]["description"]
    assert "pagerduty" in template["metadata"]["tags"]


def test_parameter_pages_are_schemas() -> None:
    pages = load_template()["spec"]["parameters"]

    assert [page["title"] for page in pages] == ["Component", "PagerDuty", "Repository"]
    for page in pages:
        jsonschema.Draft7Validator.check_schema(page)
    assert pages[0]["required"] == ["name", "description", "owner"]
    assert pages[1]["required"] == ["escalationPolicyId"]
    assert "required" not in pages[2]


@pytest.mark.parametrize("name", ["payments", "payments-api", "a1-b2-c3", "x"])
def test_name_pattern_accepts(name: str) -> None:
    jsonschema.validate(name, parameter_properties()["name"])


@pytest.mark.parametrize(
    "name", ["Payments", "-payments", "payments-", "pay--ments", "1payments", "pay_ments", "a" * 64]
)
def test_name_pattern_rejects(name: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(name, parameter_properties()["name"])


@pytest.mark.parametrize(
    "owner", ["platform", "group:default/platform", "user:jane.doe", "group:team-a/sre_oncall"]
)
def test_owner_pattern_accepts(owner: str) -> None:
    jsonschema.validate(owner, parameter_properties()["owner"])


@pytest.mark.parametrize("owner", ["", "group:", "group:default/", "platform team", "a/b/c"])
def test_owner_pattern_rejects(owner: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(owner, parameter_properties()["owner"])


def test_parameter_defaults() -> None:
    properties = parameter_properties()

    assert properties["lifecycle"]["default"] == "experimental"
    assert properties["lifecycle"]["enum"] == ["experimental", "production", "deprecated"]
    assert properties["branch"]["default"] == "main"
    assert properties["alertGrouping"]["enum"] == ["intelligent", "time", "content_based"]
    assert properties["owner"]["ui:field"] == "OwnerPicker"


def test_steps_render_create_annotate_publish() -> None:
    steps = load_template()["spec"]["steps"]

    assert [(step["id"], step["action"]) for step in steps] == [
        ("fetch", "fetch:template"),
        ("pagerduty", "pagerduty:service:create"),
        ("existing", "pagerduty:integration:create"),
        ("catalog", "fetch:template:file"),
        ("publish", "publish:git"),
    ]
    assert steps[0]["input"]["url"] == "./skeleton"
    assert steps[1]["if"] == "${{ not parameters.serviceId }}"
    assert steps[2]["if"] == "${{ parameters.serviceId }}"
    assert steps[3]["input"]["values"]["serviceId"] == (
        "${{ steps.pagerduty.output.serviceId or parameters.serviceId }}"
    )
    assert steps[4]["if"] == "${{ parameters.repoUrl }}"
    assert steps[4]["input"]["remoteUrl"] == "${{ parameters.repoUrl }}"


def test_step_references_known_parameters() -> None:
    text = (TEMPLATE_DIR / "template.yaml").read_text(encoding="utf-8")
    uncommented = "\n".join(
        line.split(" # ")[0] for line in text.splitlines() if not line.lstrip().startswith("#")
    )

    referenced = set(re.findall(r"parameters\.(\w+)", uncommented))

    assert referenced - set(parameter_properties()) == set()


def test_skeleton_uses_passed_values() -> None:
    steps = {step["id"]: step for step in load_template()["spec"]["steps"]}
    passed = set(steps["catalog"]["input"]["values"])
    assert set(steps["fetch"]["input"]["values"]) <= passed
    used: set[str] = set()
    for path in SKELETON_DIR.rglob("*"):
        used.update(re.findall(r"values\.(\w+)", str(path.relative_to(SKELETON_DIR))))
        if path.is_file():
            used.update(re.findall(r"values\.(\w+)", path.read_text(encoding="utf-8")))

    assert used - passed == set()
    assert passed - used == set()


def test_skeleton_file_list(tmp_path: Path) -> None:
    output = render_skeleton(FULL_VALUES, tmp_path / "out")

    files = sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())
    assert files == [
        ".github/workflows/ci.yaml",
        ".gitignore",
        "Dockerfile",
        "README.md",
        "catalog-info.yaml",
        "pyproject.toml",
        "src/payments_api/__init__.py",
        "src/payments_api/app.py",
        "tests/test_app.py",
    ]


def test_catalog_info_full_valid(tmp_path: Path) -> None:
    entity = render_catalog_info(FULL_VALUES, tmp_path)

    assert list(reference_validator("ComponentV1alpha1").iter_errors(entity)) == []
    assert entity["metadata"]["name"] == "payments-api"
    assert entity["metadata"]["description"] == FULL_VALUES["description"]
    assert entity["metadata"]["annotations"] == {
        "pagerduty.com/service-id": "PSVC123",
        "pagerduty.com/integration-key": "0123456789abcdef0123456789abcdef",
        "pagerduty.com/account": "eu-main",
    }
    assert entity["spec"] == {
        "type": "service",
        "lifecycle": "production",
        "owner": "group:default/platform",
        "system": "system:default/billing",
    }


def test_catalog_info_minimal_valid(tmp_path: Path) -> None:
    entity = render_catalog_info(MINIMAL_VALUES, tmp_path)

    assert list(reference_validator("ComponentV1alpha1").iter_errors(entity)) == []
    assert "annotations" not in entity["metadata"]
    assert "system" not in entity["spec"]
    assert entity["spec"]["owner"] == "platform"


def test_catalog_info_empty_values_omitted(tmp_path: Path) -> None:
    values = {**MINIMAL_VALUES, "system": "", "serviceId": "", "integrationKey": "", "account": ""}

    entity = render_catalog_info(values, tmp_path)

    assert "annotations" not in entity["metadata"]
    assert "system" not in entity["spec"]


@pytest.mark.parametrize("given", sorted(ANNOTATIONS))
def test_catalog_info_single_annotation(tmp_path: Path, given: str) -> None:
    entity = render_catalog_info({**MINIMAL_VALUES, given: "PVALUE1"}, tmp_path)

    assert list(reference_validator("ComponentV1alpha1").iter_errors(entity)) == []
    assert entity["metadata"]["annotations"] == {ANNOTATIONS[given]: "PVALUE1"}


def test_catalog_info_no_blank_lines(tmp_path: Path) -> None:
    output = render_skeleton(MINIMAL_VALUES, tmp_path / "out")

    text = (output / "catalog-info.yaml").read_text(encoding="utf-8")
    assert "\n\n" not in text
    assert text.endswith("\n")


def test_ci_workflow_keeps_github_expressions(tmp_path: Path) -> None:
    output = render_skeleton(FULL_VALUES, tmp_path / "out")

    text = (output / ".github" / "workflows" / "ci.yaml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert "${{ matrix.python-version }}" in text
    assert "docker build -t payments-api:${{ github.sha }} ." in text
    assert set(workflow["jobs"]) == {"test", "image"}


def test_pyproject_renders(tmp_path: Path) -> None:
    output = render_skeleton(FULL_VALUES, tmp_path / "out")

    project = tomllib.loads((output / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "payments-api"
    assert project["description"] == FULL_VALUES["description"]
    assert project["scripts"] == {"payments-api": "payments_api.app:main"}


def test_rendered_service_tests_pass(tmp_path: Path) -> None:
    output = render_skeleton(FULL_VALUES, tmp_path / "out")

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=output,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
