"""Backstage catalog entities: entity refs, annotations, and finding entities in files.

Entity refs follow Backstage's ``parseEntityRef`` (``[<kind>:][<namespace>/]<name>``, the
namespace defaulting to ``default``), and their parts must be valid for Backstage's catalog.
Refs compare without regard to case, as the catalog compares them. Entities are loaded with
:mod:`scaffolder.catalog_files`, so they can be edited and written back with their comments.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from scaffolder.catalog_files import CatalogFile, InvalidYAMLError, read_text
from scaffolder.errors import InputError

logger = logging.getLogger("scaffolder.catalog")

__all__ = [
    "ANNOTATION_ACCOUNT",
    "ANNOTATION_INTEGRATION_KEY",
    "ANNOTATION_SERVICE_ID",
    "DEFAULT_NAMESPACE",
    "CatalogScan",
    "EntityDocument",
    "EntityRef",
    "InvalidFile",
    "PagerDutyAnnotations",
    "find_entity",
    "load_entities",
    "pagerduty_annotations",
    "parse_entity_ref",
    "scan_entities",
]

DEFAULT_NAMESPACE = "default"
ANNOTATION_SERVICE_ID = "pagerduty.com/service-id"
ANNOTATION_INTEGRATION_KEY = "pagerduty.com/integration-key"
ANNOTATION_ACCOUNT = "pagerduty.com/account"

CATALOG_FILE_NAMES = frozenset({"catalog-info.yaml", "catalog-info.yml"})
YAML_SUFFIXES = frozenset({".yaml", ".yml"})
SKIPPED_FOLDERS = frozenset({".git", "node_modules", ".venv", "__pycache__"})

# The catalog's own validators: KubernetesValidatorFunctions in @backstage/catalog-model.
_KIND = re.compile(r"^[a-zA-Z][a-zA-Z0-9]*$")
_NAMESPACE = re.compile(r"^[a-z0-9]+(?:-+[a-z0-9]+)*$", re.IGNORECASE)
_NAME = re.compile(r"^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_MAX_PART = 63
REF_FORM = "[<kind>:][<namespace>/]<name>"


@dataclass(frozen=True)
class EntityRef:
    """A reference to a catalog entity; ``str()`` gives Backstage's ``kind:namespace/name``."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}:{self.namespace.lower()}/{self.name}"

    @property
    def key(self) -> tuple[str, str, str]:
        """The parts in lower case: two refs to the same entity have equal keys."""
        return (self.kind.lower(), self.namespace.lower(), self.name.lower())


