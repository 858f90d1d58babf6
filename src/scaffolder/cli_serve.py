"""``scaffold serve``: the HTTP bridge that speaks Backstage's scaffolder REST API."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from scaffolder.cli import CliState, handle_errors
from scaffolder.redact import RedactingFilter, Redactor

logger = logging.getLogger("scaffolder.bridge")


@click.command("serve")
@click.option(
    "--config", "config_paths", multiple=True, type=click.Path(path_type=Path),
    help="Backstage app-config YAML file with a 'scaffolder' section; repeat to merge several. "
         "Adds to the files given before the command.",
)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on.")
@click.option("--port", default=7007, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port to listen on.")
@click.option("--insecure-no-auth", is_flag=True,
              help="Accept requests without a bearer token; allowed only on a loopback host "
                   "and only when no token is configured.")
@click.pass_obj
@handle_errors
def serve(
    state: CliState, config_paths: tuple[Path, ...], host: str, port: int,
    insecure_no_auth: bool,
) -> None:
    """Serve Backstage's scaffolder REST API (/api/scaffolder/v2/...) over HTTP.

    Every route except /healthz needs 'Authorization: Bearer <token>' with a token from
    scaffolder.auth.tokens. Tasks are kept in scaffolder.taskStore (SQLite under the
    working directory by default) and resume after a restart.
    """
    import uvicorn

    from scaffolder.bridge.app import create_app
    from scaffolder.bridge.core import Bridge
    from scaffolder.config import load_config

    paths = [*state.config_paths, *config_paths]
    config = load_config(paths) if paths else {}
    bridge = Bridge.build(config, host=host, insecure_no_auth=insecure_no_auth)
    _configure_logging(bridge.secrets, verbose=state.verbose)
    logger.info("scaffolder bridge starting on http://%s:%d with %d template(s): %s",
                host, port, len(bridge.catalog.refs()), ", ".join(bridge.catalog.refs()))
    uvicorn.run(
        create_app(bridge), host=host, port=port,
        log_level="debug" if state.verbose else "info",
        timeout_graceful_shutdown=5,
    )


def _configure_logging(secrets: Redactor, *, verbose: bool) -> None:
    """Show INFO lines (DEBUG with --verbose), with task secrets masked in each of them."""
    root = logging.getLogger("scaffolder")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in root.handlers:
        handler.addFilter(RedactingFilter(secrets))
