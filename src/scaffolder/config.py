"""Loading Backstage app-config files: merging, ``${VAR}`` substitution, validation.

Several files are read in order and deep-merged: a later file wins for scalars and lists,
mappings merge key by key. String values may reference environment variables as Backstage
does: ``${VAR}`` is replaced by the variable's value, ``$${`` stands for a literal ``${``, and a
mapping ``{$env: VAR}`` is replaced by the value as a whole. The merged result is validated
against ``schemas/app-config.schema.json``, the ``pagerDuty`` section is checked against the
account rules, and every credential found is added to the redactor.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import yaml
from referencing.jsonschema import DRAFT202012

from scaffolder.errors import ConfigError
from scaffolder.paths import schemas_dir
from scaffolder.redact import GLOBAL_REDACTOR, Redactor

logger = logging.getLogger("scaffolder.config")

APP_CONFIG_SCHEMA = "app-config.schema.json"

CREDENTIAL_KEYS = frozenset({"apiToken", "clientSecret", "token", "tokens", "password", "secret"})
"""Keys whose string values (or lists of strings) are credentials, wherever they appear."""

"""Sections whose every string value is a credential."""

_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_config(
    paths: list[Path],
    env: Mapping[str, str] = os.environ,
    *,
    redactor: Redactor = GLOBAL_REDACTOR,
) -> dict[str, Any]:
    """Read, substitute, merge and validate the app-config files ``paths``, in order.

    Raises :class:`ConfigError` naming the file (and key path) of the first problem.
    """
    merged: dict[str, Any] = {}
    for path in paths:
        document = _read_yaml(Path(path))
        substituted = substitute_env(document, env, source=str(path))
        merged = deep_merge(merged, substituted)

    register_credentials(merged, redactor)
    validate_config(merged, sources=[str(path) for path in paths])
    logger.debug("loaded configuration from %d file(s)", len(paths))
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {str(path)!r}: {exc.strerror or exc}", path=str(path)
        ) from exc

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"config file {str(path)!r} is not valid YAML: {exc}", path=str(path)
        ) from exc

    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"config file {str(path)!r} must contain a mapping at the top level, "
            f"found {type(document).__name__}",
            path=str(path),
        )
    return document


def substitute_env(value: Any, env: Mapping[str, str], *, source: str, key: str = "") -> Any:
    """Return ``value`` with every ``${VAR}`` and ``{$env: VAR}`` replaced from ``env``."""
    if isinstance(value, str):
        return _substitute_string(value, env, source=source, key=key)

    if isinstance(value, dict):
        if set(value) == {"$env"}:
            return _lookup(str(value["$env"]), env, source=source, key=key)
        return {
            name: substitute_env(item, env, source=source, key=_join_key(key, str(name)))
            for name, item in value.items()
        }

    if isinstance(value, list):
        return [
            substitute_env(item, env, source=source, key=f"{key}[{index}]")
            for index, item in enumerate(value)
        ]
    return value


def _substitute_string(text: str, env: Mapping[str, str], *, source: str, key: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        return _lookup(match.group(1).strip(), env, source=source, key=key)

    return _VARIABLE.sub(replace, text)


def _lookup(name: str, env: Mapping[str, str], *, source: str, key: str) -> str:
    if not _VARIABLE_NAME.fullmatch(name):
        raise ConfigError(
            f"invalid environment variable reference {name!r} at {key or '<root>'} "
            f"in {source!r}: use ${{NAME}} with letters, digits and underscores",
            path=source,
        )
    if name not in env:
        raise ConfigError(
            f"environment variable {name!r} is not set, but {key or '<root>'} in {source!r} "
            f"uses it: set {name} or remove the reference",
            path=source,
        )
    return env[name]


def _join_key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: mappings merge, everything else is replaced."""
    result = dict(base)
    for name, value in override.items():
        current = result.get(name)
        if isinstance(current, dict) and isinstance(value, dict):
            result[name] = deep_merge(current, value)
        else:
            result[name] = value
    return result


def register_credentials(config: Mapping[str, Any], redactor: Redactor = GLOBAL_REDACTOR) -> None:
    """Add every credential value in ``config`` to ``redactor``."""
    for secret in _credential_values(config):
        redactor.add(secret)


def _credential_values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name in CREDENTIAL_KEYS and not _has_mapping(item):
                yield from _string_leaves(item)
            else:
                yield from _credential_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _credential_values(item)


def _has_mapping(value: Any) -> bool:
    """Tell whether ``value`` contains objects, such as ``tokens: [{token, principal}]``.

    Only the credential keys inside such objects are secrets, not their other fields.
    """
    return isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(item, dict) for item in value)
    )


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _string_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _string_leaves(item)


def validate_config(config: Mapping[str, Any], *, sources: list[str] | None = None) -> None:
    """Check ``config`` against the app-config schema and the PagerDuty account rules."""
    where = ", ".join(repr(source) for source in sources) if sources else "the configuration"
    _check_section_names(config, where)
    validator = _validator()
    errors = sorted(validator.iter_errors(config), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        location = _format_location(first.absolute_path)
        raise ConfigError(f"invalid configuration in {where}: {location}: {_describe(first)}")

    section = config.get("pagerDuty")
    if section is not None:
        from scaffolder.pagerduty.accounts import parse_pagerduty_section

        try:
            parse_pagerduty_section(section)
        except ConfigError as exc:
            raise ConfigError(f"invalid configuration in {where}: {exc.message}") from exc


def _describe(error: jsonschema.ValidationError) -> str:
    """Return the problem without quoting a credential (the message would show the value)."""
    if error.validator == "minLength":
        return f"must be at least {error.validator_value} characters long"
    if error.validator == "maxLength":
        return f"must be at most {error.validator_value} characters long"
    if any(part in CREDENTIAL_KEYS for part in error.absolute_path if isinstance(part, str)):
        return f"invalid value (the {error.validator!r} rule of the schema)"
    return str(error.message)


KNOWN_SECTIONS = ("pagerDuty", "scaffolder")


def _check_section_names(config: Mapping[str, Any], where: str) -> None:
    """Reject a top-level key that is one of ours in the wrong case, such as ``pagerduty``.

    Other sections belong to the rest of a Backstage app-config and are left alone, so a
    misspelled section would otherwise be ignored without a word.
    """
    for key in config:
        for known in KNOWN_SECTIONS:
            if key != known and key.casefold() == known.casefold():
                raise ConfigError(
                    f"invalid configuration in {where}: unknown section {key!r}",
                    hint=f"the section is spelled {known!r}",
                )


def _format_location(path: Any) -> str:
    location = ""
    for part in path:
        if isinstance(part, int):
            location += f"[{part}]"
        else:
            location = _join_key(location, str(part))
    return location or "<root>"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    registry: referencing.Registry[Any] = referencing.Registry(
        retrieve=_retrieve_schema  # type: ignore[call-arg]
    )
    schema = _load_schema(APP_CONFIG_SCHEMA)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _retrieve_schema(uri: str) -> referencing.Resource[Any]:
    name = uri.rsplit("/", 1)[-1]
    return DRAFT202012.create_resource(_load_schema(name))


def _load_schema(name: str) -> dict[str, Any]:
    path = schemas_dir() / name
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"schema {name!r} not found in {str(schemas_dir())!r}") from exc
    return schema
