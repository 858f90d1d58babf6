"""The ``scaffold pagerduty`` commands: ``simulate`` runs a local PagerDuty simulator."""

from __future__ import annotations

import threading
from pathlib import Path

import click
import yaml

from scaffolder.errors import InputError
from scaffolder.pagerduty.simulator import Simulator


class SimulatorFailed(click.ClickException):
    """The simulator could not start because of its input (seed file or port): exit code 2."""

    exit_code = InputError.exit_code


@click.group("pagerduty")
def pagerduty_group() -> None:
    """Work with PagerDuty: run a local simulator."""


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
