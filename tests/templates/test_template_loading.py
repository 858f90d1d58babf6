"""Loading templates from built-in names, folders and files, and every load error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from template_helpers import FIXTURES, WriteTemplate, minimal_document

from scaffolder.errors import InputError, TemplateError
from scaffolder.paths import templates_dir
from scaffolder.templates import (
    Template,
    list_builtin_templates,
    load_template,
    strip_ui_keys,
)


def load_error(ref: str | Path, **options: Any) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        load_template(str(ref), **options)
    message = caught.value.message
    assert "\n" not in message
    return caught.value


def test_folder_loads(tmp_path: Path, write_template: WriteTemplate) -> None:
    file = write_template(tmp_path / "tpl", minimal_document("from-folder"))

    template = load_template(str(tmp_path / "tpl"))

    assert template.name == "from-folder"
    assert template.title == "Title of from-folder"
    assert template.description == "A test template"
    assert template.path == file.resolve()
    assert template.directory == file.parent.resolve()
    assert template.source == str(tmp_path / "tpl")
    assert template.document["kind"] == "Template"


def test_file_path_loads(tmp_path: Path, write_template: WriteTemplate) -> None:
    file = write_template(tmp_path, minimal_document("by-file"), name="other.yaml")

    template = load_template(str(file))

    assert template.name == "by-file"
    assert template.path == file.resolve()


def test_yml_extension_loads(tmp_path: Path, write_template: WriteTemplate) -> None:
    write_template(tmp_path / "tpl", minimal_document("yml"), name="template.yml")

    assert load_template(str(tmp_path / "tpl")).name == "yml"


def test_relative_folder_loads(
    tmp_path: Path, write_template: WriteTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_template(tmp_path / "here", minimal_document("relative"))
    monkeypatch.chdir(tmp_path)

    assert load_template("./here").name == "relative"


def test_builtin_name_loads() -> None:
    template = load_template("service", builtin_dir=FIXTURES)

    assert template.name == "service"
    assert template.source == "service"
    assert template.directory == (FIXTURES / "service").resolve()


def test_builtin_name_before_local_folder(
    tmp_path: Path, write_template: WriteTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_template(tmp_path / "minimal", minimal_document("local-copy"))
    monkeypatch.chdir(tmp_path)

    assert load_template("minimal", builtin_dir=FIXTURES).name == "minimal"
    assert load_template("./minimal", builtin_dir=FIXTURES).name == "local-copy"


def test_list_builtins_of_folder() -> None:
    names = [template.name for template in list_builtin_templates(FIXTURES)]

    assert names == ["minimal", "service"]


def test_shipped_builtins_all_load() -> None:
    templates = list_builtin_templates()

    folders = sorted(
        child.name for child in templates_dir().iterdir() if (child / "template.yaml").is_file()
    )
    assert [template.source for template in templates] == folders
    assert all(isinstance(template, Template) for template in templates)


def test_list_builtins_of_missing_folder(tmp_path: Path) -> None:
    assert list_builtin_templates(tmp_path / "absent") == []


def test_single_page_becomes_list(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    page = {"properties": {"a": {"type": "string"}}}
    document["spec"]["parameters"] = page
    write_template(tmp_path, document)

    template = load_template(str(tmp_path))

    assert template.parameters == [page]


def test_properties_of_template(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    del document["spec"]["parameters"]
    document["spec"]["output"] = {"links": [{"url": "https://x"}]}
    write_template(tmp_path, document)

    template = load_template(str(tmp_path))

    assert template.parameters == []
    assert template.steps == [{"id": "log", "action": "debug:log", "input": {"message": "hi"}}]
    assert template.output == {"links": [{"url": "https://x"}]}


def test_title_defaults_to_name(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document("untitled")
    del document["metadata"]["title"]
    del document["metadata"]["description"]
    write_template(tmp_path, document)

    template = load_template(str(tmp_path))

    assert template.title == "untitled"
    assert template.description == ""


def test_template_is_frozen_and_hashable(tmp_path: Path, write_template: WriteTemplate) -> None:
    write_template(tmp_path, minimal_document())
    template = load_template(str(tmp_path))

    with pytest.raises(AttributeError):
        template.name = "other"  # type: ignore[misc]
    assert hash(template) == hash(load_template(str(tmp_path)))


def test_strip_ui_keys_at_any_depth() -> None:
    schema = {"ui:order": ["a"], "properties": {"a": {"type": "string", "ui:widget": "x"}}}

    assert strip_ui_keys(schema) == {"properties": {"a": {"type": "string"}}}


# --- errors -------------------------------------------------------------------------------------


def test_empty_reference_rejected() -> None:
    assert "empty" in load_error("  ").message


def test_unknown_name_lists_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    error = load_error("nope", builtin_dir=FIXTURES)

    assert "'nope' not found" in error.message
    assert "minimal, service" in error.message
    assert error.exit_code == 2
    assert isinstance(error, InputError)
    assert error.hint


def test_folder_without_template_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    error = load_error(tmp_path / "empty")

    assert repr(str(tmp_path / "empty")) in error.message
    assert "contains no template.yaml or template.yml" in error.message


def test_invalid_yaml_names_line(tmp_path: Path, write_template: WriteTemplate) -> None:
    file = write_template(tmp_path, "apiVersion: x\nkind: Template\nmetadata: [a\n  b: c\n")

    error = load_error(file)

    assert repr(str(file)) in error.message
    assert "is not valid YAML: line 4" in error.message


def test_not_a_mapping(tmp_path: Path, write_template: WriteTemplate) -> None:
    error = load_error(write_template(tmp_path, "- a\n- b\n"))

    assert "contains a list, not a mapping" in error.message


def test_empty_file(tmp_path: Path, write_template: WriteTemplate) -> None:
    error = load_error(write_template(tmp_path, ""))

    assert "contains nothing (an empty document), not a mapping" in error.message


def test_binary_file_rejected(tmp_path: Path) -> None:
    file = tmp_path / "template.yaml"
    file.write_bytes(b"\xff\xfe\x00bad")

    assert "cannot read template file" in load_error(file).message


def test_other_kind_rejected(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    document["kind"] = "Component"

    error = load_error(write_template(tmp_path, document))

    assert "its kind is 'Component', expected 'Template'" in error.message


def test_other_api_version_rejected(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    document["apiVersion"] = "backstage.io/v1beta2"

    error = load_error(write_template(tmp_path, document))

    assert "apiVersion 'backstage.io/v1beta2'" in error.message
    assert "only 'scaffolder.backstage.io/v1beta3' is supported" in error.message


def test_schema_violations_listed(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    document["metadata"]["name"] = "bad name"
    document["spec"]["steps"] = [{"id": "a"}, {"action": "x", "if": 3}]
    del document["spec"]["type"]

    error = load_error(write_template(tmp_path, document))

    assert "is invalid: " in error.message
    assert "$.metadata.name: 'bad name' does not match" in error.message
    assert "$.spec: 'type' is a required property" in error.message
    assert "$.spec.steps[0]: 'action' is a required property" in error.message
    assert "$.spec.steps[1].if: 3 is not of type 'string', 'boolean'" in error.message


def test_steps_not_a_list(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    document["spec"]["steps"] = {"action": "x"}

    error = load_error(write_template(tmp_path, document))

    assert "$.spec.steps: {'action': 'x'} is not of type 'array'" in error.message


def test_parameters_wrong_type(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    document["spec"]["parameters"] = "name"

    error = load_error(write_template(tmp_path, document))

    assert "$.spec.parameters: 'name' is not of type 'object', 'array'" in error.message


def test_invalid_page_schema(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    document["spec"]["parameters"] = [{"properties": {"a": {"type": "text"}}}]

    error = load_error(write_template(tmp_path, document))

    assert "$.spec.parameters[0].properties.a.type: invalid JSON Schema" in error.message


def test_duplicate_step_ids(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    document["spec"]["steps"] = [{"id": "a", "action": "x"}, {"id": "a", "action": "y"}]

    error = load_error(write_template(tmp_path, document))

    assert "$.spec.steps[1].id: duplicate step id 'a'" in error.message


def test_builtin_error_hides_folder(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document("broken")
    document["kind"] = "Component"
    write_template(tmp_path / "broken", document)

    error = load_error("broken", builtin_dir=tmp_path)

    assert "'broken (template.yaml)' is not a template" in error.message
    assert error.template == "broken"


def test_recursive_alias_rejected(tmp_path: Path, write_template: WriteTemplate) -> None:
    file = write_template(tmp_path, "apiVersion: &a\n  - *a\n")

    error = load_error(file)

    assert "contains an alias that refers to itself" in error.message


def test_yaml_dates_become_strings(tmp_path: Path, write_template: WriteTemplate) -> None:
    document = minimal_document()
    document["spec"]["parameters"][0]["properties"]["name"]["default"] = "DATE"
    text = yaml.safe_dump(document).replace("default: DATE", "default: 2024-05-01")
    write_template(tmp_path, text)

    template = load_template(str(tmp_path))

    assert template.parameters[0]["properties"]["name"]["default"] == "2024-05-01"
