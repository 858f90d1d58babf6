"""The ``scaffold catalog`` commands: annotate, mappings and sync-dependencies."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from scaffolder.catalog import InvalidFile, scan_entities
from scaffolder.cli import CliState, echo_json, handle_errors
from scaffolder.dependencies import STRATEGIES, Note, SyncPlan, sync_dependencies
from scaffolder.errors import InputError
from scaffolder.mapping import (
    DEFAULT_CONCURRENCY,
    NOT_FOUND,
    OUT_OF_SYNC,
    WOULD_UPDATE,
    AnnotateReport,
    EntityOutcome,
    MappingRow,
    annotate,
    mappings,
)
from scaffolder.pagerduty import PagerDuty

PATHS = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)


@click.group("catalog")
def catalog_group() -> None:
    """Connect catalog-info.yaml entities with PagerDuty services."""


@contextmanager
def _pagerduty(state: CliState) -> Iterator[PagerDuty]:
    pd = PagerDuty.from_config(state.load_config())
    try:
        pd.accounts  # noqa: B018 - raises ConfigError when no account is configured
        yield pd
    finally:
        pd.close()


@catalog_group.command("annotate")
@PATHS
@click.option(
    "--create-integration",
    is_flag=True,
    help="Create the Backstage integration (vendor PRO19CT) of a service that lacks one.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; print a diff and exit 1 when a file would change (for CI).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Entities resolved at the same time.",
)
@click.pass_obj
@handle_errors
def annotate_command(
    state: CliState,
    paths: tuple[Path, ...],
    create_integration: bool,
    check: bool,
    as_json: bool,
    concurrency: int,
) -> None:
    """Fill in the missing pagerduty.com annotations of the Components in PATHS.

    An integration key gets its service id, a service id gets the key of its Backstage
    integration, and a service outside the default account gets pagerduty.com/account.
    Exits 1 when an entity has a problem, when a YAML file found in a folder is not valid
    YAML, or with --check when a file would change.
    """
    scan = scan_entities(paths)
    with _pagerduty(state) as pd:
        report = annotate(
            pd,
            scan.entities,
            create_integration=create_integration,
            check=check,
            concurrency=concurrency,
        )

    diffs = [
        catalog_file.diff(_relative(catalog_file.path)) for catalog_file in report.changed_files
    ]
    if as_json:
        echo_json(_annotate_json(report, diffs, scan.invalid_files))
    else:
        _print_annotate(report, diffs, scan.invalid_files)
    if report.problems or scan.invalid_files:
        raise SystemExit(1)
    if check and (report.changed_files or _would_update(report)):
        raise SystemExit(1)


def _would_update(report: AnnotateReport) -> bool:
    return any(outcome.status == WOULD_UPDATE for outcome in report.outcomes)


def _annotate_json(
    report: AnnotateReport, diffs: list[str], invalid_files: list[InvalidFile]
) -> dict[str, object]:
    return {
        "check": report.check,
        "summary": report.counts(),
        "entities": [outcome.to_dict() for outcome in report.outcomes],
        "files": [_relative(catalog_file.path) for catalog_file in report.changed_files],
        "invalidFiles": [invalid.to_dict() for invalid in invalid_files],
        "diff": "".join(diffs) if report.check else None,
    }


def _print_annotate(
    report: AnnotateReport, diffs: list[str], invalid_files: list[InvalidFile]
) -> None:
    if report.check and diffs:
        click.echo("".join(diffs), nl=False)
    rows = [
        (outcome.entity, outcome.status, outcome.account or "", outcome.detail or _added(outcome))
        for outcome in report.outcomes
        if outcome.status != "skipped"
    ]
    if rows:
        click.echo(_table(("ENTITY", "STATUS", "ACCOUNT", "DETAIL"), rows))
    summary = ", ".join(f"{count} {status}" for status, count in sorted(report.counts().items()))
    verb = "would change" if report.check else "changed"
    click.echo(
        f"{summary or 'no entities'}; {len(report.changed_files)} file(s) {verb}"
        + _invalid_summary(invalid_files)
    )
    for outcome in report.problems:
        click.echo(f"problem: {outcome.entity} ({outcome.file}): {outcome.detail}", err=True)
    _print_invalid(invalid_files)


def _invalid_summary(invalid_files: list[InvalidFile]) -> str:
    return f"; {len(invalid_files)} invalid YAML file(s)" if invalid_files else ""


def _print_invalid(invalid_files: list[InvalidFile]) -> None:
    for invalid in invalid_files:
        click.echo(f"problem: {invalid.location()}: {invalid.message()}", err=True)


def _added(outcome: EntityOutcome) -> str:
    return ", ".join(f"+{key}" for key in outcome.added)


@catalog_group.command("mappings")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
@handle_errors
def mappings_command(state: CliState, path: Path, as_json: bool) -> None:
    """List every PagerDuty service of every account beside the entity mapped to it.

    Status is 'in sync', 'out of sync' (with what disagrees), 'not mapped' (no entity), or
    'not found' for an entity whose annotations point at no service.

    Exits 1 when a row is 'out of sync' or 'not found', so CI can fail on drift, and 0 when
    every row is 'in sync' or 'not mapped'. A YAML file found in PATH that is not valid YAML
    is listed as a problem and does not change the exit code.
    """
    scan = scan_entities([path])
    with _pagerduty(state) as pd:
        rows = mappings(pd, scan.entities)
    if as_json:
        echo_json(
            {
                "mappings": [row.to_dict() for row in rows],
                "summary": _row_counts(rows),
                "invalidFiles": [invalid.to_dict() for invalid in scan.invalid_files],
            }
        )
    else:
        header = ("ACCOUNT", "SERVICE", "NAME", "ENTITY", "STATUS", "DETAIL")
        click.echo(_table(header, _rows(rows)))
        counts = ", ".join(f"{count} {status}" for status, count in _row_counts(rows).items())
        click.echo(counts + _invalid_summary(scan.invalid_files))
        _print_invalid(scan.invalid_files)
    if any(row.status in (OUT_OF_SYNC, NOT_FOUND) for row in rows):
        raise SystemExit(1)


def _rows(rows: list[MappingRow]) -> list[tuple[str, ...]]:
    return [
        (
            row.account or "",
            row.service_id or "",
            row.service_name or "",
            row.entity or "",
            row.status,
            "; ".join(row.details),
        )
        for row in rows
    ]


def _row_counts(rows: list[MappingRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


@catalog_group.command("sync-dependencies")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    required=True,
    help="backstage: PagerDuty follows the files; pagerduty: the files follow PagerDuty; "
    "both: add what either side lacks, remove nothing.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_obj
@handle_errors
def sync_dependencies_command(
    state: CliState, path: Path, strategy: str, dry_run: bool, as_json: bool
) -> None:
    """Sync spec.dependsOn of the entities under PATH with PagerDuty's service dependencies.

    Exits 1 when a ref is malformed, an entity's annotations point at no service, two
    services in different accounts would depend on each other, or a YAML file found in PATH
    is not valid YAML.
    """
    scan = scan_entities([path])
    if not scan.entities:
        raise InputError(
            f"no catalog entity found in {str(path)!r}",
            hint=_invalid_hint(scan.invalid_files),
        )
    with _pagerduty(state) as pd:
        plan = sync_dependencies(pd, scan.entities, strategy, dry_run=dry_run)
    plan.notes[:0] = [
        Note(None, invalid.location(), invalid.message(), problem=True)
        for invalid in scan.invalid_files
    ]
    if as_json:
        echo_json(plan.to_dict())
    else:
        _print_plan(plan)
    if plan.problems:
        raise SystemExit(1)


def _print_plan(plan: SyncPlan) -> None:
    verb = "" if plan.applied else "would "
    for edge in plan.pagerduty_add:
        click.echo(f"pagerduty: {verb}add {_edge_text(plan, edge)}")
    for edge in plan.pagerduty_remove:
        click.echo(f"pagerduty: {verb}remove {_edge_text(plan, edge)}")
    for change in plan.catalog:
        for ref in change.add:
            click.echo(f"catalog: {verb}add {ref!r} to {change.entity.ref} ({change.entity.path})")
        for ref in change.remove:
            click.echo(
                f"catalog: {verb}remove {ref!r} from {change.entity.ref} ({change.entity.path})"
            )
    for note in plan.notes:
        label = "problem" if note.problem else "note"
        if note.entity is None:
            click.echo(f"{label}: {note.file}: {note.message}", err=note.problem)
            continue
        ref = f" {note.ref!r}" if note.ref is not None else ""
        click.echo(f"{label}: {note.entity}{ref} ({note.file}): {note.message}", err=note.problem)
    pd_changes = len(plan.pagerduty_add) + len(plan.pagerduty_remove)
    file_changes = sum(len(change.add) + len(change.remove) for change in plan.catalog)
    click.echo(
        f"{pd_changes} PagerDuty change(s) and {file_changes} catalog change(s) "
        f"{'applied' if plan.applied else 'planned (dry run)'}"
    )


def _edge_text(plan: SyncPlan, edge: tuple[str, str, str]) -> str:
    account, dependent, supporting = edge
    dependent_label = plan.labels.get((account, dependent), dependent)
    supporting_label = plan.labels.get((account, supporting), supporting)
    return (
        f"{dependent_label} ({dependent}) depends on {supporting_label} ({supporting}) "
        f"in account {account!r}"
    )


def _invalid_hint(invalid_files: list[InvalidFile]) -> str | None:
    if not invalid_files:
        return None
    first = invalid_files[0]
    return (
        f"{len(invalid_files)} YAML file(s) in it are not valid YAML, e.g. "
        f"{first.location()}: {first.problem}; fix them and run the command again"
    )


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
