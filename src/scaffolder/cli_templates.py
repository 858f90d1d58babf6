"""``scaffold templates list|show|validate``."""

from __future__ import annotations

from typing import Any

import click

from scaffolder.cli import echo_json, handle_errors
from scaffolder.errors import TemplateError
from scaffolder.registry import default_registry
from scaffolder.templates import Template, list_builtin_templates, load_template
from scaffolder.validate import check_template, untrusted_steps


def _summary(template: Template) -> dict[str, Any]:
    return {
        "name": template.name,
        "title": template.title,
        "description": template.description,
        "path": str(template.path),
    }


@click.group("templates")
def templates_group() -> None:
    """List, show and validate templates."""


@templates_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@handle_errors
def list_templates(as_json: bool) -> None:
    """List the built-in templates."""
    templates = list_builtin_templates()
    if as_json:
        echo_json([_summary(template) for template in templates])
        return
    for template in templates:
        click.echo(f"{template.name:<28} {template.title or template.description}")


@templates_group.command("show")
@click.argument("template_ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@handle_errors
def show_template(template_ref: str, as_json: bool) -> None:
    """Show a template's parameters and steps (built-in name, folder, file or git URL)."""
    template = load_template(template_ref)
    if as_json:
        echo_json({**_summary(template), "parameters": template.parameters,
                   "steps": template.steps, "output": template.output})
        return
    click.echo(f"{template.name}: {template.title}")
    if template.description:
        click.echo(template.description)
    click.echo("\nParameters:")
    for page in template.parameters:
        required = set(page.get("required") or [])
        for name, schema in (page.get("properties") or {}).items():
            mark = "*" if name in required else " "
            detail = schema.get("description") or schema.get("title") or ""
            click.echo(f" {mark} {name:<24} {schema.get('type', 'any'):<8} {detail}")
    click.echo("\nSteps:")
    for index, step in enumerate(template.steps, 1):
        condition = f"  (if {step['if']})" if "if" in step else ""
        click.echo(f"  {index}. {step.get('id', '')}: {step.get('action')}{condition}")


@templates_group.command("validate")
@click.argument("template_refs", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@handle_errors
def validate_templates(template_refs: tuple[str, ...], as_json: bool) -> None:
    """Check templates without running them (all built-in templates when none is given).

    Reports schema errors, unknown actions, steps referenced before they run, parameters
    that are not declared, and literal inputs that break the action's schema.
    """
    refs = list(template_refs) or [template.name for template in list_builtin_templates()]
    report: dict[str, list[str]] = {}
    needs_trust: dict[str, list[str]] = {}
    for ref in refs:
        try:
            template = load_template(ref)
        except TemplateError as error:
            report[ref] = [error.message]
            continue
        report[ref] = check_template(template.document, template.parameters, default_registry())
        needs_trust[ref] = untrusted_steps(template.document, default_registry())
    if as_json:
        echo_json({"valid": not any(report.values()), "templates": report,
                   "needsTrust": {ref: steps for ref, steps in needs_trust.items() if steps}})
    else:
        for ref, problems in report.items():
            click.echo(f"{ref}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
            for problem in problems:
                click.echo(f"  - {problem}")
            for step in needs_trust.get(ref, []):
                click.echo(f"  note: step {step} runs the template's code outside the sandbox; "
                           "it needs scaffold new --trust")
    if any(report.values()):
        raise SystemExit(2)
