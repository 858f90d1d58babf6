"""Run Backstage Software Templates outside Backstage, with first-class PagerDuty actions.

The library's public names are importable from here; each loads its module on first use, so
``import scaffolder`` stays cheap for the command line::

    from scaffolder import Runner, TaskSpec, load_template

    template = load_template("service-with-pagerduty")
    result = Runner().run(
        TaskSpec(template=template.document, parameters={...}, template_dir=template.directory),
        task_id="t1",
        workspace=Path("out"),
    )
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ActionContext": "scaffolder.context",
    "ActionError": "scaffolder.errors",
    "ActionManifest": "scaffolder.registry",
    "ActionRegistry": "scaffolder.registry",
    "ConfigError": "scaffolder.errors",
    "Event": "scaffolder.context",
    "GitError": "scaffolder.errors",
    "InputError": "scaffolder.errors",
    "PagerDuty": "scaffolder.pagerduty",
    "PagerDutyError": "scaffolder.errors",
    "ParameterError": "scaffolder.errors",
    "Runner": "scaffolder.runner",
    "Runtime": "scaffolder.context",
    "ScaffolderError": "scaffolder.errors",
    "Simulator": "scaffolder.pagerduty.simulator",
    "StepError": "scaffolder.errors",
    "TaskCancelled": "scaffolder.errors",
    "TaskError": "scaffolder.errors",
    "TaskResult": "scaffolder.runner",
    "TaskSpec": "scaffolder.runner",
    "Template": "scaffolder.templates",
    "TemplateError": "scaffolder.errors",
    "collect_parameters": "scaffolder.parameters",
    "default_registry": "scaffolder.registry",
    "load_config": "scaffolder.config",
    "load_template": "scaffolder.templates",
}

__all__ = [
    "ActionContext",
    "ActionError",
    "ActionManifest",
    "ActionRegistry",
    "ConfigError",
    "Event",
    "GitError",
    "InputError",
    "PagerDuty",
    "PagerDutyError",
    "ParameterError",
    "Runner",
    "Runtime",
    "ScaffolderError",
    "Simulator",
    "StepError",
    "TaskCancelled",
    "TaskError",
    "TaskResult",
    "TaskSpec",
    "Template",
    "TemplateError",
    "__version__",
    "collect_parameters",
    "default_registry",
    "load_config",
    "load_template",
]

if TYPE_CHECKING:
    from scaffolder.config import load_config
    from scaffolder.context import ActionContext, Event, Runtime
    from scaffolder.errors import (
        ActionError,
        ConfigError,
        GitError,
        InputError,
        PagerDutyError,
        ParameterError,
        ScaffolderError,
        StepError,
        TaskCancelled,
        TaskError,
        TemplateError,
    )
    from scaffolder.pagerduty import PagerDuty
    from scaffolder.pagerduty.simulator import Simulator
    from scaffolder.parameters import collect_parameters
    from scaffolder.registry import ActionManifest, ActionRegistry, default_registry
    from scaffolder.runner import Runner, TaskResult, TaskSpec
    from scaffolder.templates import Template, load_template


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'scaffolder' has no attribute {name!r}")
