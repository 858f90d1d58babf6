"""Checking task values against a template's parameter schema, reported as Backstage does.

Backstage responds to an invalid ``POST /v2/tasks`` with ``400 {errors: [...]}``, each error in the
shape of the ``jsonschema`` npm package (``path``, ``property``, ``message``, ``name``,
``argument``, ``stack``...). The value of a secret field (``ui:field: Secret`` or
``ui:widget: password``) never appears in an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from scaffolder.parameters import parameter_schema, secret_parameter_names
from scaffolder.redact import MASK
from scaffolder.templates import Template

MAX_ERRORS = 20


def parameter_errors(template: Template, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one Backstage validation error per problem of ``values`` (empty when valid)."""
    schema = parameter_schema(template)
    secrets = secret_parameter_names(template)
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    masked = _mask(dict(values), secrets)
    errors = []
    seen: set[str] = set()
    for error in validator.iter_errors(dict(values)):
        problem = _problem(_most_specific(error), masked, secrets)
        if problem["stack"] not in seen:
            seen.add(problem["stack"])
            errors.append(problem)
        if len(errors) >= MAX_ERRORS:
            break
    return errors


def _most_specific(error: ValidationError) -> ValidationError:
    if error.context:
        best = best_match(error.context)
        if best is not None:
            return _most_specific(best)
    return error


def _problem(
    error: ValidationError, masked_values: dict[str, Any], secrets: set[str]
) -> dict[str, Any]:
    path = list(error.absolute_path)
    field = ".".join(str(part) for part in path)
    if error.validator == "required":
        missing = _missing_property(error)
        path_text = f"{field}.{missing}" if field else missing
        message = f"{path_text}: is required"
        argument: Any = missing
    else:
        name = field.split(".")[0]
        if field in secrets or name in secrets:
            message = f"{field}: the secret value fails {error.validator!r}"
        else:
            message = f"{field or 'values'}: {error.message}"
        argument = error.validator_value
    property_path = "instance" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in path
    )
    return {
        "path": path,
        "property": property_path,
        "message": message,
        "schema": _json_object(error.schema),
        "instance": masked_values,
        "name": str(error.validator),
        "argument": _json_argument(argument),
        "stack": f"{property_path} {message}",
    }


def _missing_property(error: ValidationError) -> str:
    required = error.validator_value if isinstance(error.validator_value, list) else []
    for name in required:
        if isinstance(error.instance, dict) and name not in error.instance:
            return str(name)
    return "?"


def _mask(values: dict[str, Any], secrets: set[str]) -> dict[str, Any]:
    return {key: (MASK if key in secrets else value) for key, value in values.items()}


def _json_object(schema: Any) -> dict[str, Any] | str:
    return schema if isinstance(schema, dict) else json.dumps(schema)


def _json_argument(value: Any) -> bool | float | str | dict[str, Any]:
    """Keep ``argument`` within the contract's types (boolean, number, object, string)."""
    if isinstance(value, bool | int | float | str | dict):
        return value
    return json.dumps(value)
