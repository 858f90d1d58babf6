"""The ``scaffold`` command line.

Exit codes: 0 success; 1 the task failed; 2 bad usage or input (nothing ran, nothing was
written); 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

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


def fail(error: ScaffolderError, *, verbose: bool) -> None:
    """Print ``error: <message>`` (and the hint) to stderr and exit with the error's code."""
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
            fail(error, verbose=bool(state and state.verbose))

    return wrapper  # type: ignore[return-value]


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("scaffolder")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)


@click.group(epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
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


def _register_commands() -> None:
    from scaffolder.cli_actions import actions_group
    from scaffolder.cli_new import new
    from scaffolder.cli_templates import templates_group

    main.add_command(new)
    main.add_command(templates_group)
    main.add_command(actions_group)
    for module_name, attribute in (
        ("scaffolder.cli_config", "config_group"),
        ("scaffolder.cli_pagerduty", "pagerduty_group"),
        ("scaffolder.cli_serve", "serve"),
        ("scaffolder.cli_catalog", "catalog_group"),
    ):
        try:
            module = __import__(module_name, fromlist=[attribute])
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        main.add_command(getattr(module, attribute))


_register_commands()
