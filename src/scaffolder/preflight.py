"""Checks that run before a task starts, so a mistake costs nothing (exit 2, nothing written).

``scaffold new`` runs them; they catch what would otherwise fail halfway through a task,
after side effects such as a PagerDuty service already happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scaffolder.context import Runtime
from scaffolder.errors import ConfigError, GitError, InputError, TemplateError
from scaffolder.registry import ActionRegistry
from scaffolder.templates import Template
from scaffolder.templating import (
    has_template_syntax,
    is_truthy,
    iter_string_leaves,
    render_value,
    template_roots,
)
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


def check_publish_targets(
    template: Template, registry: ActionRegistry, parameters: Mapping[str, Any]
) -> None:
    """Ask each git remote a ``publish:git`` step will push to whether the push can work.

    Runs before PagerDuty or anything else outside the machine is touched, so a missing
    remote or a taken branch costs nothing. Steps whose remote or condition depends on
    earlier steps' outputs cannot be checked this early and are left to the step itself.
    """
    from scaffolder import git

    defaults = _input_defaults(registry, "publish:git")
    context = {"parameters": dict(parameters)}
    for index, step in enumerate(template.steps):
        if step.get("action") != "publish:git" or not _only_parameters(step):
            continue
        step_id = str(step.get("id") or f"step-{index + 1}")
        origin = f"step {step_id}"
        if "if" in step and not is_truthy(render_value(step["if"], context, origin=origin)):
            continue
        rendered = render_value(step.get("input") or {}, context, origin=f"{origin}, input")
        settings = {**defaults, **rendered}
        if not isinstance(settings.get("remoteUrl"), str):
            continue
        try:
            git.check_push(settings["remoteUrl"], branch=str(settings.get("branch", "main")),
                           token_env=settings.get("tokenEnv") or None,
                           force=bool(settings.get("force", False)))
        except GitError as error:
            hint = error.hint or "fix repoUrl or the branch, then run again"
            raise InputError(f"{origin} cannot publish: {error.message}", hint=hint) from None


def _only_parameters(step: Mapping[str, Any]) -> bool:
    texts = [text for _, text in iter_string_leaves({"if": step.get("if"),
                                                      "input": step.get("input")})]
    return all(template_roots(text) <= {"parameters"} for text in texts
               if has_template_syntax(text))


def _input_defaults(registry: ActionRegistry, action_id: str) -> dict[str, Any]:
    properties = registry.get(action_id).input_schema.get("properties") or {}
    return {name: schema["default"] for name, schema in properties.items() if "default" in schema}


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