def parse_entity_ref(
    ref: str, *, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE
) -> EntityRef:
    """Parse ``[<kind>:][<namespace>/]<name>`` as Backstage does.

    A ``/`` before the first ``:`` makes the whole rest the name. Raises :class:`InputError`
    naming ``ref`` when it is empty, malformed, lacks a kind and no default is given, or has a
    part that Backstage's catalog would reject.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(f"entity ref {ref!r} is empty or not a string: use the form {REF_FORM}")

    colon = ref.find(":")
    slash = ref.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    kind = ref[:colon] if colon != -1 else None
    namespace = ref[colon + 1 : slash] if slash != -1 else None
    name = ref[max(colon + 1, slash + 1) :]
    if kind == "" or namespace == "" or not name:
        raise InputError(f"entity ref {ref!r} is malformed: use the form {REF_FORM}")

    kind = kind if kind is not None else default_kind
    if not kind:
        raise InputError(
            f"entity ref {ref!r} has no kind: write it as <kind>:{ref}, e.g. component:{ref}"
        )
    parsed = EntityRef(kind, namespace if namespace is not None else default_namespace, name)
    _check_parts(ref, parsed)
    return parsed


_PART_RULES = {
    "kind": "a letter followed by letters and digits",
    "namespace": "letters, digits and '-', starting and ending with a letter or digit",
    "name": "letters, digits and '-_.', starting and ending with a letter or digit",
}


def _check_parts(ref: str, parsed: EntityRef) -> None:
    for part, value, pattern in (
        ("kind", parsed.kind, _KIND),
        ("namespace", parsed.namespace, _NAMESPACE),
        ("name", parsed.name, _NAME),
    ):
        if len(value) > _MAX_PART or not pattern.match(value):
            raise InputError(
                f"entity ref {ref!r} has an invalid {part} {value!r}: Backstage expects "
                f"at most {_MAX_PART} characters, {_PART_RULES[part]}"
            )


@dataclass
class EntityDocument:
    """One entity document: where it is, its data for round-trip editing, and its ref.

    ``index`` is the document's position in a multi-document file; ``annotations`` is a plain
    copy of ``metadata.annotations`` taken when the file was loaded.
    """

    path: Path
    index: int
    data: CommentedMap
    ref: EntityRef
    annotations: dict[str, str]
    file: CatalogFile | None = field(default=None, repr=False, compare=False)
    line: int = 1

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def spec(self) -> Any:
        return self.data.get("spec")

    def location(self) -> str:
        """Return ``path:line`` of the document, for messages."""
        return f"{self.path}:{self.line}"

    def item_location(self, sequence: Any, index: int) -> str:
        """Return ``path:line`` of item ``index`` of a sequence loaded from this document.

        Falls back to the document's own line for a sequence without line information, such
        as one built in code.
        """
        try:
            line, _column = sequence.lc.item(index)
        except (AttributeError, KeyError, TypeError):
            return self.location()
        return f"{self.path}:{self.line + line}"

    def key_location(self, mapping: Any, key: str) -> str:
        """Return ``path:line`` of ``key`` in a mapping loaded from this document."""
        try:
            line, _column = mapping.lc.key(key)
        except (AttributeError, KeyError, TypeError):
            return self.location()
        return f"{self.path}:{self.line + line}"


@dataclass(frozen=True)
class PagerDutyAnnotations:
    """The ``pagerduty.com/*`` annotations of an entity; None for each one it lacks."""

    service_id: str | None
    integration_key: str | None
    account: str | None

    @property
    def any(self) -> bool:
        return bool(self.service_id or self.integration_key or self.account)


def pagerduty_annotations(entity: EntityDocument) -> PagerDutyAnnotations:
    """Return the PagerDuty annotations of ``entity``; blank values count as absent."""
    annotations = entity.annotations
    return PagerDutyAnnotations(
        service_id=annotations.get(ANNOTATION_SERVICE_ID) or None,
        integration_key=annotations.get(ANNOTATION_INTEGRATION_KEY) or None,
        account=annotations.get(ANNOTATION_ACCOUNT) or None,
    )


# Finding entities


@dataclass(frozen=True)
class InvalidFile:
    """A YAML file found in a folder that mentions ``backstage.io/`` but is not valid YAML."""

    path: Path
    line: int | None
    problem: str

    def location(self) -> str:
        """Return ``path:line`` of the YAML error, or the path when the line is unknown."""
        return f"{self.path}:{self.line}" if self.line is not None else str(self.path)

    def message(self) -> str:
        return f"not valid YAML: {self.problem}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.location(), "message": self.message()}


@dataclass
class CatalogScan:
    """The entities found under some paths, and the YAML files that could not be parsed."""

    entities: list[EntityDocument] = field(default_factory=list)
    invalid_files: list[InvalidFile] = field(default_factory=list)


def scan_entities(paths: Iterable[Path]) -> CatalogScan:
    """Load the entities of files and folders, each file once, in a stable order.

    Folders are searched recursively for ``catalog-info.yaml``/``.yml`` and for other YAML
    files whose text contains ``backstage.io/`` and ``kind``. Documents that are not entities
    are skipped. Such an other file that is not valid YAML is listed in ``invalid_files``.
    Raises :class:`InputError` for a missing path, an unreadable file given by name, invalid
    YAML in a file given by name or named ``catalog-info``, or an entity without a valid name.
    """
    scan = CatalogScan()
    seen: set[Path] = set()
    for path, explicit in _candidate_files(paths):
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        try:
            scan.entities.extend(_entities_of_file(path, explicit=explicit))
        except InvalidYAMLError as error:
            if explicit:
                raise
            scan.invalid_files.append(InvalidFile(path, error.line, error.problem))
    return scan


def load_entities(paths: Iterable[Path]) -> list[EntityDocument]:
    """Return the entities that :func:`scan_entities` finds, logging each invalid file.

    Raises :class:`InputError` as :func:`scan_entities` does.
    """
    scan = scan_entities(paths)
    for invalid in scan.invalid_files:
        logger.warning("skipping %s: %s", invalid.location(), invalid.message())
    return scan.entities


def _candidate_files(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    for path in paths:
        path = Path(path)
        if path.is_file():
            yield path, True
        elif path.is_dir():
            yield from ((found, found.name in CATALOG_FILE_NAMES) for found in _walk(path))
        else:
            raise InputError(
                f"catalog path {str(path)!r} does not exist",
                hint="give a catalog-info.yaml file or a folder that contains some",
            )


def _walk(folder: Path) -> Iterator[Path]:
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            if child.name not in SKIPPED_FOLDERS and not child.name.startswith("."):
                yield from _walk(child)
        elif child.suffix.lower() in YAML_SUFFIXES:
            yield child


def _entities_of_file(path: Path, *, explicit: bool) -> list[EntityDocument]:
    if not explicit:
        try:
            text = read_text(path)
        except InputError as error:
            logger.warning("skipping %s: %s", path, error.message)
            return []
        if "backstage.io/" not in text or "kind" not in text:
            return []
        catalog_file = CatalogFile.parse(path, text)
    else:
        catalog_file = CatalogFile.read(path)

    entities = []
    for index, chunk in enumerate(catalog_file.chunks):
        entity = _entity_of(catalog_file, index, chunk.data, chunk.first_line)
        if entity is not None:
            entities.append(entity)
    return entities


def _entity_of(
    catalog_file: CatalogFile, index: int, data: Any, line: int
) -> EntityDocument | None:
    if not isinstance(data, CommentedMap):
        return None
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    if not isinstance(api_version, str) or "backstage.io/" not in api_version:
        return None
    if not isinstance(kind, str) or not kind:
        return None

    where = f"{catalog_file.path}:{line}"
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise InputError(f"the {kind} entity at {where} has no metadata.name")
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    name = metadata["name"]
    try:
        ref = parse_entity_ref(f"{kind}:{namespace}/{name}")
    except InputError as error:
        raise InputError(f"the entity at {where} is invalid: {error.message}") from error

    raw = metadata.get("annotations")
    annotations = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return EntityDocument(catalog_file.path, index, data, ref, annotations, catalog_file, line)


def find_entity(path: Path, selector: str | None) -> EntityDocument:
    """Return the one entity of ``path`` (a file or folder) that ``selector`` names.

    ``selector`` is a name or an entity ref (kind defaults to ``component``); None is allowed
    when ``path`` contains exactly one entity. Raises :class:`InputError` when none or several
    match, listing what was found.
    """
    entities = load_entities([path])
    if not entities:
        raise InputError(
            f"no catalog entity found in {str(path)!r}",
            hint="give a catalog-info.yaml file, or a folder that contains one",
        )
    matches = entities if selector is None else _select(entities, selector)
    found = ", ".join(str(entity.ref) for entity in entities[:20])
    if not matches:
        raise InputError(
            f"no entity {selector!r} in {str(path)!r}; entities found: {found}",
            hint="give the entity's name or its ref, e.g. component:default/payments",
        )
    if len(matches) > 1:
        names = ", ".join(f"{entity.ref} ({entity.location()})" for entity in matches[:20])
        what = "several entities are"
        if selector is not None:
            what = f"several entities match {selector!r}"
        refs = {str(entity.ref) for entity in matches}
        hint = ("choose one by its full ref, e.g. component:default/payments" if len(refs) > 1
                else "several files define the same entity: give the path of one file")
        raise InputError(f"{what} in {str(path)!r}: {names}", hint=hint)
    return matches[0]


def _select(entities: list[EntityDocument], selector: str) -> list[EntityDocument]:
    if ":" not in selector and "/" not in selector:
        exact = [entity for entity in entities if entity.ref.name.lower() == selector.lower()]
        components = [entity for entity in exact if entity.ref.kind.lower() == "component"]
        return components if len(components) == 1 else exact
    ref = parse_entity_ref(selector, default_kind="component")
    return [entity for entity in entities if entity.ref.key == ref.key]
