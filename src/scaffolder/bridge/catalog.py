"""The templates a bridge may run, by entity ref, loaded once from the configured locations.

A request names a template only by its entity ref (``template:default/name``); nothing in a
request can make the bridge read another folder or clone another URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from scaffolder.bridge.settings import TemplateLocation
from scaffolder.errors import ConfigError, InputError, TemplateError
from scaffolder.templates import (
    TEMPLATE_FILE_NAMES,
    Template,
    list_builtin_templates,
    load_template,
    strip_userinfo,
)

logger = logging.getLogger("scaffolder.bridge.catalog")

DEFAULT_NAMESPACE = "default"
TEMPLATE_KIND = "template"


def entity_ref(template: Template) -> str:
    namespace = template.document.get("metadata", {}).get("namespace") or DEFAULT_NAMESPACE
    return f"{TEMPLATE_KIND}:{namespace}/{template.name}".lower()


def normalize_ref(ref: str) -> str:
    """Complete a short ref (``name``, ``ns/name``) to ``template:ns/name``, lowercased.

    Raises :class:`InputError` for a ref of another kind or with empty parts.
    """
    kind, _, rest = ref.rpartition(":") if ":" in ref else (TEMPLATE_KIND, "", ref)
    namespace, _, name = rest.rpartition("/") if "/" in rest else (DEFAULT_NAMESPACE, "", rest)
    if kind.lower() != TEMPLATE_KIND or not namespace or not name or "/" in namespace:
        raise InputError(
            f"invalid template ref {ref!r}",
            hint="write it as template:<namespace>/<name>, such as template:default/my-template",
        )
    return f"{TEMPLATE_KIND}:{namespace}/{name}".lower()


class TemplateCatalog:
    """Configured templates by entity ref."""

    def __init__(self, templates: Iterable[Template] = ()) -> None:
        self._templates: dict[str, Template] = {}
        for template in templates:
            self.add(template)

    def add(self, template: Template) -> None:
        ref = entity_ref(template)
        existing = self._templates.get(ref)
        if existing is not None:
            raise ConfigError(
                f"two configured templates have the ref {ref!r}: {existing.source!r} and "
                f"{template.source!r}",
                hint="remove one of them from scaffolder.templates, or rename one",
            )
        self._templates[ref] = template

    def get(self, ref: str) -> Template | None:
        """Return the template of ``ref``, or ``None`` when it is not configured."""
        return self._templates.get(normalize_ref(ref))

    def refs(self) -> list[str]:
        return sorted(self._templates)

    @classmethod
    def load(cls, locations: Iterable[TemplateLocation], *, clone_dir: Path) -> TemplateCatalog:
        """Load every location; raise :class:`ConfigError` when one cannot be loaded."""
        catalog = cls()
        for location in locations:
            for template in _load_location(location, clone_dir):
                catalog.add(template)
                logger.info("template %s loaded from %s", entity_ref(template),
                            strip_userinfo(template.source))
        return catalog


def _load_location(location: TemplateLocation, clone_dir: Path) -> list[Template]:
    try:
        if location.builtin_all:
            return list_builtin_templates()
        folder = Path(location.ref)
        if folder.is_dir() and not any((folder / name).is_file() for name in TEMPLATE_FILE_NAMES):
            return _load_folder_of_templates(folder, clone_dir)
        clone_dir.mkdir(parents=True, exist_ok=True)
        return [load_template(location.ref, work_dir=clone_dir)]
    except TemplateError as error:
        raise ConfigError(
            f"cannot load the template location {strip_userinfo(location.ref)!r} "
            f"in scaffolder.templates: {error.message}",
            hint=error.hint,
        ) from error


def _load_folder_of_templates(folder: Path, clone_dir: Path) -> list[Template]:
    """Load each sub-folder that holds a template file."""
    found = [
        child for child in sorted(folder.iterdir())
        if child.is_dir() and any((child / name).is_file() for name in TEMPLATE_FILE_NAMES)
    ]
    if not found:
        raise TemplateError(
            f"folder {str(folder)!r} holds no template.yaml, and no sub-folder holds one",
            template=str(folder),
        )
    return [load_template(str(child), work_dir=clone_dir) for child in found]
