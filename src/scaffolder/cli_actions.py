"""``scaffold actions list|show|docs``."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from scaffolder.cli import echo_json, handle_errors
from scaffolder.docs import render_actions_markdown
from scaffolder.registry import default_registry


@click.group("actions")
def actions_group() -> None:
    """List and describe the actions templates can use."""


@actions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@handle_errors
def list_actions(as_json: bool) -> None:
    """List every action with its description."""
    manifests = default_registry().all()
    if as_json:
        echo_json([manifest.to_backstage() for manifest in manifests])
        return
    for manifest in manifests:
        summary = manifest.description.split(". ")[0].rstrip(".")
        click.echo(f"{manifest.id:<36} {summary}")


@actions_group.command("show")
@click.argument("action_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@handle_errors
def show_action(action_id: str, as_json: bool) -> None:
    """Show an action's input and output schemas and examples."""
    manifest = default_registry().get(action_id)
    if as_json:
        echo_json({**manifest.to_backstage(), "supportsDryRun": manifest.supports_dry_run})
        return
    click.echo(f"{manifest.id}\n\n{manifest.description}\n")
    click.echo(f"Dry run: {'supported' if manifest.supports_dry_run else 'skipped'}\n")
    click.echo("Input:")
    click.echo(yaml.safe_dump(manifest.input_schema, sort_keys=False).rstrip())
    click.echo("\nOutput:")
    click.echo(yaml.safe_dump(manifest.output_schema, sort_keys=False).rstrip())
    for example in manifest.examples:
        click.echo(f"\nExample: {example.get('description', '')}\n{example.get('example', '')}")


@actions_group.command("docs")
@click.option("--output", "-o", type=click.Path(path_type=Path),
              help="Write to this file instead of standard output (docs/actions.md).")
@handle_errors
def actions_docs(output: Path | None) -> None:
    """Generate the Markdown reference of every action from the manifests."""
    text = render_actions_markdown(default_registry().all())
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
