"""Collecting a template's parameters: values files, ``--set`` pairs, defaults, prompts, validation.

A template's parameters are a list of pages, each a draft-07 JSON Schema object whose ``ui:*``
keys are form hints. Validation removes those keys and checks the values against every page at
once, as Backstage does, so ``dependencies``, ``allOf`` and ``if``/``then`` in a page keep
working. Every problem is reported in one :class:`~scaffolder.errors.ParameterError`.
"""

from __future__ import annotations

import ast
import copy
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import click
import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from scaffolder.errors import ParameterError
from scaffolder.templates import Template, json_compatible, strip_ui_keys

__all__ = [
    "DEFAULT_STEP_TITLE",
    "ClickPrompter",
    "Prompter",
    "coerce_set_values",
    "collect_parameters",
    "load_values_file",
    "parameter_pages",
    "parameter_schema",
    "parameter_schema_response",
    "secret_parameter_names",
    "validate_parameters",
]

Schema = dict[str, Any]

DEFAULT_STEP_TITLE = "Please enter the following information"
"""Title of a parameter page without one, as Backstage's parameter-schema route sets it."""

DRAFT_07 = "http://json-schema.org/draft-07/schema#"

logger = logging.getLogger("scaffolder.parameters")

_PAGE_DISPLAY_KEYS = ("title", "description", "when")
_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})
_INTEGER = re.compile(r"^[+-]?\d+$")
_REQUIRED_SUFFIX = " is a required property"
# Conditional schemas can switch each other on, so defaults are applied in rounds. More rounds
# than this means the conditions loop.
_MAX_DEFAULT_ROUNDS = 10


class _Missing:
    """Marker for a prompt that the user left empty."""


_MISSING = _Missing()


class Prompter(Protocol):
    """Asks the user for one value at a time; the interactive front end of parameter collection."""

    def ask(self, prompt: str, default: str | None, *, secret: bool = False) -> str:
        """Return the user's answer; an empty answer is ``""`` or the default."""
        ...

    def echo(self, text: str) -> None:
        """Show a line of text (a page title, a description, choices, a problem)."""
        ...


class ClickPrompter:
    """A :class:`Prompter` on the terminal, through ``click.prompt``.

    Prompts and messages go to standard error, so standard output stays free for results.
    """

    def ask(self, prompt: str, default: str | None, *, secret: bool = False) -> str:
        answer = click.prompt(
            prompt,
            default=default if default is not None else "",
            show_default=default is not None and not secret,
            hide_input=secret,
            type=str,
            err=True,
        )
        return str(answer)

    def echo(self, text: str) -> None:
        click.echo(text, err=True)


# --- schemas -----------------------------------------------------------------------------------


def parameter_pages(template: Template) -> list[Schema]:
    """Return a copy of the template's parameter pages, ``ui:*`` keys included."""
    return copy.deepcopy(template.parameters)


def parameter_schema(template: Template) -> Schema:
    """Merge the template's pages into one draft-07 schema for validating all values.

    ``ui:*`` keys are removed at any depth. ``properties`` and ``required`` of the pages are
    merged at the top, where the first page that declares a property wins, and each page also
    stays whole under ``allOf``, so its conditionals and constraints apply unchanged.
    """
    properties: Schema = {}
    required: list[str] = []
    pages: list[Schema] = []
    for raw_page in template.parameters:
        page: Schema = strip_ui_keys(raw_page)
        for name, prop in (page.get("properties") or {}).items():
            properties.setdefault(name, prop)
        required.extend(name for name in page.get("required", []) if name not in required)
        pages.append({key: value for key, value in page.items() if key not in _PAGE_DISPLAY_KEYS})

    schema: Schema = {"$schema": DRAFT_07, "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if pages:
        schema["allOf"] = pages
    return schema


def parameter_schema_response(template: Template) -> Schema:
    """Build the body of Backstage's ``GET /v2/templates/{ns}/{kind}/{name}/parameter-schema``."""
    steps = []
    for page in parameter_pages(template):
        step: Schema = {"title": page.get("title") or DEFAULT_STEP_TITLE, "schema": page}
        if page.get("description") is not None:
            step["description"] = page["description"]
        steps.append(step)

    response: Schema = {"title": template.title, "description": template.description}
    response["steps"] = steps
    for key in ("presentation", "EXPERIMENTAL_formDecorators"):
        if key in template.spec:
            response[key] = copy.deepcopy(template.spec[key])
    return response


def secret_parameter_names(template: Template) -> set[str]:
    """Return the dotted names of fields with ``ui:field: Secret`` or ``ui:widget: password``."""
    return {
        name
        for page in template.parameters
        for name, prop in _declared_properties(page, prefix="")
        if _is_secret(prop)
    }


def _is_secret(prop: Schema) -> bool:
    return prop.get("ui:field") == "Secret" or prop.get("ui:widget") == "password"


def _subschemas(schema: Schema) -> Iterator[Schema]:
    """Yield every subschema that can declare properties beside ``properties``."""
    for keyword in ("allOf", "anyOf", "oneOf"):
        yield from (item for item in schema.get(keyword) or [] if isinstance(item, dict))
    for dependency in (schema.get("dependencies") or {}).values():
        if isinstance(dependency, dict):
            yield dependency
    for keyword in ("then", "else"):
        if isinstance(schema.get(keyword), dict):
            yield schema[keyword]


def _all_properties(schema: Schema) -> Schema:
    """Return every property that ``schema`` declares, conditional ones included."""
    found: Schema = {
        name: prop
        for name, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict)
    }
    for sub in _subschemas(schema):
        for name, prop in _all_properties(sub).items():
            found.setdefault(name, prop)
    return found


