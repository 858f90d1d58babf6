"""Running a task: a template's steps in order, with ``if``, ``each``, dry-run and cancellation.

The runner renders each step's input, validates it against the action's manifest, calls the
handler with an :class:`~scaffolder.context.ActionContext`, validates the output, and reports
progress as events in Backstage's shape (``log`` events carrying ``stepId`` and ``status``, then
one ``completion`` or ``cancelled`` event).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaffolder.context import (
    ActionContext,
    CheckpointStore,
    Event,
    EventSink,
    MemoryCheckpoints,
    Runtime,
)
from scaffolder.errors import (
    ScaffolderError,
    StepError,
    TaskCancelled,
    TemplateError,
)
from scaffolder.redact import GLOBAL_REDACTOR, Redactor
from scaffolder.registry import ActionRegistry, default_registry, example_output
from scaffolder.templating import DROP, is_truthy, render_value

logger = logging.getLogger("scaffolder.runner")


@dataclass
class TaskSpec:
    """The task to run: a template document with its folder, the parameter values and the user."""

    template: Mapping[str, Any]
    parameters: Mapping[str, Any]
    template_dir: Path | None = None
    user: Mapping[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.template.get("spec", {}).get("steps") or [])


@dataclass
class TaskResult:
    """The outcome of a run: status, rendered ``spec.output``, each step's outputs."""

    task_id: str
    status: str
    output: dict[str, Any] = field(default_factory=dict)
    step_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    step_status: dict[str, str] = field(default_factory=dict)
    error: ScaffolderError | None = None


class _StepLogger(logging.LoggerAdapter[logging.Logger]):
    """Logs to ``scaffolder.task`` and turns INFO-and-above lines into ``log`` events."""

    def __init__(self, emit: _Emitter, step_id: str, task_id: str) -> None:
        super().__init__(logging.getLogger("scaffolder.task"), {"task_id": task_id})
        self._emit = emit
        self._step_id = step_id
        self._task_id = task_id

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        message = str(msg) % args if args else str(msg)
        message = self._emit.redactor.redact(message)
        if level >= logging.INFO:
            self._emit.log(message, step_id=self._step_id)
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "task %s step %s: %s", self._task_id, self._step_id, message)


class _Emitter:
    """Sends redacted events to the sink."""

    def __init__(self, sink: EventSink | None, redactor: Redactor) -> None:
        self._sink = sink
        self.redactor = redactor

    def event(self, event_type: str, body: dict[str, Any]) -> None:
        if self._sink is not None:
            self._sink(Event(type=event_type, body=self.redactor.redact_data(body)))

    def log(self, message: str, *, step_id: str | None = None, status: str | None = None) -> None:
        body: dict[str, Any] = {"message": message}
        if step_id is not None:
            body["stepId"] = step_id
        if status is not None:
            body["status"] = status
        self.event("log", body)


@dataclass
class _Run:
    """State of one run, shared by its steps."""

    task_id: str
    spec: TaskSpec
    workspace: Path
    secrets: Mapping[str, str]
    dry_run: bool
    cancelled: threading.Event
    checkpoints: CheckpointStore
    emit: _Emitter
    steps: MutableMapping[str, dict[str, Any]] = field(default_factory=dict)

    def context(self, *, with_secrets: bool, each: Any = None) -> dict[str, Any]:
        context: dict[str, Any] = {
            "parameters": dict(self.spec.parameters),
            "steps": self.steps,
            "user": dict(self.spec.user),
            "context": {"task": {"id": self.task_id}},
        }
        if with_secrets:
            context["secrets"] = dict(self.secrets)
        if each is not None:
            context["each"] = each
        return context


