"""Checks that run before a task starts, so a mistake costs nothing (exit 2, nothing written).

``scaffold new`` runs them; they catch what would otherwise fail halfway through a task,
after side effects such as a PagerDuty service already happened.
"""

from __future__ import annotations

from typing import Any

from scaffolder.context import Runtime
from scaffolder.errors import ConfigError, TemplateError
from scaffolder.registry import ActionRegistry
from scaffolder.templates import Template
from scaffolder.validate import check_template, untrusted_steps

_MAX_LISTED_PROBLEMS = 10


def check_before_run(
    template: Template, registry: ActionRegistry, runtime: Runtime, *, dry_run: bool
) -> None:
    """Raise an :class:`InputError` subclass if the task cannot run as asked."""
    _check_static(template, registry)
    _check_trust(template, registry, runtime)
    if not dry_run:
        _check_pagerduty(template, runtime)


def _check_static(template: Template, registry: ActionRegistry) -> None:
    problems = check_template(template.document, template.parameters, registry)
    if not problems:
        return
    shown = problems[:_MAX_LISTED_PROBLEMS]
    more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
    raise TemplateError(
        f"template {template.name!r} has {len(problems)} problem(s): " + "; ".join(shown) + more,
        template=template.name,
        hint=f"run 'scaffold templates validate {template.source}' for the full list",
    )


def _check_trust(template: Template, registry: ActionRegistry, runtime: Runtime) -> None:
    steps = untrusted_steps(template.document, registry)
    if steps and not runtime.trust_templates:
        raise TemplateError(
            f"template {template.name!r} runs code outside the sandbox ({', '.join(steps)})",
            template=template.name,
            hint="pass --trust if you trust the template's authors",
        )


def _check_pagerduty(template: Template, runtime: Runtime) -> None:
    uses_pagerduty = any(
        str(step.get("action", "")).startswith("pagerduty:") for step in template.steps
    )
    if uses_pagerduty and not _pagerduty_configured(runtime):
        raise ConfigError(
            f"template {template.name!r} calls PagerDuty, but no PagerDuty account is configured",
            hint="pass --config with a pagerDuty section, set PAGERDUTY_TOKEN, or try it with "
            "--simulate-pagerduty",
        )


def _pagerduty_configured(runtime: Runtime) -> bool:
    pagerduty: Any = runtime.pagerduty
    return bool(pagerduty.configured)
