"""Syncing ``spec.dependsOn`` of catalog entities with PagerDuty's service dependencies.

A Component that depends on X makes the Component's service the *dependent* service and X's
service the *supporting* one. Refs in ``dependsOn`` are parsed as Backstage does, except that a
missing kind defaults to ``component``. A missing namespace is the entity's own namespace,
which is ``default`` for most entities. Only dependencies between services of entities found
under the given path are compared: a PagerDuty dependency on a service that no entity maps to
is reported and left alone, so that ``backstage`` never removes what the catalog cannot express.

Strategies: ``backstage`` makes PagerDuty match the files, ``pagerduty`` rewrites ``dependsOn``
from PagerDuty, and ``both`` adds what either side lacks and removes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from scaffolder.catalog import EntityDocument, EntityRef, pagerduty_annotations, parse_entity_ref
from scaffolder.catalog_files import CatalogFile, append_item, append_key, new_sequence
from scaffolder.catalog_services import ServiceDirectory, ServiceRecord, resolve_entity
from scaffolder.errors import InputError
from scaffolder.pagerduty import PagerDuty

logger = logging.getLogger("scaffolder.dependencies")

STRATEGIES = ("backstage", "pagerduty", "both")
BATCH_SIZE = 50
"""Relationships per associate or disassociate request."""

DEFAULT_CONCURRENCY = 8

Edge = tuple[str, str, str]
"""``(account, dependent service id, supporting service id)``."""


@dataclass
class Note:
    """Something reported beside the plan: a kept ref, a cross-account pair, a bad ref.

    ``entity`` is None for a note about a whole file, such as a file that is not valid YAML.
    ``file`` is ``path:line`` of what the note is about.
    """

    entity: str | None
    file: str
    message: str
    ref: str | None = None
    problem: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "file": self.file,
            "ref": self.ref,
            "message": self.message,
            "problem": self.problem,
        }


@dataclass
class EntityChange:
    """Refs added to or removed from one entity's ``dependsOn``."""

    entity: EntityDocument
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": str(self.entity.ref),
            "file": self.entity.location(),
            "add": self.add,
            "remove": self.remove,
        }


@dataclass
class SyncPlan:
    """The changes of a sync on each side, and the notes it reports."""

    strategy: str
    pagerduty_add: list[Edge] = field(default_factory=list)
    pagerduty_remove: list[Edge] = field(default_factory=list)
    catalog: list[EntityChange] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    labels: dict[tuple[str, str], str] = field(default_factory=dict)
    applied: bool = False
    changed_files: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[Note]:
        return [note for note in self.notes if note.problem]

    def edge_dict(self, edge: Edge) -> dict[str, Any]:
        account, dependent, supporting = edge
        return {
            "account": account,
            "dependent": {"serviceId": dependent, "entity": self.labels.get((account, dependent))},
            "supporting": {
                "serviceId": supporting,
                "entity": self.labels.get((account, supporting)),
            },
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "applied": self.applied,
            "pagerduty": {
                "add": [self.edge_dict(edge) for edge in self.pagerduty_add],
                "remove": [self.edge_dict(edge) for edge in self.pagerduty_remove],
            },
            "catalog": [change.to_dict() for change in self.catalog if change.add or change.remove],
            "changedFiles": self.changed_files,
            "notes": [note.to_dict() for note in self.notes],
        }


@dataclass(frozen=True)
class _DependsOnItem:
    """One item of an entity's ``dependsOn`` as written, its parsed ref, and its location."""

    raw: Any
    ref: EntityRef | None
    location: str


@dataclass
class _Context:
    """The entities under the path, their services, and PagerDuty's current dependencies."""

    entities: list[EntityDocument]
    by_ref: dict[tuple[str, str, str], EntityDocument]
    services: dict[int, ServiceRecord]
    by_service: dict[tuple[str, str], EntityDocument]
    desired: dict[int, list[_DependsOnItem]]
    notes: list[Note]


