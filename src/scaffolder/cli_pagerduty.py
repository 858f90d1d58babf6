"""The ``scaffold pagerduty`` commands.

``simulate`` runs a local PagerDuty simulator; ``service``, ``oncall``, ``incidents`` and
``changes`` read the state of an entity's PagerDuty service; ``trigger`` opens an incident.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from scaffolder.cli import CliState, echo_json, handle_errors
from scaffolder.errors import InputError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty import events as pd_events
from scaffolder.pagerduty import reads as pd_reads
from scaffolder.pagerduty.lookup import (
    FoundService,
    ServiceTarget,
    find_service,
    mask_key,
    target_for,
)
from scaffolder.pagerduty.simulator import Simulator


class SimulatorFailed(click.ClickException):
    """The simulator could not start because of its input (seed file or port): exit code 2."""

    exit_code = InputError.exit_code


@click.group("pagerduty")
def pagerduty_group() -> None:
    """Work with PagerDuty: read a service's state, trigger incidents, run a simulator."""


@pagerduty_group.command("simulate")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="TCP port on 127.0.0.1 to listen on; 0 picks a free port.",
)
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file with the account's users, escalation policies, services and more. "
    "Default: a demo world with one escalation policy and three on-call users.",
)
def simulate(port: int, seed_file: Path | None) -> None:
    """Run a simulated PagerDuty account on 127.0.0.1 until Ctrl-C.

    It serves the REST API, the Events API v2 and the OAuth token endpoint from in-memory
    data. Nothing reaches the real PagerDuty.
    """
    try:
        simulator = Simulator(seed_file, port=port).start()
    except InputError as error:
        raise SimulatorFailed(error.message) from error
    try:
        click.echo(describe(simulator))
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("stopping the PagerDuty simulator")
    finally:
        simulator.stop()