def _declared_properties(schema: Schema, prefix: str) -> Iterator[tuple[str, Schema]]:
    for name, prop in _all_properties(schema).items():
        yield prefix + name, prop
        yield from _declared_properties(prop, prefix=f"{prefix}{name}.")


def _active(schema: Schema, values: Mapping[str, Any]) -> tuple[Schema, list[str]]:
    """Return the properties and required names that apply to ``values`` now.

    A ``dependencies`` entry applies once its key has a value, ``if`` picks ``then`` or
    ``else``, and of ``oneOf``/``anyOf`` the first option that the present values fit.
    """
    properties: Schema = {
        name: prop
        for name, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict)
    }
    required = [name for name in schema.get("required") or [] if isinstance(name, str)]
    for sub in _active_subschemas(schema, values):
        sub_properties, sub_required = _active(sub, values)
        for name, prop in sub_properties.items():
            properties.setdefault(name, prop)
        required.extend(name for name in sub_required if name not in required)
    return properties, required


def _active_subschemas(schema: Schema, values: Mapping[str, Any]) -> Iterator[Schema]:
    yield from (item for item in schema.get("allOf") or [] if isinstance(item, dict))

    for key, dependency in (schema.get("dependencies") or {}).items():
        if key in values and isinstance(dependency, dict):
            yield dependency

    condition = schema.get("if")
    if isinstance(condition, dict | bool):
        branch = "then" if _validator(condition).is_valid(values) else "else"
        if isinstance(schema.get(branch), dict):
            yield schema[branch]

    for keyword in ("oneOf", "anyOf"):
        options = [item for item in schema.get(keyword) or [] if isinstance(item, dict)]
        fitting = [option for option in options if _fits_present_values(option, values)]
        if fitting:
            yield fitting[0]


def _fits_present_values(option: Schema, values: Mapping[str, Any]) -> bool:
    for name, prop in (option.get("properties") or {}).items():
        if name in values and not _validator(prop).is_valid(values[name]):
            return False
    return True