def sync_dependencies(
    pd: PagerDuty,
    entities: Iterable[EntityDocument],
    strategy: str,
    *,
    dry_run: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> SyncPlan:
    """Plan the sync of ``strategy`` and, unless ``dry_run``, apply it to both sides.

    Raises :class:`InputError` for an unknown strategy or PagerDuty writes under a read-only
    configuration, and :class:`PagerDutyError` when PagerDuty cannot be read or written.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    if strategy != "pagerduty" and pd.read_only and not dry_run:
        raise InputError(
            f"strategy {strategy!r} writes PagerDuty service dependencies, but the "
            "configuration is read-only (pagerDuty.readOnly: true)",
            hint="use --dry-run to see the plan, --strategy pagerduty to change only the "
            "files, or remove readOnly from the pagerDuty configuration",
        )

    directory = ServiceDirectory(pd)
    context = _collect(directory, list(entities))
    current = _current_edges(directory, context, concurrency)
    plan = _plan(strategy, context, current)
    if not dry_run:
        _apply_pagerduty(pd, plan)
        plan.changed_files = _apply_catalog(plan)
        plan.applied = True
    return plan


def _collect(directory: ServiceDirectory, entities: list[EntityDocument]) -> _Context:
    context = _Context(entities, {}, {}, {}, {}, [])
    for entity in entities:
        context.by_ref.setdefault(entity.ref.key, entity)
        if not pagerduty_annotations(entity).any:
            continue
        resolution = resolve_entity(directory, entity)
        if resolution.service is None:
            context.notes.append(
                Note(str(entity.ref), entity.location(), resolution.problem or "", problem=True)
            )
            continue
        context.services[id(entity)] = resolution.service
        slot = (resolution.service.account, resolution.service.id)
        if slot in context.by_service:
            other = context.by_service[slot]
            context.notes.append(
                Note(
                    str(entity.ref),
                    entity.location(),
                    f"service {resolution.service.id} is also mapped to {other.ref}; "
                    f"dependencies from PagerDuty are written to {other.ref} only",
                )
            )
        else:
            context.by_service[slot] = entity

    for entity in entities:
        context.desired[id(entity)] = _parse_depends_on(entity, context.notes)
    return context


def _parse_depends_on(entity: EntityDocument, notes: list[Note]) -> list[_DependsOnItem]:
    spec = entity.data.get("spec")
    raw = spec.get("dependsOn") if isinstance(spec, dict) else None
    if raw is None:
        return []
    if not isinstance(raw, list):
        where = entity.key_location(spec, "dependsOn")
        notes.append(Note(str(entity.ref), where, "spec.dependsOn is not a list", problem=True))
        return []

    parsed: list[_DependsOnItem] = []
    for index, item in enumerate(raw):
        where = entity.item_location(raw, index)
        if not isinstance(item, str):
            message = f"dependsOn item {_plain(item)!r} is not a string: write it as an entity ref"
            notes.append(Note(str(entity.ref), where, message, str(item), problem=True))
            parsed.append(_DependsOnItem(item, None, where))
            continue
        try:
            ref = parse_entity_ref(
                item, default_kind="component", default_namespace=entity.ref.namespace
            )
        except InputError as error:
            notes.append(Note(str(entity.ref), where, error.message, str(item), problem=True))
            ref = None
        parsed.append(_DependsOnItem(item, ref, where))
    return parsed


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _current_edges(directory: ServiceDirectory, context: _Context, concurrency: int) -> set[Edge]:
    """Read the dependencies of every mapped service: one request per service."""
    services = list(context.by_service)

    def read(slot: tuple[str, str]) -> list[Edge]:
        account, service_id = slot
        response = directory.pd.client(account).get(
            f"/service_dependencies/technical_services/{service_id}"
        )
        edges = []
        for relationship in response.get("relationships") or []:
            dependent = (relationship.get("dependent_service") or {}).get("id")
            supporting = relationship.get("supporting_service") or {}
            if dependent != service_id or "business" in str(supporting.get("type", "")):
                continue
            edges.append((account, service_id, str(supporting.get("id"))))
        return edges

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return {edge for edges in pool.map(read, services) for edge in edges}


def _plan(strategy: str, context: _Context, current: set[Edge]) -> SyncPlan:
    plan = SyncPlan(strategy, notes=context.notes)
    for (account, service_id), entity in context.by_service.items():
        plan.labels[(account, service_id)] = str(entity.ref)

    wanted = _wanted_edges(context, plan.notes)
    mapped = set(context.by_service)
    comparable = {edge for edge in current if (edge[0], edge[2]) in mapped}
    for edge in sorted(current - comparable):
        dependent = context.by_service[(edge[0], edge[1])]
        plan.notes.append(
            Note(
                str(dependent.ref),
                dependent.location(),
                f"PagerDuty has a dependency on service {edge[2]} (account {edge[0]!r}), "
                "which no entity maps to: left as it is",
            )
        )

    if strategy in ("backstage", "both"):
        plan.pagerduty_add = sorted(wanted - comparable)
    if strategy == "backstage":
        plan.pagerduty_remove = sorted(comparable - wanted)
    if strategy in ("pagerduty", "both"):
        plan.catalog = _catalog_changes(context, comparable, wanted, remove=strategy == "pagerduty")
    return plan


def _wanted_edges(context: _Context, notes: list[Note]) -> set[Edge]:
    wanted: set[Edge] = set()
    for entity in context.entities:
        service = context.services.get(id(entity))
        for item in context.desired[id(entity)]:
            if item.ref is None:
                continue
            target = context.by_ref.get(item.ref.key)
            target_service = context.services.get(id(target)) if target is not None else None
            if target is None or target_service is None:
                reason = "no entity found" if target is None else "the entity has no service"
                notes.append(
                    Note(str(entity.ref), item.location, f"{reason}: ref kept", str(item.raw))
                )
                continue
            if service is None:
                continue
            if target_service.account != service.account:
                notes.append(
                    Note(
                        str(entity.ref),
                        item.location,
                        f"service {service.id} (account {service.account!r}) cannot depend "
                        f"on service {target_service.id} (account {target_service.account!r}): "
                        "PagerDuty has no dependencies across accounts, so none is sent",
                        str(item.raw),
                        problem=True,
                    )
                )
                continue
            if target_service.id != service.id:
                wanted.add((service.account, service.id, target_service.id))
    return wanted


def _catalog_changes(
    context: _Context, current: set[Edge], wanted: set[Edge], *, remove: bool
) -> list[EntityChange]:
    changes = []
    for (account, service_id), entity in context.by_service.items():
        change = EntityChange(entity)
        present = {target for acc, dep, target in wanted if (acc, dep) == (account, service_id)}
        for acc, dep, supporting in sorted(current):
            if (acc, dep) != (account, service_id) or supporting in present:
                continue
            change.add.append(_ref_text(context.by_service[(acc, supporting)].ref, entity.ref))
        if remove:
            change.remove = _refs_to_remove(context, entity, current)
        if change.add or change.remove:
            changes.append(change)
    return changes


def _ref_text(target: EntityRef, source: EntityRef) -> str:
    """Return the shortest ref to ``target`` that parses back to it from ``source``'s file."""
    text = target.name
    if target.namespace.lower() != source.namespace.lower():
        text = f"{target.namespace}/{text}"
    if target.kind.lower() != "component":
        text = f"{target.kind.lower()}:{text}"
    return text


def _refs_to_remove(context: _Context, entity: EntityDocument, current: set[Edge]) -> list[str]:
    service = context.services[id(entity)]
    removed = []
    for item in context.desired[id(entity)]:
        target = context.by_ref.get(item.ref.key) if item.ref is not None else None
        target_service = context.services.get(id(target)) if target is not None else None
        if target_service is None or target_service.account != service.account:
            continue
        if (service.account, service.id, target_service.id) not in current:
            removed.append(str(item.raw))
    return removed


# Applying


def _apply_pagerduty(pd: PagerDuty, plan: SyncPlan) -> None:
    for path, edges in (
        ("/service_dependencies/associate", plan.pagerduty_add),
        ("/service_dependencies/disassociate", plan.pagerduty_remove),
    ):
        by_account: dict[str, list[Edge]] = {}
        for edge in edges:
            by_account.setdefault(edge[0], []).append(edge)
        for account, account_edges in by_account.items():
            client = pd.client(account)
            for start in range(0, len(account_edges), BATCH_SIZE):
                batch = account_edges[start : start + BATCH_SIZE]
                logger.info("%s: %d relationship(s) on account %r", path, len(batch), account)
                client.post(
                    path,
                    {"relationships": [_relationship(edge) for edge in batch]},
                    idempotent=path.endswith("/associate"),
                )


def _relationship(edge: Edge) -> dict[str, Any]:
    _, dependent, supporting = edge
    return {
        "supporting_service": {"id": supporting, "type": "service"},
        "dependent_service": {"id": dependent, "type": "service"},
    }


def _apply_catalog(plan: SyncPlan) -> list[str]:
    files: dict[int, CatalogFile] = {}
    for change in plan.catalog:
        entity = change.entity
        if entity.file is None:
            continue
        _edit_depends_on(entity.data, change)
        entity.file.mark_changed(entity.index)
        files[id(entity.file)] = entity.file
    written = []
    for catalog_file in files.values():
        if catalog_file.write():
            written.append(str(catalog_file.path))
    return written


def _edit_depends_on(data: CommentedMap, change: EntityChange) -> None:
    spec = data.get("spec")
    if not isinstance(spec, CommentedMap):
        spec = CommentedMap()
        append_key(data, "spec", spec)
    sequence = spec.get("dependsOn")
    if not isinstance(sequence, CommentedSeq):
        sequence = new_sequence([])
        append_key(spec, "dependsOn", sequence)

    for raw in change.remove:
        for position, item in enumerate(sequence):
            if str(item) == raw:
                del sequence[position]
                break
    for ref in change.add:
        append_item(sequence, ref)