class Runner:
    """Runs tasks with a registry of actions and a process-wide :class:`Runtime`."""

    def __init__(
        self, registry: ActionRegistry | None = None, runtime: Runtime | None = None
    ) -> None:
        self.registry = registry or default_registry()
        self.runtime = runtime or Runtime()

    def run(
        self,
        spec: TaskSpec,
        *,
        task_id: str,
        workspace: Path,
        secrets: Mapping[str, str] | None = None,
        dry_run: bool = False,
        cancelled: threading.Event | None = None,
        checkpoints: CheckpointStore | None = None,
        on_event: EventSink | None = None,
    ) -> TaskResult:
        """Run every step of ``spec`` in ``workspace``; a failed task is returned, not raised.

        The result's ``status`` is ``completed``, ``failed`` or ``cancelled``; ``error`` holds
        the failure. A ``completion`` (or ``cancelled``) event closes the stream.
        """
        secrets = dict(secrets or {})
        emit = _Emitter(
            on_event, _ChainedRedactor(Redactor(secrets.values()), self.runtime.redactor)
        )
        run = _Run(
            task_id=task_id,
            spec=spec,
            workspace=workspace,
            secrets=secrets,
            dry_run=dry_run,
            cancelled=cancelled or threading.Event(),
            checkpoints=checkpoints if checkpoints is not None else MemoryCheckpoints(),
            emit=emit,
        )
        result = TaskResult(task_id=task_id, status="processing")
        workspace.mkdir(parents=True, exist_ok=True)
        try:
            self._run_steps(run, result)
            result.output = self._render_output(run)
            result.status = "completed"
            emit.event("completion", {
                "message": "Run completed with status: completed", "output": result.output,
            })
        except TaskCancelled as error:
            result.status, result.error = "cancelled", error
            emit.event("cancelled", {"message": f"Run cancelled: {error.message}"})
        except ScaffolderError as error:
            result.status, result.error = "failed", error
            emit.event("completion", {
                "message": "Run completed with status: failed",
                "error": {"name": type(error).__name__, "message": error.message},
            })
        return result

    def _run_steps(self, run: _Run, result: TaskResult) -> None:
        for index, step in enumerate(run.spec.steps):
            step_id = str(step.get("id") or f"step-{index + 1}")
            if run.cancelled.is_set():
                raise TaskCancelled(f"task {run.task_id} cancelled before step {step_id!r}")
            status = self._run_step(run, step, step_id)
            result.step_status[step_id] = status
            if status == "completed":
                result.step_outputs[step_id] = run.steps[step_id]["output"]

    def _run_step(self, run: _Run, step: Mapping[str, Any], step_id: str) -> str:
        action_id = str(step.get("action", ""))
        name = str(step.get("name") or step_id)
        run.emit.log(f"Beginning step {name}", step_id=step_id, status="processing")
        started = time.monotonic()
        try:
            if not self._should_run(run, step, step_id):
                run.emit.log(f"Skipping step {step_id} because its if condition is false",
                             step_id=step_id, status="skipped")
                return "skipped"
            manifest = self.registry.get(action_id)
            if manifest.requires_trust and not self.runtime.trust_templates:
                raise TemplateError(untrusted_message(step_id, action_id))
            if run.dry_run and not manifest.supports_dry_run:
                run.steps[step_id] = {"output": example_output(manifest.output_schema)}
                run.emit.log(f"Skipping step {step_id}: action {action_id} does not support "
                             "dry-run; its outputs are made up from its output schema",
                             step_id=step_id, status="skipped")
                return "skipped"
            run.steps[step_id] = {"output": self._execute(run, step, step_id, action_id)}
        except TaskCancelled:
            run.emit.log(f"Step {step_id} cancelled", step_id=step_id, status="cancelled")
            raise
        except ScaffolderError as error:
            failure = _as_step_error(error, step_id, action_id)
            run.emit.log(failure.message, step_id=step_id, status="failed")
            raise failure from error
        elapsed = time.monotonic() - started
        run.emit.log(f"Finished step {name} in {elapsed:.2f}s", step_id=step_id,
                     status="completed")
        return "completed"

    def _should_run(self, run: _Run, step: Mapping[str, Any], step_id: str) -> bool:
        if "if" not in step:
            return True
        condition = step["if"]
        if isinstance(condition, str):
            condition = _render(condition, run.context(with_secrets=False), f"step {step_id}, if")
        return bool(is_truthy(condition))

    def _execute(
        self, run: _Run, step: Mapping[str, Any], step_id: str, action_id: str
    ) -> dict[str, Any]:
        if "each" not in step:
            return self._invoke(run, step, step_id, action_id, each=None, prefix="")
        items = _each_items(run, step["each"], step_id)
        collected: dict[str, list[Any]] = {}
        for position, each in enumerate(items):
            run.emit.log(f"Running step {step_id} for item {each['key']!r}", step_id=step_id)
            output = self._invoke(run, step, step_id, action_id, each=each,
                                  prefix=f"each[{position}]/")
            for key, value in output.items():
                collected.setdefault(key, []).append(value)
        return dict(collected)

    def _invoke(
        self,
        run: _Run,
        step: Mapping[str, Any],
        step_id: str,
        action_id: str,
        *,
        each: Any,
        prefix: str,
    ) -> dict[str, Any]:
        raw_input = step.get("input", step.get("parameters", {})) or {}
        action_input = render_value(
            raw_input, run.context(with_secrets=True, each=each), origin=f"step {step_id}, input"
        )
        self.registry.validate_input(action_id, action_input, step_id=step_id)
        ctx = ActionContext(
            action_id=action_id,
            input=action_input,
            workspace=run.workspace,
            logger=_StepLogger(run.emit, step_id, run.task_id),
            task_id=run.task_id,
            step_id=step_id,
            dry_run=run.dry_run,
            secrets=run.secrets,
            user=run.spec.user,
            template_dir=run.spec.template_dir,
            template_info=run.spec.template.get("metadata", {}),
            cancelled=run.cancelled,
            runtime=self.runtime,
            checkpoints=run.checkpoints,
            checkpoint_prefix=prefix,
        )
        self.registry.handler(action_id)(ctx)
        ctx.check_cancelled()
        self.registry.validate_output(action_id, ctx.outputs, step_id=step_id)
        return ctx.outputs

    def _render_output(self, run: _Run) -> dict[str, Any]:
        output = run.spec.template.get("spec", {}).get("output") or {}
        rendered = _render(output, run.context(with_secrets=False), "spec.output")
        return dict(rendered) if isinstance(rendered, dict) else {}


