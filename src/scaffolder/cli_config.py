"""``scaffold config check``: validate app-config files and, with ``--online``, the accounts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from scaffolder.config import load_config
from scaffolder.errors import ConfigError, PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.accounts import Account
from scaffolder.redact import GLOBAL_REDACTOR


@click.group("config")
def config_group() -> None:
    """Check app-config files."""


@config_group.command("check")
@click.option(
    "--config",
    "config_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Backstage app-config YAML file; repeat to merge several, later files win.",
)
@click.option(
    "--online",
    is_flag=True,
    help="Also authenticate to each PagerDuty account and compare OAuth scopes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.pass_context
def check(ctx: click.Context, config_paths: tuple[Path, ...], online: bool, as_json: bool) -> None:
    """Validate the configuration and list the PagerDuty accounts it defines.

    Exits 2 when the configuration is invalid and 1 when --online finds a problem.
    """
    paths = [*_global_config_paths(ctx), *config_paths]
    try:
        config = load_config(paths)
        pagerduty = PagerDuty.from_config(config, redactor=GLOBAL_REDACTOR, env=os.environ)
        accounts = pagerduty.accounts if pagerduty.configured else []
    except ConfigError as error:
        _report_invalid(error, as_json)
        sys.exit(error.exit_code)

    report: dict[str, Any] = {
        "valid": True,
        "files": [str(path) for path in paths],
        "readOnly": pagerduty.read_only,
        "accounts": [_describe(account) for account in accounts],
    }
    try:
        if online:
            report["online"] = [_check_online(pagerduty, account) for account in accounts]
    finally:
        pagerduty.close()

    problems = [item for item in report.get("online", []) if not item["ok"]]
    _print_report(report, as_json)
    sys.exit(1 if problems else 0)


def _global_config_paths(ctx: click.Context) -> list[Path]:
    """The top-level ``scaffold --config`` files, when the group was given any."""
    state = ctx.find_root().obj
    return list(getattr(state, "config_paths", ()) or ())


def _describe(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "isDefault": account.is_default,
        "region": account.region,
        "auth": account.auth_kind,
        "apiBaseUrl": account.api_base_url,
        "eventsBaseUrl": account.events_base_url,
    }


def _check_online(pagerduty: PagerDuty, account: Account) -> dict[str, Any]:
    result: dict[str, Any] = {"account": account.id, "ok": True}
    client = pagerduty.client(account.id)
    try:
        client.get("/abilities")
    except PagerDutyError as error:
        result.update(ok=False, error=GLOBAL_REDACTOR.redact(error.message))
        return result

    if account.oauth is None:
        return result
    granted = client.granted_scopes or frozenset()
    missing = sorted(pagerduty.scopes - granted)
    result.update(grantedScopes=sorted(granted), missingScopes=missing)
    if missing:
        result.update(
            ok=False,
            error=f"the OAuth app of account {account.id!r} lacks scope(s) "
            f"{', '.join(missing)} that the PagerDuty actions need",
        )
    return result


def _report_invalid(error: ConfigError, as_json: bool) -> None:
    message = GLOBAL_REDACTOR.redact(error.format_message())
    if as_json:
        click.echo(json.dumps({"valid": False, "error": message}, indent=2))
        return
    click.echo(f"error: {message}", err=True)
    if error.hint:
        click.echo(f"hint: {GLOBAL_REDACTOR.redact(error.hint)}", err=True)


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(GLOBAL_REDACTOR.redact(json.dumps(report, indent=2)))
        return

    click.echo(f"configuration is valid ({len(report['files'])} file(s))")
    if not report["accounts"]:
        click.echo("no PagerDuty account configured")
    for account in report["accounts"]:
        default = ", default" if account["isDefault"] else ""
        click.echo(
            f"PagerDuty account {account['id']!r}{default}: region {account['region']}, "
            f"auth {account['auth']}, API {account['apiBaseUrl']}"
        )
    if report["readOnly"]:
        click.echo("PagerDuty is read-only: no write request will be sent")

    for item in report.get("online", []):
        if item["ok"]:
            click.echo(f"online check of account {item['account']!r}: ok")
        else:
            click.echo(
                GLOBAL_REDACTOR.redact(
                    f"online check of account {item['account']!r} failed: {item['error']}"
                ),
                err=True,
            )
