"""Annotating catalog entities with their PagerDuty service, and the service-entity mappings.

:func:`annotate` fills in the ``pagerduty.com/*`` annotations that a Component lacks: the
service id of an integration key, the Backstage integration key of a service id, and the
account when the service is not in the default account. PagerDuty requests per run: one
listing of each account that an entity needs (see :mod:`scaffolder.catalog_services`), plus
one ``POST /services/{id}/integrations`` per missing Backstage integration when creating is
allowed. :func:`mappings` pairs every service of every account with the entities mapped to it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from scaffolder.catalog import (
    ANNOTATION_ACCOUNT,
    ANNOTATION_INTEGRATION_KEY,
    ANNOTATION_SERVICE_ID,
    EntityDocument,
    pagerduty_annotations,
)
from scaffolder.catalog_files import CatalogFile, append_key, new_mapping, quoted
from scaffolder.catalog_services import (
    BACKSTAGE_VENDOR_ID,
    Resolution,
    ServiceDirectory,
    ServiceRecord,
    mask,
    resolve_entity,
)
from scaffolder.errors import InputError, PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.services import BACKSTAGE_INTEGRATION_NAME, ensure_integration

logger = logging.getLogger("scaffolder.mapping")

DEFAULT_CONCURRENCY = 8

# Statuses of an entity in the annotate summary.
UPDATED = "updated"
WOULD_UPDATE = "would update"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
PROBLEM = "problem"

# Statuses of a row of the mappings report.
IN_SYNC = "in sync"
OUT_OF_SYNC = "out of sync"
NOT_MAPPED = "not mapped"
NOT_FOUND = "not found"


@dataclass
class EntityOutcome:
    """What annotate did, or would do, to one entity."""

    entity: str
    file: str
    status: str
    account: str | None = None
    service_id: str | None = None
    added: dict[str, str] = field(default_factory=dict)
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "file": self.file,
            "status": self.status,
            "account": self.account,
            "serviceId": self.service_id,
            "added": {key: mask_value(key, value) for key, value in self.added.items()},
            "detail": self.detail,
        }


@dataclass
class AnnotateReport:
    """The outcome of every entity, and the files that changed (or would change)."""

    outcomes: list[EntityOutcome]
    changed_files: list[CatalogFile]
    check: bool

    @property
    def problems(self) -> list[EntityOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == PROBLEM]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts


def mask_value(annotation: str, value: str) -> str:
    return mask(value) if annotation == ANNOTATION_INTEGRATION_KEY else value


# Annotate


def annotate(
    pd: PagerDuty,
    entities: Iterable[EntityDocument],
    *,
    create_integration: bool = False,
    check: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AnnotateReport:
    """Fill in the missing PagerDuty annotations of every Component in ``entities``.

    With ``check`` nothing is written, neither files nor PagerDuty. Raises
    :class:`InputError` when ``create_integration`` is asked of a read-only configuration, and
    :class:`PagerDutyError` when an account cannot be listed.
    """
    if create_integration and pd.read_only and not check:
        raise InputError(
            "--create-integration would create PagerDuty integrations, but the configuration "
            "is read-only (pagerDuty.readOnly: true)",
            hint="remove readOnly from the pagerDuty configuration, or run without "
            "--create-integration to only report services without a Backstage integration",
        )

    directory = ServiceDirectory(pd)
    entities = list(entities)
    candidates = [entity for entity in entities if _wants_annotations(entity)]
    outcomes = {id(entity): _skipped(entity) for entity in entities}

    def plan(entity: EntityDocument) -> EntityOutcome:
        return _plan_entity(directory, entity, create_integration=create_integration, check=check)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for entity, outcome in zip(candidates, pool.map(plan, candidates), strict=True):
            outcomes[id(entity)] = outcome

    changed = _apply(entities, outcomes, check=check)
    return AnnotateReport([outcomes[id(entity)] for entity in entities], changed, check)


def _wants_annotations(entity: EntityDocument) -> bool:
    return entity.ref.kind.lower() == "component" and pagerduty_annotations(entity).any


def _skipped(entity: EntityDocument) -> EntityOutcome:
    reason = (
        "not a Component"
        if entity.ref.kind.lower() != "component"
        else "no pagerduty.com annotations"
    )
    return EntityOutcome(str(entity.ref), entity.location(), SKIPPED, detail=reason)


def _plan_entity(
    directory: ServiceDirectory, entity: EntityDocument, *, create_integration: bool, check: bool
) -> EntityOutcome:
    outcome = EntityOutcome(str(entity.ref), entity.location(), UNCHANGED)
    resolution = resolve_entity(directory, entity)
    if resolution.problem or resolution.service is None:
        outcome.status = PROBLEM
        outcome.detail = resolution.problem or "no PagerDuty service found"
        return outcome

    service = resolution.service
    outcome.account = service.account
    outcome.service_id = service.id
    if resolution.disagreements:
        outcome.status = PROBLEM
        outcome.detail = "; ".join(resolution.disagreements)
        return outcome

    try:
        _fill_missing(directory, entity, resolution, outcome, create_integration, check)
    except PagerDutyError as error:
        outcome.status = PROBLEM
        outcome.detail = error.message
    return outcome


def _fill_missing(
    directory: ServiceDirectory,
    entity: EntityDocument,
    resolution: Resolution,
    outcome: EntityOutcome,
    create_integration: bool,
    check: bool,
) -> None:
    service = resolution.service
    annotations = resolution.annotations
    assert service is not None

    if not annotations.service_id:
        outcome.added[ANNOTATION_SERVICE_ID] = service.id
    if not annotations.account and service.account != directory.pd.default_account.id:
        outcome.added[ANNOTATION_ACCOUNT] = service.account

    if not annotations.integration_key:
        key = service.backstage_key
        if key is None and service.backstage_integration is not None:
            key = _integration_key(directory, service)
        if key is None:
            if not create_integration:
                outcome.status = PROBLEM
                outcome.detail = (
                    f"service {service.label()} has no Backstage integration "
                    f"(vendor {BACKSTAGE_VENDOR_ID}): run with --create-integration to add one"
                )
                return
            if check:
                outcome.status = WOULD_UPDATE
                outcome.detail = f"would create a Backstage integration on service {service.id}"
                return
            key = _create_integration(directory, service)
            outcome.detail = f"created a Backstage integration on service {service.id}"
        outcome.added[ANNOTATION_INTEGRATION_KEY] = key

    if outcome.added:
        outcome.status = WOULD_UPDATE if check else UPDATED


def _create_integration(directory: ServiceDirectory, service: ServiceRecord) -> str:
    client = directory.pd.client(service.account)
    integration = ensure_integration(
        client,
        service.id,
        BACKSTAGE_VENDOR_ID,
        BACKSTAGE_INTEGRATION_NAME,
        known=[],
        dry_run=False,
        log=logger,
    )
    key = str(integration["integration_key"])
    service.backstage_integration = {"id": integration["id"], "integration_key": key}
    directory.index(service.account).add_integration(service, service.backstage_integration)
    return key


def _integration_key(directory: ServiceDirectory, service: ServiceRecord) -> str:
    """Read the key of the Backstage integration when the listing left it out."""
    assert service.backstage_integration is not None
    integration_id = str(service.backstage_integration.get("id"))
    client = directory.pd.client(service.account)
    response = client.get(f"/services/{service.id}/integrations/{integration_id}")
    key = str((response.get("integration") or {}).get("integration_key") or "")
    if not key:
        raise PagerDutyError(
            f"the Backstage integration {integration_id} of service {service.label()} "
            "has no integration key",
            account=service.account,
        )
    return key


def _apply(
    entities: list[EntityDocument], outcomes: dict[int, EntityOutcome], *, check: bool
) -> list[CatalogFile]:
    changed: dict[int, CatalogFile] = {}
    for entity in entities:
        outcome = outcomes[id(entity)]
        if not outcome.added or entity.file is None:
            continue
        annotations = _annotations_map(entity.data)
        for key in (ANNOTATION_SERVICE_ID, ANNOTATION_INTEGRATION_KEY, ANNOTATION_ACCOUNT):
            if key in outcome.added:
                append_key(annotations, key, quoted(outcome.added[key]))
        entity.file.mark_changed(entity.index)
        changed[id(entity.file)] = entity.file

    files = [catalog_file for catalog_file in changed.values() if catalog_file.changed]
    if not check:
        for catalog_file in files:
            catalog_file.write()
            logger.info("updated %s", catalog_file.path)
    return files


def _annotations_map(data: CommentedMap) -> CommentedMap:
    metadata = data["metadata"]
    annotations = metadata.get("annotations")
    if isinstance(annotations, CommentedMap):
        return annotations
    created = new_mapping()
    if "annotations" in metadata:
        metadata["annotations"] = created
    else:
        append_key(metadata, "annotations", created)
    return created


# Mappings


@dataclass
class MappingRow:
    """One service and the entity mapped to it, or an entity whose service was not found."""

    status: str
    account: str | None = None
    service_id: str | None = None
    service_name: str | None = None
    entity: str | None = None
    file: str | None = None
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "account": self.account,
            "serviceId": self.service_id,
            "serviceName": self.service_name,
            "entity": self.entity,
            "file": self.file,
            "details": self.details,
        }


def mappings(
    pd: PagerDuty, entities: Iterable[EntityDocument], *, concurrency: int = DEFAULT_CONCURRENCY
) -> list[MappingRow]:
    """Return every service of every account beside the entities mapped to it.

    Services come in account order, then by name; entities whose annotations point at no
    service come last with status ``not found``.
    """
    directory = ServiceDirectory(pd)
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(pd.accounts)))) as pool:
        indexes = list(pool.map(lambda account: directory.index(account.id), pd.accounts))

    mapped: dict[tuple[str, str], list[MappingRow]] = {}
    unresolved: list[MappingRow] = []
    for entity in entities:
        if not pagerduty_annotations(entity).any:
            continue
        row = _entity_row(directory, entity)
        if row.service_id is None or row.account is None:
            unresolved.append(row)
        else:
            mapped.setdefault((row.account, row.service_id), []).append(row)

    rows: list[MappingRow] = []
    for index in indexes:
        for service in sorted(index.services.values(), key=lambda item: item.name.casefold()):
            entity_rows = mapped.get((service.account, service.id))
            if entity_rows:
                rows.extend(entity_rows)
            else:
                rows.append(MappingRow(NOT_MAPPED, service.account, service.id, service.name))
    return rows + unresolved


def _entity_row(directory: ServiceDirectory, entity: EntityDocument) -> MappingRow:
    resolution = resolve_entity(directory, entity)
    row = MappingRow(NOT_FOUND, entity=str(entity.ref), file=entity.location())
    if resolution.service is None:
        row.details.append(resolution.problem or "no PagerDuty service found")
        return row

    service = resolution.service
    row.account = service.account
    row.service_id = service.id
    row.service_name = service.name
    row.details = list(resolution.disagreements)
    if resolution.account_missing:
        row.details.insert(
            0,
            f"pagerduty.com/account is missing, so Backstage looks in the default account "
            f"{directory.pd.default_account.id!r}, but service {service.id} is in account "
            f"{service.account!r}",
        )
    row.status = OUT_OF_SYNC if row.details else IN_SYNC
    if row.status == IN_SYNC and not resolution.annotations.service_id:
        row.details.append("no pagerduty.com/service-id annotation: 'annotate' adds it")
    if row.status == IN_SYNC and not resolution.annotations.integration_key:
        row.details.append("no pagerduty.com/integration-key annotation: 'annotate' adds it")
    return row


def files_of(entities: Iterable[EntityDocument]) -> list[Path]:
    return sorted({entity.path for entity in entities})
