"""Parameter schemas, --set conversion, values files and validation messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from template_helpers import FIXTURES, REFERENCE_DIR

from scaffolder.errors import ParameterError
from scaffolder.parameters import (
    DEFAULT_STEP_TITLE,
    coerce_set_values,
    load_values_file,
    parameter_pages,
    parameter_schema,
    parameter_schema_response,
    secret_parameter_names,
    validate_parameters,
)
from scaffolder.templates import Template, load_template


@pytest.fixture(scope="module")
def service() -> Template:
    return load_template(str(FIXTURES / "service"))


@pytest.fixture(scope="module")
def schema(service: Template) -> dict[str, Any]:
    return parameter_schema(service)


def problems_of(error: pytest.ExceptionInfo[ParameterError]) -> list[str]:
    return error.value.problems


# --- schemas ------------------------------------------------------------------------------------


def test_pages_keep_ui_keys(service: Template) -> None:
    pages = parameter_pages(service)

    assert [page["title"] for page in pages] == ["Basics", "Deployment"]
    assert pages[0]["properties"]["name"]["ui:autofocus"] is True


def test_pages_are_copies(service: Template) -> None:
    parameter_pages(service)[0]["title"] = "changed"

    assert service.parameters[0]["title"] == "Basics"


def test_merged_schema_strips_ui_keys(schema: dict[str, Any]) -> None:
    text = yaml.safe_dump(schema)

    assert "ui:" not in text
    assert schema["properties"]["name"]["pattern"] == "^[a-z][a-z0-9-]*$"


def test_merged_schema_combines_required(schema: dict[str, Any]) -> None:
    assert schema["required"] == ["name", "lifecycle", "tier"]
    assert list(schema["properties"])[:3] == ["name", "lifecycle", "replicas"]
    assert "tier" in schema["properties"]


def test_merged_schema_keeps_conditionals(schema: dict[str, Any]) -> None:
    deployment = schema["allOf"][1]

    assert "oneOf" in deployment["dependencies"]["deploy"]
    assert deployment["then"]["required"] == ["sla"]
    jsonschema.Draft7Validator.check_schema(schema)


def test_merged_schema_without_parameters() -> None:
    minimal = load_template(str(FIXTURES / "minimal"))

    schema = parameter_schema(minimal)

    assert schema["properties"] == {}
    assert "required" not in schema
    assert validate_parameters(schema, {}) == []


def test_secret_names(service: Template) -> None:
    assert secret_parameter_names(service) == {"token", "password"}


def test_secret_names_nested_and_conditional(tmp_path: Path) -> None:
    document = yaml.safe_load((FIXTURES / "minimal" / "template.yaml").read_text())
    document["spec"]["parameters"] = {
        "properties": {
            "db": {"type": "object", "properties": {"pw": {"ui:widget": "password"}}},
            "use": {"type": "boolean"},
        },
        "dependencies": {"use": {"properties": {"key": {"ui:field": "Secret"}}}},
    }
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(document))

    names = secret_parameter_names(load_template(str(tmp_path)))

    assert names == {"db.pw", "key"}


def test_schema_response_shape(service: Template) -> None:
    response = parameter_schema_response(service)

    assert response["title"] == "Test service"
    assert response["description"] == "Parameters of every kind the collector handles."
    assert [step["title"] for step in response["steps"]] == ["Basics", "Deployment"]
    assert response["steps"][0]["description"] == "What the service is called and who owns it."
    assert "description" not in response["steps"][1]
    assert response["steps"][0]["schema"]["properties"]["name"]["ui:autofocus"] is True
    assert response["presentation"] == {"buttonLabels": {"createButtonText": "Make it"}}


def test_schema_response_default_step_title(tmp_path: Path) -> None:
    document = yaml.safe_load((FIXTURES / "minimal" / "template.yaml").read_text())
    document["spec"]["parameters"] = {"properties": {"a": {"type": "string"}}}
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(document))

    response = parameter_schema_response(load_template(str(tmp_path)))

    assert response["steps"][0]["title"] == DEFAULT_STEP_TITLE
    assert response["title"] == "minimal"


def test_schema_response_matches_openapi(service: Template) -> None:
    openapi_file = REFERENCE_DIR / "scaffolder-openapi.yaml"
    if not openapi_file.is_file():
        pytest.skip(f"{openapi_file} not found (../shared/reference is absent)")
    openapi = yaml.safe_load(openapi_file.read_text(encoding="utf-8"))
    response_schema = openapi["components"]["schemas"]["TemplateParameterSchema"]

    for template in (service, load_template(str(FIXTURES / "minimal"))):
        jsonschema.validate(parameter_schema_response(template), response_schema)


# --- validation ---------------------------------------------------------------------------------


def test_valid_values_pass(schema: dict[str, Any]) -> None:
    values = {"name": "svc", "lifecycle": "production", "tier": "bronze", "deploy": False}

    assert validate_parameters(schema, values) == []


def test_problems_in_property_order(schema: dict[str, Any]) -> None:
    values = {"replicas": 0, "lifecycle": "prod", "tier": "gold"}

    problems = validate_parameters(schema, values)

    assert problems == [
        "name: is required",
        "lifecycle: 'prod' is not one of ['experimental', 'production']",
        "replicas: 0 is less than the minimum of 1",
        "sla: is required",
    ]


def test_dependency_branch_required(schema: dict[str, Any]) -> None:
    values = {"name": "svc", "lifecycle": "production", "tier": "bronze", "deploy": True}

    assert validate_parameters(schema, values) == ["region: is required"]


def test_nested_problem_path(schema: dict[str, Any]) -> None:
    values = {"name": "svc", "lifecycle": "production", "tier": "bronze", "team": {"size": "x"}}

    assert validate_parameters(schema, values) == ["team.size: 'x' is not of type 'integer'"]


def test_array_item_problem_path(schema: dict[str, Any]) -> None:
    values = {"name": "svc", "lifecycle": "production", "tier": "bronze", "tags": ["a", 3]}

    assert validate_parameters(schema, values) == ["tags[1]: 3 is not of type 'string'"]


def test_secret_value_hidden(schema: dict[str, Any]) -> None:
    values = {"name": "svc", "lifecycle": "production", "tier": "bronze", "token": "hunter2"}

    problems = validate_parameters(schema, values, secrets={"token"})

    assert problems == ["token: the secret value fails 'minLength': 8"]


# --- --set --------------------------------------------------------------------------------------


def test_set_converts_each_type(schema: dict[str, Any]) -> None:
    values = coerce_set_values(
        [
            "name=svc",
            "replicas=3",
            "sla=4.5",
            "public=yes",
            "deploy=0",
            "tags=a, b,c",
            'team={"name": "core"}',
            "team.size=7",
        ],
        schema,
    )

    assert values == {
        "name": "svc",
        "replicas": 3,
        "sla": 4.5,
        "public": True,
        "deploy": False,
        "tags": ["a", "b", "c"],
        "team": {"name": "core", "size": 7},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("False", False), ("YES", True), ("no", False), ("1", True), ("0", False)],
)
def test_set_booleans(schema: dict[str, Any], text: str, expected: bool) -> None:
    assert coerce_set_values([f"public={text}"], schema) == {"public": expected}


def test_set_array_as_json(schema: dict[str, Any]) -> None:
    assert coerce_set_values(['tags=["a,b", "c"]'], schema) == {"tags": ["a,b", "c"]}


def test_set_empty_array(schema: dict[str, Any]) -> None:
    assert coerce_set_values(["tags="], schema) == {"tags": []}


def test_set_string_keeps_text(schema: dict[str, Any]) -> None:
    assert coerce_set_values(["name= a=b "], schema) == {"name": " a=b "}


def test_set_number_integral(schema: dict[str, Any]) -> None:
    assert coerce_set_values(["sla=4"], schema) == {"sla": 4}


def test_set_dotted_key(schema: dict[str, Any]) -> None:
    assert coerce_set_values(["team.name=core"], schema) == {"team": {"name": "core"}}


def test_set_conditional_property(schema: dict[str, Any]) -> None:
    assert coerce_set_values(["region=eu"], schema) == {"region": "eu"}


def test_set_multiple_types() -> None:
    schema = {
        "properties": {"n": {"type": ["integer", "string"]}, "o": {"type": ["null", "integer"]}}
    }

    assert coerce_set_values(["n=3", "o=null"], schema) == {"n": 3, "o": None}
    assert coerce_set_values(["n=three"], schema) == {"n": "three"}


def test_set_untyped_enum() -> None:
    schema = {"properties": {"n": {"enum": [1, "two", True]}}}

    assert coerce_set_values(["n=1"], schema) == {"n": 1}
    assert coerce_set_values(["n=true"], schema) == {"n": True}
    assert coerce_set_values(["n=two"], schema) == {"n": "two"}


@pytest.mark.parametrize(
    ("pair", "problem"),
    [
        ("replicas=three", "replicas: 'three' is not an integer"),
        ("replicas=2.5", "replicas: '2.5' is not an integer"),
        ("sla=fast", "sla: 'fast' is not a number"),
        ("sla=nan", "sla: 'nan' is not a number"),
        ("public=maybe", "public: 'maybe' is not a boolean (true/false, yes/no, 1/0)"),
        ("tags=[1", "tags: '[1' is not an array (comma-separated, or a JSON list)"),
        ("team=[]", 'team: \'[]\' is not an object (JSON, like {"key": "value"})'),
        ("missing", "'missing': expected key=value"),
        ("=x", "'=x': expected key=value"),
    ],
)
def test_set_bad_values(schema: dict[str, Any], pair: str, problem: str) -> None:
    with pytest.raises(ParameterError) as caught:
        coerce_set_values([pair], schema)

    assert problems_of(caught) == [problem]
    assert caught.value.exit_code == 2


def test_set_undeclared_key_lists_declared(schema: dict[str, Any]) -> None:
    with pytest.raises(ParameterError) as caught:
        coerce_set_values(["nmae=x"], schema)

    problem = problems_of(caught)[0]
    assert problem.startswith("nmae: not a declared parameter; declared: name, lifecycle,")
    assert "region" in problem


def test_set_undeclared_nested_key(schema: dict[str, Any]) -> None:
    with pytest.raises(ParameterError) as caught:
        coerce_set_values(["team.lead=x"], schema)

    assert problems_of(caught) == [
        "team.lead: not a declared parameter of 'team'; declared: name, size"
    ]


def test_set_reports_every_problem(schema: dict[str, Any]) -> None:
    with pytest.raises(ParameterError) as caught:
        coerce_set_values(["replicas=x", "name=ok", "other=1"], schema)

    assert len(problems_of(caught)) == 2
    assert "replicas" in caught.value.message
    assert "other" in caught.value.message


def test_set_secret_value_hidden() -> None:
    schema = {"properties": {"port": {"type": "integer"}}}

    with pytest.raises(ParameterError) as caught:
        coerce_set_values(["port=s3cret-value"], schema, secrets={"port"})

    assert problems_of(caught) == ["port: the secret value is not an integer"]


def test_set_conflicting_keys(schema: dict[str, Any]) -> None:
    with pytest.raises(ParameterError, match="conflicts with a value already set"):
        coerce_set_values(
            ["team.name=a", "team=3"],
            {
                "properties": {
                    "team": {
                        "type": ["object", "integer"],
                        "properties": {"name": {"type": "string"}},
                    }
                }
            },
        )


# --- values files -------------------------------------------------------------------------------


def test_values_yaml(tmp_path: Path) -> None:
    file = tmp_path / "values.yaml"
    file.write_text("name: svc\nreplicas: 3\ntags: [a, b]\n")

    assert load_values_file(file) == {"name": "svc", "replicas": 3, "tags": ["a", "b"]}


def test_values_json(tmp_path: Path) -> None:
    file = tmp_path / "values.json"
    file.write_text('{"name": "svc", "public": true}')

    assert load_values_file(str(file)) == {"name": "svc", "public": True}


def test_values_empty_file(tmp_path: Path) -> None:
    file = tmp_path / "values.yaml"
    file.write_text("")

    assert load_values_file(file) == {}


def test_values_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParameterError) as caught:
        load_values_file(tmp_path / "absent.yaml")

    assert problems_of(caught) == [f"values file {str(tmp_path / 'absent.yaml')!r} not found"]


def test_values_bad_yaml_line(tmp_path: Path) -> None:
    file = tmp_path / "values.yaml"
    file.write_text("name: svc\ntags: [a\nother: 1\n")

    with pytest.raises(ParameterError) as caught:
        load_values_file(file)

    message = problems_of(caught)[0]
    assert message.startswith(f"values file {str(file)!r} is not valid YAML: line 3")


def test_values_bad_json_line(tmp_path: Path) -> None:
    file = tmp_path / "values.json"
    file.write_text('{\n  "name": "svc",\n  "x": \n}')

    with pytest.raises(ParameterError) as caught:
        load_values_file(file)

    assert f"values file {str(file)!r} is not valid JSON: line 4" in problems_of(caught)[0]


def test_values_not_a_mapping(tmp_path: Path) -> None:
    file = tmp_path / "values.yaml"
    file.write_text("- a\n")

    with pytest.raises(ParameterError, match="contains a list, not a mapping"):
        load_values_file(file)


def test_values_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="cannot read values file"):
        load_values_file(tmp_path)


def test_values_dates_become_strings(tmp_path: Path) -> None:
    file = tmp_path / "values.yaml"
    file.write_text("launch: 2024-05-01\n")

    assert load_values_file(file) == {"launch": "2024-05-01"}


def test_values_recursive_alias(tmp_path: Path) -> None:
    file = tmp_path / "values.yaml"
    file.write_text("a: &x\n  b: *x\n")

    with pytest.raises(ParameterError, match="alias that refers to itself"):
        load_values_file(file)