def untrusted_message(step_id: str, action_id: str) -> str:
    return (
        f"step {step_id} uses {action_id}, which runs the template's code outside the sandbox; "
        "it runs only for trusted templates: pass --trust to scaffold new, or set "
        "scaffolder.trustTemplates: true for scaffold serve"
    )


class _ChainedRedactor(Redactor):
    """The run's own secrets plus the runtime's and the process-wide ones."""

    def __init__(self, *redactors: Redactor) -> None:
        super().__init__()
        self._redactors = (*redactors, GLOBAL_REDACTOR)

    def redact(self, text: str) -> str:
        for redactor in self._redactors:
            text = redactor.redact(text)
        return text


def _render(value: Any, context: Mapping[str, Any], origin: str) -> Any:
    return render_value(value, context, origin=origin)


def _each_items(run: _Run, each: Any, step_id: str) -> list[dict[str, Any]]:
    value = render_value(each, run.context(with_secrets=False), origin=f"step {step_id}, each")
    if value is DROP or value is None:
        return []
    if isinstance(value, Mapping):
        return [{"key": key, "value": item} for key, item in value.items()]
    if isinstance(value, list):
        return [{"key": str(index), "value": item} for index, item in enumerate(value)]
    raise StepError(
        f"step {step_id}: each must render to a list or an object, got {type(value).__name__}",
        step_id=step_id,
    )


def _as_step_error(error: ScaffolderError, step_id: str, action_id: str) -> StepError:
    if isinstance(error, StepError):
        return error
    message = error.message
    if not message.startswith("step "):
        message = f"step {step_id} ({action_id}): {message}"
    return StepError(
        message, step_id=step_id, action=action_id, hint=error.hint,
        cause_exit_code=error.exit_code,
    )

