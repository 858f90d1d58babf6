"""Action manifests: loading, input and output validation, and handler resolution.

A manifest is ``actions/<namespace>/<name>.yaml``; third-party packages add actions through the
``scaffolder.actions`` entry-point group, whose target is a folder of manifests, one manifest
mapping, or a list of them.
"""

from __future__ import annotations

import difflib
import importlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry as SchemaRegistry
from referencing import Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012 as _DRAFT

from scaffolder.errors import ActionError, InputError, StepError, TemplateError
from scaffolder.paths import actions_dir, schemas_dir
from scaffolder.yamlfiles import safe_load

logger = logging.getLogger("scaffolder.registry")

Handler = Callable[[Any], None]
_MAX_REPORTED_ERRORS = 5


def _retrieve_schema(uri: str) -> Resource[Any]:
    """Load ``schemas/<file>`` references from the shipped schemas folder."""
    name = uri.removeprefix("schemas/")
    path = schemas_dir() / name
    if uri == name or not path.is_file() or path.resolve().parent != schemas_dir().resolve():
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]
    contents = json.loads(path.read_text(encoding="utf-8"))
    return Resource.from_contents(contents, default_specification=_DRAFT)


SCHEMA_REGISTRY: SchemaRegistry[Any] = SchemaRegistry(retrieve=_retrieve_schema)  # type: ignore[call-arg]


def schema_validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """Return a validator that resolves ``$ref: schemas/<file>`` into the shipped schemas."""
    return Draft202012Validator(schema, registry=SCHEMA_REGISTRY)


@dataclass(frozen=True)
class ActionManifest:
    """One action: its id, schemas, handler reference and documentation."""

    id: str
    description: str
    handler_ref: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    supports_dry_run: bool = False
    requires_trust: bool = False
    """The action runs template-supplied code outside the sandbox (``fetch:cookiecutter``)."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str) -> ActionManifest:
        missing = [key for key in ("id", "handler", "input") if key not in data]
        if missing:
            raise InputError(f"action manifest {source}: missing key(s) {', '.join(missing)}")
        return cls(
            id=str(data["id"]),
            description=str(data.get("description", "")),
            handler_ref=str(data["handler"]),
            input_schema=dict(data.get("input") or {"type": "object"}),
            output_schema=dict(data.get("output") or {"type": "object"}),
            supports_dry_run=bool(data.get("supportsDryRun", False)),
            requires_trust=bool(data.get("requiresTrust", False)),
            examples=list(data.get("examples") or []),
            source=source,
        )

    def to_backstage(self) -> dict[str, Any]:
        """Return the action in the shape of Backstage's ``GET /v2/actions``."""
        return {
            "id": self.id,
            "description": self.description,
            "examples": self.examples,
            "schema": {"input": self.input_schema, "output": self.output_schema},
        }

    def resolve_handler(self) -> Handler:
        module_name, _, function_name = self.handler_ref.partition(":")
        try:
            module = importlib.import_module(module_name)
            handler: Handler = getattr(module, function_name)
        except (ImportError, AttributeError) as error:
            raise ActionError(
                f"action {self.id!r}: cannot load handler {self.handler_ref!r}: {error}",
                action=self.id,
            ) from error
        return handler


def _format_error(error: ValidationError, prefix: str) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.path)
    return f"{prefix}{path}: {error.message}"


def validation_errors(
    schema: Mapping[str, Any], value: Any, prefix: str
) -> list[str]:
    """Return one line per schema violation, like ``input.url: 3 is not of type 'string'``."""
    errors = sorted(schema_validator(schema).iter_errors(value), key=lambda e: list(e.path))
    return [_format_error(error, prefix) for error in errors]


class ActionRegistry:
    """The set of known actions, by id."""

    def __init__(self, manifests: Iterable[ActionManifest] = ()) -> None:
        self._manifests: dict[str, ActionManifest] = {}
        self._handlers: dict[str, Handler] = {}
        for manifest in manifests:
            self.add(manifest)

    def add(self, manifest: ActionManifest, handler: Handler | None = None) -> None:
        self._manifests[manifest.id] = manifest
        if handler is not None:
            self._handlers[manifest.id] = handler

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._manifests

    def ids(self) -> list[str]:
        return sorted(self._manifests)

    def all(self) -> list[ActionManifest]:
        return [self._manifests[action_id] for action_id in self.ids()]

    def get(self, action_id: str) -> ActionManifest:
        try:
            return self._manifests[action_id]
        except KeyError:
            close = difflib.get_close_matches(action_id, self.ids(), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise TemplateError(
                f"unknown action {action_id!r}: {hint}run 'scaffold actions list' for the "
                "actions available"
            ) from None

    def handler(self, action_id: str) -> Handler:
        if action_id not in self._handlers:
            self._handlers[action_id] = self.get(action_id).resolve_handler()
        return self._handlers[action_id]

    def validate_input(self, action_id: str, value: Any, *, step_id: str) -> None:
        manifest = self.get(action_id)
        errors = validation_errors(manifest.input_schema, value, "input")
        if errors:
            raise StepError(
                _step_message(step_id, action_id, errors), step_id=step_id, action=action_id
            )

    def validate_output(self, action_id: str, value: Any, *, step_id: str) -> None:
        manifest = self.get(action_id)
        errors = validation_errors(manifest.output_schema, value, "output")
        if errors:
            raise StepError(
                _step_message(step_id, action_id, errors), step_id=step_id, action=action_id
            )


def _step_message(step_id: str, action_id: str, errors: list[str]) -> str:
    shown = errors[:_MAX_REPORTED_ERRORS]
    more = len(errors) - len(shown)
    suffix = f" (and {more} more)" if more else ""
    return f"step {step_id} ({action_id}): " + "; ".join(shown) + suffix


def load_manifest_file(path: Path) -> ActionManifest:
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InputError(f"action manifest {path}: invalid YAML: {error}") from None
    if not isinstance(data, Mapping):
        raise InputError(f"action manifest {path}: expected a mapping")
    return ActionManifest.from_mapping(data, source=str(path))


def load_manifest_folder(folder: Path) -> list[ActionManifest]:
    return [load_manifest_file(path) for path in sorted(folder.rglob("*.yaml"))]


def _entry_point_manifests() -> list[ActionManifest]:
    manifests: list[ActionManifest] = []
    for entry_point in entry_points(group="scaffolder.actions"):
        try:
            target = entry_point.load()
        except Exception as error:  # a broken plugin must not stop the tool
            logger.warning("cannot load actions from entry point %s: %s", entry_point.name, error)
            continue
        if isinstance(target, str | Path):
            manifests.extend(load_manifest_folder(Path(target)))
        elif isinstance(target, Mapping):
            manifests.append(ActionManifest.from_mapping(target, source=entry_point.name))
        elif isinstance(target, list):
            manifests.extend(
                ActionManifest.from_mapping(item, source=entry_point.name) for item in target
            )
    return manifests


@cache
def default_registry() -> ActionRegistry:
    """Return the built-in actions plus those registered through entry points."""
    return ActionRegistry([*load_manifest_folder(actions_dir()), *_entry_point_manifests()])


def example_output(schema: Mapping[str, Any]) -> Any:
    """Make up a value from an output schema, as Backstage does for skipped dry-run steps."""
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else None
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: example_output(sub) for name, sub in properties.items()}
    return {
        "string": "<example>",
        "number": 0,
        "integer": 0,
        "boolean": False,
        "array": [],
        "null": None,
    }.get(str(kind))