def _validator(schema: Schema | bool) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(
        strip_ui_keys(schema), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


# --- validation --------------------------------------------------------------------------------


def validate_parameters(
    schema: Schema, values: Mapping[str, Any], *, secrets: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """Return one line per problem of ``values`` against ``schema``, in property order.

    Lines read ``name: is required`` or ``<dotted.path>: <message>``. The value of a field named
    in ``secrets`` never appears in a line.
    """
    order = list(_all_properties(schema))
    problems: list[tuple[int, str]] = []
    for error in _validator(schema).iter_errors(dict(values)):
        specific = _most_specific(error)
        name, line = _problem_line(specific, secrets)
        position = order.index(name) if name in order else len(order)
        if all(line != seen for _, seen in problems):
            problems.append((position, line))
    return [line for _, line in sorted(problems, key=lambda item: item[0])]


def _most_specific(error: ValidationError) -> ValidationError:
    # oneOf/anyOf errors only say "is not valid under any of the given schemas"; the best
    # error among their options names the field and the reason.
    if error.context:
        best = best_match(error.context)
        if best is not None:
            return _most_specific(best)
    return error


def _problem_line(error: ValidationError, secrets: set[str] | frozenset[str]) -> tuple[str, str]:
    path = _dotted(error.absolute_path)
    if error.validator == "required" and error.message.endswith(_REQUIRED_SUFFIX):
        missing = ast.literal_eval(error.message.removesuffix(_REQUIRED_SUFFIX))
        full = f"{path}.{missing}" if path else str(missing)
        return full.split(".")[0].split("[")[0], f"{full}: is required"

    name = path.split(".")[0].split("[")[0]
    where = path or "parameters"
    if path in secrets or name in secrets:
        return (
            name,
            f"{where}: the secret value fails {error.validator!r}: {error.validator_value!r}",
        )
    return name, f"{where}: {_shorten(error.message)}"


def _dotted(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = part
    return text


def _shorten(message: str, limit: int = 200) -> str:
    message = message.replace("\n", " ")
    return message if len(message) <= limit else message[: limit - 3] + "..."


# --- values from the command line and files ----------------------------------------------------


def coerce_set_values(
    pairs: list[str], schema: Schema, *, secrets: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Convert ``--set key=value`` pairs to a values mapping, typed by ``schema``.

    ``key`` may be dotted (``owner.team``) to reach a property of a nested object. Each value is
    converted to its property's type: integer, number, boolean (true/false/yes/no/1/0), array
    (comma-separated or a JSON list), object (JSON) or string. All bad pairs are reported in one
    :class:`ParameterError`; the value of a field named in ``secrets`` is not shown.
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for pair in pairs:
        key, separator, text = pair.partition("=")
        key = key.strip()
        if not separator or not key:
            problems.append(f"{pair!r}: expected key=value")
            continue
        prop = _property_at(schema, key)
        if isinstance(prop, str):
            problems.append(prop)
            continue
        try:
            value = _convert_text(text, prop)
        except ValueError as error:
            shown = "the secret value" if key in secrets else repr(text)
            problems.append(f"{key}: {shown} {error}")
            continue
        if not _set_dotted(values, key, value):
            problems.append(f"{key}: conflicts with a value already set for part of {key!r}")
    if problems:
        raise ParameterError(problems, hint="give each value as key=value, with a declared key")
    return values


def _property_at(schema: Schema, key: str) -> Schema | str:
    """Return the property schema that dotted ``key`` names, or a problem line."""
    current: Schema = schema
    walked: list[str] = []
    for part in key.split("."):
        declared = _all_properties(current)
        if part not in declared:
            where = f" of {'.'.join(walked)!r}" if walked else ""
            names = ", ".join(declared) or "none"
            return f"{key}: not a declared parameter{where}; declared: {names}"
        current = declared[part]
        walked.append(part)
    return current


def _set_dotted(values: dict[str, Any], key: str, value: Any) -> bool:
    *parents, last = key.split(".")
    target = values
    for part in parents:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            return False
    if isinstance(target.get(last), dict) and not isinstance(value, dict):
        return False
    target[last] = value
    return True


def _types_of(prop: Schema) -> list[str]:
    declared = prop.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [item for item in declared if isinstance(item, str)]
    return []


def _convert_text(text: str, prop: Schema) -> Any:
    """Convert ``text`` to the JSON type of ``prop``; raise ``ValueError("is not ...")``."""
    types = _types_of(prop)
    if not types:
        for choice in prop.get("enum") or []:
            if _display(choice) == text:
                return choice
        return text

    # Try the stricter types first, so that ["integer", "string"] reads "3" as 3.
    ordered = sorted(types, key=lambda name: name == "string")
    for type_name in ordered:
        try:
            return _convert_to(text, type_name, prop)
        except ValueError:
            continue
    expected = " or ".join(_TYPE_LABELS.get(name, name) for name in ordered)
    raise ValueError(f"is not {expected}")


_TYPE_LABELS = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true/false, yes/no, 1/0)",
    "array": "an array (comma-separated, or a JSON list)",
    "object": 'an object (JSON, like {"key": "value"})',
    "null": "null",
    "string": "a string",
}


def _convert_to(text: str, type_name: str, prop: Schema) -> Any:
    stripped = text.strip()
    if type_name == "string":
        return text
    if type_name == "integer" and _INTEGER.match(stripped):
        return int(stripped)
    if type_name == "number":
        return _to_number(stripped)
    if type_name == "boolean":
        return _to_bool(stripped)
    if type_name == "array":
        return _to_array(stripped, prop)
    if type_name == "object":
        return _to_json(stripped, dict)
    if type_name == "null" and stripped in ("", "null"):
        return None
    raise ValueError(type_name)


def _to_number(text: str) -> int | float:
    if _INTEGER.match(text):
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _to_bool(text: str) -> bool:
    word = text.lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(text)


def _to_array(text: str, prop: Schema) -> list[Any]:
    if text.startswith("["):
        result: list[Any] = _to_json(text, list)
        return result
    if not text:
        return []
    items = prop.get("items")
    item_schema: Schema = items if isinstance(items, dict) else {}
    return [_convert_text(part.strip(), item_schema) for part in text.split(",")]


def _to_json(text: str, expected: type[Any]) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(text) from error
    if not isinstance(value, expected):
        raise ValueError(text)
    return value


def load_values_file(path: Path | str) -> dict[str, Any]:
    """Read parameter values from a YAML or JSON file (JSON when the name ends in ``.json``)."""
    file = Path(path)
    hint = "give a YAML or JSON file that maps parameter names to values"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError([f"values file {str(file)!r} not found"], hint=hint) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ParameterError(
            [f"cannot read values file {str(file)!r}: {error.__class__.__name__}: {error}"],
            hint=hint,
        ) from None

    try:
        data = json_compatible(_parse_values(file, text, hint))
    except ValueError:
        problem = f"values file {str(file)!r} contains an alias that refers to itself"
        raise ParameterError([problem], hint=hint) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(
            [f"values file {str(file)!r} contains a {type(data).__name__}, not a mapping"],
            hint=hint,
        )
    return data


def _parse_values(file: Path, text: str, hint: str) -> Any:
    if file.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            where = f"line {error.lineno}, column {error.colno}"
            problem = f"values file {str(file)!r} is not valid JSON: {where}: {error.msg}"
            raise ParameterError([problem], hint=hint) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        reason = error.problem or error.context or "syntax error"
        problem = f"values file {str(file)!r} is not valid YAML: {where}{reason}"
        raise ParameterError([problem], hint=hint) from None
    except yaml.YAMLError as error:
        problem = f"values file {str(file)!r} is not valid YAML: {error}"
        raise ParameterError([problem], hint=hint) from None


# --- collection --------------------------------------------------------------------------------


def collect_parameters(
    template: Template,
    *,
    values: Mapping[str, Any],
    interactive: bool,
    prompter: Prompter | None = None,
) -> dict[str, Any]:
    """Return the template's parameter values: ``values``, answers, defaults, all validated.

    When ``interactive``, every property that ``values`` lacks is asked for, page by page in
    declaration order, with its default pre-filled; a property that a ``dependencies`` or
    ``if``/``then`` entry switches on is asked once the answers switch it on. Otherwise nothing
    is asked. Defaults fill what is still missing, and all remaining problems are raised in one
    :class:`ParameterError`.
    """
    # An empty string counts as not given, as in Backstage's form, so a required field
    # cannot be satisfied by "" and a default still applies.
    collected = {name: value for name, value in copy.deepcopy(dict(values)).items()
                 if value != ""}
    secrets = secret_parameter_names(template)
    if interactive:
        active_prompter = prompter if prompter is not None else ClickPrompter()
        for page in template.parameters:
            # NOTE: a page's `when` condition is not evaluated; every page is asked.
            _prompt_page(page, collected, active_prompter, secrets)

    schema = parameter_schema(template)
    undeclared = sorted(set(collected) - set(_all_properties(schema)))
    if undeclared:
        logger.warning(
            "template %s: passing values of undeclared parameters %s",
            template.name,
            ", ".join(undeclared),
        )
    _apply_defaults(schema, collected)
    problems = validate_parameters(schema, collected, secrets=secrets)
    if problems:
        raise ParameterError(problems, hint="supply each missing value and fix each invalid one")
    return collected


def _apply_defaults(schema: Schema, values: dict[str, Any]) -> bool:
    """Set the default of every active property that has no value; return whether any was set."""
    changed_any = False
    for _ in range(_MAX_DEFAULT_ROUNDS):
        changed = False
        properties, _required = _active(schema, values)
        for name, prop in properties.items():
            if name not in values and "default" in prop:
                values[name] = copy.deepcopy(prop["default"])
                changed = True
            elif name not in values and "properties" in prop:
                nested: dict[str, Any] = {}
                if _apply_defaults(prop, nested):
                    values[name] = nested
                    changed = True
            elif isinstance(values.get(name), dict) and "properties" in prop:
                changed = _apply_defaults(prop, values[name]) or changed
        if not changed:
            break
        changed_any = True
    return changed_any


def _prompt_page(
    page: Schema, values: dict[str, Any], prompter: Prompter, secrets: set[str]
) -> None:
    if page.get("title"):
        prompter.echo(str(page["title"]))
    if page.get("description"):
        prompter.echo(str(page["description"]))
    _prompt_object(page, values, prompter, secrets, prefix="")


def _prompt_object(
    schema: Schema, values: dict[str, Any], prompter: Prompter, secrets: set[str], prefix: str
) -> None:
    asked: set[str] = set()
    while True:
        properties, required = _active(schema, values)
        pending = [
            name
            for name, prop in properties.items()
            if name not in values and name not in asked and not _is_hidden(prop)
        ]
        if not pending:
            return

        name = pending[0]
        asked.add(name)
        prop = properties[name]
        label = prefix + name
        if _types_of(prop) == ["object"] and "properties" in prop:
            nested: dict[str, Any] = {}
            _prompt_object(prop, nested, prompter, secrets, prefix=f"{label}.")
            if nested or name in required:
                values[name] = nested
            continue

        answer = _ask_property(label, prop, name in required, prompter, label in secrets)
        if not isinstance(answer, _Missing):
            values[name] = answer


def _is_hidden(prop: Schema) -> bool:
    return prop.get("ui:widget") == "hidden" or (
        prop.get("ui:readonly") is True and "default" in prop
    )


def _ask_property(
    label: str, prop: Schema, required: bool, prompter: Prompter, secret: bool
) -> Any:
    """Ask for one value until it converts and validates; ``_MISSING`` if left empty."""
    title = str(prop.get("title") or label)
    if prop.get("description"):
        prompter.echo(f"{title}: {prop['description']}")
    choices = _choices(prop)
    for number, (_, shown) in enumerate(choices, start=1):
        prompter.echo(f"  {number}) {shown}")
    items = prop.get("items")
    if not choices and isinstance(items, dict) and _choices(items):
        allowed = ", ".join(shown for _, shown in _choices(items))
        prompter.echo(f"  one or more of: {allowed} (comma-separated)")

    default = _default_text(prop)
    prompt = title + (" (y/n)" if _types_of(prop) == ["boolean"] else "")
    validator = _validator(prop)
    while True:
        answer = prompter.ask(prompt, default, secret=secret)
        # Spaces may belong to a password, so only other answers are trimmed.
        answer = answer if secret and answer.strip() else answer.strip()
        if default is not None and answer in ("", default):
            return copy.deepcopy(prop["default"])
        if not answer:
            if not required:
                return _MISSING
            prompter.echo(f"{label}: a value is required")
            continue

        try:
            value = _choice_value(answer, choices) if choices else _convert_text(answer, prop)
        except ValueError as error:
            prompter.echo(f"{label}: {'the answer' if secret else repr(answer)} {error}")
            continue

        errors = list(validator.iter_errors(value))
        if not errors:
            return value
        reason = _most_specific(errors[0])
        shown = f"fails {reason.validator!r}" if secret else _shorten(reason.message)
        prompter.echo(f"{label}: {shown}; try again")


def _choices(prop: Schema) -> list[tuple[Any, str]]:
    """Return ``(value, text shown)`` for each allowed value of an ``enum`` property."""
    enum = prop.get("enum")
    if not isinstance(enum, list):
        return []
    names = prop.get("enumNames")
    shown_names = names if isinstance(names, list) and len(names) == len(enum) else None
    choices = []
    for index, value in enumerate(enum):
        text = _display(value)
        if shown_names is not None and str(shown_names[index]) != text:
            text = f"{shown_names[index]} ({text})"
        choices.append((value, text))
    return choices


def _choice_value(answer: str, choices: list[tuple[Any, str]]) -> Any:
    for value, _ in choices:
        if _display(value) == answer:
            return value
    if _INTEGER.match(answer) and 1 <= int(answer) <= len(choices):
        return choices[int(answer) - 1][0]
    allowed = ", ".join(_display(value) for value, _ in choices)
    raise ValueError(f"is not a choice: answer 1-{len(choices)} or one of {allowed}")


def _default_text(prop: Schema) -> str | None:
    if "default" not in prop or prop["default"] is None:
        return None
    default = prop["default"]
    if isinstance(default, bool) and not prop.get("enum"):
        return "y" if default else "n"
    if isinstance(default, list) and all(not isinstance(item, dict | list) for item in default):
        return ",".join(_display(item) for item in default)
    return _display(default)


def _display(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)