def describe(simulator: Simulator) -> str:
    """Return the simulator's URLs, fake credentials and app-config snippets as text."""
    snippet = yaml.safe_dump({"pagerDuty": simulator.app_config()}, sort_keys=False)
    oauth = yaml.safe_dump({"pagerDuty": simulator.app_config(oauth=True)}, sort_keys=False)
    lines = [
        "PagerDuty simulator (not the real PagerDuty; credentials below are fake)",
        f"  REST API:      {simulator.url}",
        f"  Events API:    {simulator.events_url}/v2/enqueue",
        f"  OAuth token:   {simulator.token_url}",
        f"  API token:     {simulator.api_token}",
        f"  client id:     {simulator.client_id}",
        f"  client secret: {simulator.client_secret}",
        f"  account:       {simulator.subdomain} ({simulator.region})",
        f"  demo escalation policy: {simulator.demo_escalation_policy_id}",
        "",
        "app-config.yaml with the API token:",
        "",
        snippet,
        "or with scoped OAuth (send token requests to the OAuth token URL above):",
        "",
        oauth,
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


# Reading a service's state and triggering incidents

F = TypeVar("F", bound=Callable[..., Any])
MAX_CELL = 60


def service_options(function: F) -> F:
    """Add PATH, --entity, --service-id, --integration-key, --account and --json."""
    options = [
        click.argument("path", required=False, type=click.Path(path_type=Path)),
        click.option(
            "--entity",
            help="Name or ref of the entity in PATH, when PATH contains several entities.",
        ),
        click.option("--service-id", help="ID of the PagerDuty service, instead of an entity."),
        click.option(
            "--integration-key",
            help="Integration key of one of the service's integrations, instead of an entity.",
        ),
        click.option(
            "--account",
            help="Id of the configured PagerDuty account. Default: the entity's "
            "pagerduty.com/account annotation, else the default account.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the data as JSON."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _target(
    path: Path | None,
    entity: str | None,
    service_id: str | None,
    integration_key: str | None,
    account: str | None,
) -> ServiceTarget:
    return target_for(
        path=path,
        entity=entity,
        service_id=service_id,
        integration_key=integration_key,
        account=account,
    )


def _open_pagerduty() -> PagerDuty:
    state = click.get_current_context().find_object(CliState)
    config = state.load_config() if state else {}
    return PagerDuty.from_config(config)


@contextlib.contextmanager
def _found_service(
    path: Path | None,
    entity: str | None,
    service_id: str | None,
    integration_key: str | None,
    account: str | None,
) -> Iterator[tuple[PagerDuty, FoundService]]:
    """Open the configured accounts and find the service the options name."""
    target = _target(path, entity, service_id, integration_key, account)
    pd = _open_pagerduty()
    try:
        yield pd, find_service(pd, target)
    finally:
        pd.close()


def _describe(found: FoundService) -> str:
    name = found.service.get("name") or found.id
    return f"PagerDuty service {name} ({found.id}) on account {found.account.id!r}"


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """Return ``rows`` under ``headers`` in left-aligned columns of fixed width.

    A cell longer than 60 characters is cut and ends with an ellipsis.
    """
    cells = [[_cut(str(cell)) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines[0] = click.style(lines[0], bold=True)
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


@pagerduty_group.command("service")
@service_options
@handle_errors
def service_command(
    path: Path | None,
    entity: str | None,
    service_id: str | None,
    integration_key: str | None,
    account: str | None,
    as_json: bool,
) -> None:
    """Show the PagerDuty service of an entity (PATH: a catalog-info.yaml or a folder)."""
    with _found_service(path, entity, service_id, integration_key, account) as (_, found):
        summary = found.summary()
    if as_json:
        echo_json(summary)
        return
    key = summary["integration_key"]
    rows = [
        ["id", summary["id"]],
        ["name", summary["name"]],
        ["status", summary["status"]],
        ["account", summary["account"]],
        ["escalation policy", f"{summary['escalation_policy']['name']} "
                              f"({summary['escalation_policy']['id']})"],
        ["integration key", mask_key(key) if key else "(none)"],
        ["url", summary["html_url"]],
    ]
    click.echo(render_table(["FIELD", "VALUE"], rows))


@pagerduty_group.command("oncall")
@service_options
@handle_errors
def oncall_command(
    path: Path | None,
    entity: str | None,
    service_id: str | None,
    integration_key: str | None,
    account: str | None,
    as_json: bool,
) -> None:
    """List who is on call now for a service, at the first escalation level."""
    with _found_service(path, entity, service_id, integration_key, account) as (pd, found):
        policy = found.escalation_policy_id
        client = pd.client(found.account.id)
        oncalls = pd_reads.lowest_level_oncalls(client, [policy] if policy else [])
    users = [pd_reads.oncall_summary(oncall) for oncall in oncalls]
    if as_json:
        echo_json(users)
        return
    click.echo(_describe(found))
    if not users:
        click.echo("nobody is on call")
        return
    rows = [[u["name"], u["email"], str(u["escalation_level"]), u["html_url"]] for u in users]
    click.echo(render_table(["NAME", "EMAIL", "LEVEL", "URL"], rows))


@pagerduty_group.command("incidents")
@service_options
@handle_errors
def incidents_command(
    path: Path | None,
    entity: str | None,
    service_id: str | None,
    integration_key: str | None,
    account: str | None,
    as_json: bool,
) -> None:
    """List the triggered and acknowledged incidents of a service, newest first."""
    with _found_service(path, entity, service_id, integration_key, account) as (pd, found):
        incidents = pd_reads.list_open_incidents(pd.client(found.account.id), found.id)
    summaries = [pd_reads.incident_summary(incident) for incident in incidents]
    if as_json:
        echo_json(summaries)
        return
    click.echo(_describe(found))
    if not summaries:
        click.echo("no open incidents")
        return
    rows = [
        [
            f"#{item['incident_number']}",
            item["status"],
            item["urgency"],
            item["created_at"],
            ", ".join(assignee["name"] for assignee in item["assignees"]),
            item["title"],
        ]
        for item in summaries
    ]
    click.echo(render_table(["NUMBER", "STATUS", "URGENCY", "CREATED", "ASSIGNED", "TITLE"], rows))


@pagerduty_group.command("changes")
@service_options
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=pd_reads.DEFAULT_CHANGE_EVENTS,
    show_default=True,
    help="Maximum number of change events to show.",
)
@handle_errors
def changes_command(
    path: Path | None,
    entity: str | None,
    service_id: str | None,
    integration_key: str | None,
    account: str | None,
    as_json: bool,
    limit: int,
) -> None:
    """List the recent change events of a service, newest first."""
    with _found_service(path, entity, service_id, integration_key, account) as (pd, found):
        events = pd_reads.list_change_events(pd.client(found.account.id), found.id, limit)
    summaries = [pd_reads.change_event_summary(event) for event in events]
    if as_json:
        echo_json(summaries)
        return
    click.echo(_describe(found))
    if not summaries:
        click.echo("no change events")
        return
    rows = [
        [
            item["timestamp"],
            item["source"],
            item["summary"],
            " ".join(link["href"] for link in item["links"]),
        ]
        for item in summaries
    ]
    click.echo(render_table(["TIMESTAMP", "SOURCE", "SUMMARY", "LINKS"], rows))


@pagerduty_group.command("trigger")
@service_options
@click.option("--summary", required=True, help="Title of the incident (at most 1024 characters).")
@click.option(
    "--severity",
    type=click.Choice(pd_events.SEVERITIES),
    default=pd_events.DEFAULT_SEVERITY,
    show_default=True,
    help="Severity of the event; warning and info open low-urgency incidents.",
)
@click.option(
    "--source", help="Where the problem is. Default: the entity ref, else \"scaffold\"."
)
@click.option(
    "--dedup-key",
    help="Deduplication key; a trigger with the key of an open incident adds to it. "
    "Default: a new UUID, so that retries never open a second incident.",
)
@click.option("--details", help="Custom details of the alert, as a JSON object.")
@handle_errors
def trigger_command(
    path: Path | None,
    entity: str | None,
    service_id: str | None,
    integration_key: str | None,
    account: str | None,
    as_json: bool,
    summary: str,
    severity: str,
    source: str | None,
    dedup_key: str | None,
    details: str | None,
) -> None:
    """Trigger an incident on a service through the Events API v2.

    The event is sent with the integration key given, the entity's
    pagerduty.com/integration-key annotation, or the key of the service's Backstage
    integration, to the Events API of the service's account.
    """
    trigger = pd_events.Trigger(
        summary=summary,
        severity=severity,
        source=source,
        dedup_key=dedup_key,
        custom_details=pd_events.parse_details(details),
    )
    trigger.check()
    target = _target(path, entity, service_id, integration_key, account)
    pd = _open_pagerduty()
    try:
        answer = pd_events.trigger_incident(pd, target, trigger)
    finally:
        pd.close()
    if as_json:
        echo_json(answer)
        return
    where = f" of service {answer['service_id']}" if answer["service_id"] else ""
    click.echo(
        f"incident triggered on account {answer['account']!r}{where}: "
        f"dedup key {answer['dedup_key']}"
    )
