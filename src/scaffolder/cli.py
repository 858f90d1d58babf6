"""The ``scaffold`` command line.

Exit codes: 0 success; 1 the task failed; 2 bad usage or input (nothing ran, nothing was
written); 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from scaffolder import __version__
from scaffolder.errors import ScaffolderError
from scaffolder.redact import GLOBAL_REDACTOR, RedactingFilter

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """\b
Exit codes:
  0    success
  1    the task failed (a step failed, PagerDuty or git refused)
  2    bad usage or input: nothing ran and nothing was written
  130  cancelled with Ctrl-C
"""


class CliState:
    """Options of the top-level group, shared with every command."""

    def __init__(self, config_paths: tuple[Path, ...], verbose: bool) -> None:
        self.config_paths = config_paths
        self.verbose = verbose
        self.color = False if os.environ.get("NO_COLOR") else None

    def load_config(self) -> dict[str, Any]:
        if not self.config_paths:
            return {}
        from scaffolder.config import load_config

        return load_config(list(self.config_paths))


def echo_json(data: Any) -> None:
    click.echo(GLOBAL_REDACTOR.redact(json.dumps(data, indent=2, default=str)))


def fail(error: ScaffolderError, *, verbose: bool, as_json: bool = False) -> None:
    """Print ``error: <message>`` (and the hint) to stderr and exit with the error's code.

    With ``as_json`` the error also goes to stdout as ``{"status": "error", "error": ...}``, so
    a pipeline that parses the output always finds JSON.
    """
    if as_json:
        echo_json({"status": "error", "error": {"name": type(error).__name__,
                                                 "message": error.message, "hint": error.hint}})
    if verbose:
        click.echo(GLOBAL_REDACTOR.redact(traceback.format_exc()), err=True)
    click.echo(GLOBAL_REDACTOR.redact(f"error: {error.format_message()}"), err=True)
    if error.hint:
        click.echo(GLOBAL_REDACTOR.redact(f"hint: {error.hint}"), err=True)
    sys.exit(error.exit_code)


def handle_errors(function: F) -> F:
    """Turn a :class:`ScaffolderError` raised by a command into one line and an exit code."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ScaffolderError as error:
            state = click.get_current_context().find_object(CliState)
            fail(error, verbose=bool(state and state.verbose),
                 as_json=bool(kwargs.get("as_json")))

    return wrapper  # type: ignore[return-value]


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("scaffolder")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs.

    ``scaffold --version`` then starts without loading Jinja2, jsonschema, httpx or FastAPI.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands from :data:`COMMAND_SUMMARIES`, so ``--help`` imports none."""
        rows = [(name, COMMAND_SUMMARIES.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            return command
        return super().get_command(ctx, cmd_name)


LAZY_COMMANDS = {
    "new": "scaffolder.cli_new:new",
    "templates": "scaffolder.cli_templates:templates_group",
    "actions": "scaffolder.cli_actions:actions_group",
    "config": "scaffolder.cli_config:config_group",
    "pagerduty": "scaffolder.cli_pagerduty:pagerduty_group",
    "serve": "scaffolder.cli_serve:serve",
    "catalog": "scaffolder.cli_catalog:catalog_group",
}

COMMAND_SUMMARIES = {
    "actions": "List and describe the actions templates can use.",
    "catalog": "Connect catalog-info.yaml entities with PagerDuty services.",
    "config": "Check app-config files.",
    "new": "Create a component from a template.",
    "pagerduty": "Read a service's on-call, incidents and changes; trigger; simulate.",
    "serve": "Serve Backstage's scaffolder REST API over HTTP.",
    "templates": "List, show and validate templates.",
}


@click.group(
    cls=LazyGroup,
    lazy_commands=LAZY_COMMANDS,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="scaffold")
@click.option(
    "--config", "config_paths", multiple=True, type=click.Path(path_type=Path),
    help="Backstage app-config YAML file; repeat to merge several, later files win.",
)
@click.option("--verbose", "-v", is_flag=True, help="Show debug logs and tracebacks.")
@click.pass_context
def main(ctx: click.Context, config_paths: tuple[Path, ...], verbose: bool) -> None:
    """Run Backstage Software Templates outside Backstage, with PagerDuty actions."""
    _configure_logging(verbose)
    state = CliState(config_paths, verbose)
    ctx.obj = state
    if state.color is False:
        ctx.color = False


if __name__ == "__main__":
    main()
