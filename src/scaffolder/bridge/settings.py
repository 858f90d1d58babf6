"""The ``scaffolder`` section of app-config: what ``scaffold serve`` reads and its defaults.

The section is described by ``schemas/scaffolder-config.schema.json``; :func:`load_settings`
validates it again here, so a bridge built from a plain mapping (tests, the library) gets the
same checks as one built by :func:`scaffolder.config.load_config`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from scaffolder.errors import ConfigError
from scaffolder.paths import schemas_dir

SCHEMA_FILE = "scaffolder-config.schema.json"
DEFAULT_WORKERS = 2
DEFAULT_WORKING_DIRECTORY = "./.scaffolder"
DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
DEFAULT_HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class TokenGrant:
    """One accepted bearer token and the principal (entity ref) it authenticates."""

    token: str = field(repr=False)
    principal: str


@dataclass(frozen=True)
class TemplateLocation:
    """One configured template location.

    ``builtin_all`` means every built-in template; otherwise ``ref`` is what
    :func:`scaffolder.templates.load_template` accepts (a built-in name, a folder, a file or a
    git source).
    """

    ref: str = ""
    builtin_all: bool = False


@dataclass(frozen=True)
class BridgeSettings:
    """Settings of one bridge process; see the schema for each field's meaning."""

    templates: tuple[TemplateLocation, ...] = ()
    tokens: tuple[TokenGrant, ...] = ()
    workers: int = DEFAULT_WORKERS
    task_store: str = ""
    working_directory: Path = Path(DEFAULT_WORKING_DIRECTORY)
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    trust_templates: bool = False

    @property
    def task_store_url(self) -> str:
        if self.task_store:
            return self.task_store
        return f"sqlite:///{(self.working_directory / 'tasks.db').resolve()}"


def load_settings(config: Mapping[str, Any], *, base_dir: Path | None = None) -> BridgeSettings:
    """Build :class:`BridgeSettings` from a whole app-config mapping.

    Relative ``workingDirectory`` and folder locations resolve against ``base_dir`` (the
    current folder when ``None``). Raises :class:`ConfigError` naming the first invalid key.
    """
    section = config.get("scaffolder") or {}
    _validate(section)
    base = (base_dir or Path.cwd()).resolve()
    working_directory = base / str(section.get("workingDirectory", DEFAULT_WORKING_DIRECTORY))
    return BridgeSettings(
        templates=_locations(section.get("templates"), base),
        tokens=tuple(
            TokenGrant(token=str(item["token"]), principal=str(item["principal"]))
            for item in (section.get("auth") or {}).get("tokens") or []
        ),
        workers=int(section.get("workers", DEFAULT_WORKERS)),
        task_store=str(section.get("taskStore", "")),
        working_directory=working_directory,
        max_request_bytes=int(section.get("maxRequestBytes", DEFAULT_MAX_REQUEST_BYTES)),
        heartbeat_seconds=float(section.get("heartbeatSeconds", DEFAULT_HEARTBEAT_SECONDS)),
        trust_templates=bool(section.get("trustTemplates", False)),
    )


def _locations(items: Any, base: Path) -> tuple[TemplateLocation, ...]:
    """Return the configured locations; with no ``templates`` key, the built-in templates."""
    if items is None:
        return (TemplateLocation(builtin_all=True),)
    return tuple(_location(item, base) for item in items)


def _location(item: Any, base: Path) -> TemplateLocation:
    if isinstance(item, str):
        return TemplateLocation(ref=_absolute_if_local(item, base))
    if "builtin" in item:
        builtin = item["builtin"]
        if builtin is True:
            return TemplateLocation(builtin_all=True)
        return TemplateLocation(ref=str(builtin))
    return TemplateLocation(ref=_absolute_if_local(str(item["location"]), base))


def _absolute_if_local(ref: str, base: Path) -> str:
    """Anchor a relative folder or file to ``base``; leave names and git sources alone."""
    if ref.startswith(("./", "../")):
        return str(base / ref)
    return ref


def _validate(section: Any) -> None:
    errors = sorted(_validator().iter_errors(section), key=lambda error: list(error.path))
    if not errors:
        return
    first = errors[0]
    location = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in first.absolute_path
    )
    # The message of a failing token would quote the token itself.
    message = "invalid value" if "token" in location else first.message
    raise ConfigError(
        f"invalid configuration: scaffolder{location}: {message}",
        hint=f"see {SCHEMA_FILE} for the keys of the scaffolder section",
    )


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((schemas_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)
