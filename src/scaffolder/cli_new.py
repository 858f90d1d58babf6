"""``scaffold new``: run a template into an output folder (or a git remote)."""

from __future__ import annotations

import contextlib
import getpass
import shlex
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from scaffolder.cli import EXIT_CODES_HELP, CliState, echo_json, handle_errors
from scaffolder.context import CheckpointStore, Event, MemoryCheckpoints, Runtime
from scaffolder.errors import InputError, TemplateError
from scaffolder.output import check_output_dir, discard_workspace, install_workspace, make_workspace
from scaffolder.parameters import (
    ClickPrompter,
    coerce_set_values,
    collect_parameters,
    load_values_file,
    parameter_schema,
    secret_parameter_names,
)
from scaffolder.preflight import check_before_run, check_publish_targets
from scaffolder.registry import default_registry
from scaffolder.runner import Runner, TaskResult, TaskSpec
from scaffolder.taskstate import TaskStateFile, default_state_dir, new_task_id
from scaffolder.templates import Template, load_template

_STATUS_MARKS = {
    "processing": ("▸", "cyan"),
    "completed": ("✓", "green"),
    "skipped": ("-", "yellow"),
    "failed": ("✗", "red"),
    "cancelled": ("✗", "red"),
}


class _ProgressPrinter:
    """Prints task events as progress lines on stderr."""

    def __init__(self, color: bool | None) -> None:
        self.color = color

    def __call__(self, event: Event) -> None:
        if event.type != "log":
            return
        body = event.body
        status = body.get("status")
        if status in _STATUS_MARKS:
            mark, colour = _STATUS_MARKS[status]
            line = f"{click.style(mark, fg=colour)} {body.get('message', '')}"
        else:
            line = f"    {body.get('message', '')}"
        click.echo(line, err=True, color=self.color)


@contextlib.contextmanager
def _pagerduty_simulator(enabled: bool, runtime: Runtime, color: bool | None) -> Iterator[None]:
    """Start the local PagerDuty simulator and point the runtime's configuration at it."""
    if not enabled:
        yield
        return
    from scaffolder.pagerduty.simulator import Simulator

    with Simulator() as simulator:
        runtime.config = {**runtime.config, "pagerDuty": simulator.app_config()}
        banner = (
            f"PagerDuty simulator on {simulator.url}: nothing reaches PagerDuty; "
            f"demo escalation policy id {simulator.demo_escalation_policy_id}"
        )
        click.echo(click.style(banner, fg="yellow"), err=True, color=color)
        try:
            yield
        finally:
            runtime.close()


def _collect_values(
    template: Template,
    values_file: Path | None,
    sets: tuple[str, ...],
    saved: dict[str, Any],
    interactive: bool,
) -> dict[str, Any]:
    values = dict(saved)
    if values_file is not None:
        values.update(load_values_file(values_file))
    if sets:
        values.update(
            coerce_set_values(
                list(sets), parameter_schema(template), secrets=secret_parameter_names(template)
            )
        )
    prompter = ClickPrompter() if interactive else None
    return collect_parameters(template, values=values, interactive=interactive, prompter=prompter)


def _run_with_ctrl_c(run: Callable[[], TaskResult], cancelled: threading.Event) -> TaskResult:
    """Run in a worker thread so Ctrl-C can cancel the task and wait for it to stop cleanly."""
    box: dict[str, TaskResult] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["result"] = run()
        finally:
            done.set()

    # An Event, not Thread.join: a KeyboardInterrupt inside join() can leave the thread
    # reported as stopped while it still runs (CPython gh-90882).
    threading.Thread(target=work, daemon=True).start()
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            click.echo("cancelling: waiting for the current step to stop...", err=True)
            cancelled.set()
    return box["result"]


def _default_output(template: Template, parameters: dict[str, Any]) -> Path:
    name = parameters.get("name") or template.name
    return Path.cwd() / str(name)


def _finish_output(result: TaskResult, workspace: Path, output: Path, dry_run: bool) -> None:
    if dry_run:
        discard_workspace(workspace)
        return
    if not (workspace / ".git").exists():
        from scaffolder.git import init_and_commit

        init_and_commit(
            workspace,
            branch="main",
            author_name="Scaffolder",
            author_email="scaffolder@localhost",
            message="Initial commit from scaffold new",
        )
    install_workspace(workspace, output)


def _report(
    result: TaskResult, output: Path | None, resume: str | None, as_json: bool,
    color: bool | None,
) -> None:
    if as_json:
        data: dict[str, Any] = {
            "taskId": result.task_id,
            "status": result.status,
            "outputDir": str(output) if output else None,
            "output": result.output,
            "steps": {
                step: {"status": status, "output": result.step_outputs.get(step, {})}
                for step, status in result.step_status.items()
            },
        }
        if result.error is not None:
            data["error"] = {"name": type(result.error).__name__, "message": result.error.message}
        echo_json(data)
        return
    if result.status == "completed":
        if output:
            click.echo(f"Created {output}", err=True)
        for link in result.output.get("links") or []:
            if not link.get("url"):
                continue
            click.echo(f"  {link.get('title', link.get('url', ''))}: {link.get('url', '')}")
        for text in result.output.get("text") or []:
            click.echo(f"\n{text.get('title', '')}\n{text.get('content', '')}")
    elif result.error is not None:
        click.echo(click.style(f"error: {result.error.message}", fg="red"), err=True, color=color)
        if result.error.hint:
            click.echo(f"hint: {result.error.hint}", err=True)
        message = f"task {result.task_id} {result.status}; the output folder was not written."
        if resume is not None:
            message += (" Finished side effects (such as a PagerDuty service) are saved and "
                        f"will not be repeated: resume with {resume}")
        click.echo(message, err=True)


@click.command("new", epilog=EXIT_CODES_HELP)
@click.option(
    "--template",
    "-t",
    "template_ref",
    help="Built-in template name, folder, template.yaml or git URL (URL//subfolder?ref=REF).",
)
@click.option(
    "--values",
    "values_file",
    type=click.Path(path_type=Path),
    help="YAML or JSON file of parameter values.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a parameter; converted to the type the template declares. Repeatable.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Folder that receives the result [default: ./<name>].",
)
@click.option("--force", is_flag=True,
              help="Write into a non-empty output folder (never one with a git repository).")
@click.option(
    "--no-input", is_flag=True, help="Never prompt: fail listing every missing or invalid value."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Run actions that support dry-run; skip the others. Nothing leaves the "
    "machine and no output is written.",
)
@click.option(
    "--resume",
    "resume_id",
    metavar="TASK_ID",
    help="Rerun a failed task from its saved state; done side effects are not repeated.",
)
@click.option(
    "--simulate-pagerduty",
    is_flag=True,
    help="Start a local PagerDuty simulator and use it instead of PagerDuty.",
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    help="Where task state is kept for --resume [default: ~/.local/state/scaffolder].",
)
@click.option(
    "--trust",
    is_flag=True,
    help="Allow actions that run the template's own code outside the sandbox "
    "(fetch:cookiecutter). Only for templates whose authors you trust.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.pass_obj
@handle_errors
def new(
    state: CliState,
    template_ref: str | None,
    values_file: Path | None,
    sets: tuple[str, ...],
    output: Path | None,
    force: bool,
    no_input: bool,
    dry_run: bool,
    resume_id: str | None,
    simulate_pagerduty: bool,
    state_dir: Path | None,
    trust: bool,
    as_json: bool,
) -> None:
    """Create a component from a template."""
    saved: dict[str, Any] = {}
    task_state: TaskStateFile | None = None
    if resume_id:
        task_state = _load_resumable(state_dir or default_state_dir(), resume_id, dry_run)
        saved_spec = task_state.spec
        template_ref = template_ref or saved_spec["template"]
        saved = dict(saved_spec.get("parameters") or {})
        output = output or (Path(saved_spec["output"]) if saved_spec.get("output") else None)
        simulate_pagerduty = simulate_pagerduty or bool(saved_spec.get("simulatePagerduty"))
        trust = trust or bool(saved_spec.get("trust"))
    if not template_ref:
        raise InputError(
            "missing --template",
            hint="try: scaffold new --template "
            "service-with-pagerduty (see 'scaffold templates list')",
        )

    template = load_template(template_ref)
    _check_actions(template)
    runtime = Runtime(config=state.load_config(), trust_templates=trust)
    # The simulator starts before the prompts, so its banner shows the demo escalation policy
    # id before the template prompts for it.
    with _pagerduty_simulator(simulate_pagerduty, runtime, state.color):
        interactive = not no_input and sys.stdin.isatty()
        parameters = _collect_values(template, values_file, sets, saved, interactive)
        secret_names = secret_parameter_names(template)
        secrets = {name: str(parameters.pop(name)) for name in secret_names if name in parameters}
        output = (output or _default_output(template, parameters)).absolute()
        if not dry_run:
            check_output_dir(output, force=force)

        check_before_run(template, default_registry(), runtime, dry_run=dry_run)
        if task_state is None:
            # A resumed task may have pushed already, so its publish step checks the remote itself.
            check_publish_targets(template, default_registry(), parameters)
        checkpoints: CheckpointStore = MemoryCheckpoints()
        if not dry_run:
            task_state = task_state or TaskStateFile.create(
                state_dir or default_state_dir(), new_task_id(),
                {"template": template_ref, "parameters": _without_credentials(parameters),
                 "output": str(output),
                 "simulatePagerduty": simulate_pagerduty, "trust": trust},
            )
            checkpoints = task_state
        task_id = task_state.task_id if task_state else new_task_id()
        spec = TaskSpec(template=template.document, parameters=parameters,
                        template_dir=template.directory,
                        user={"ref": f"user:default/{_login()}"})
        printer = None if as_json and not state.verbose else _ProgressPrinter(state.color)
        result = _run_into_output(runtime, spec, task_id, output, secrets, dry_run,
                                  checkpoints, printer)
    if task_state is not None:
        task_state.set_status(result.status)
    resume = _resume_command(task_state, state, state_dir) if task_state else None
    _report(result, None if dry_run else output, resume, as_json, state.color)
    if simulate_pagerduty and not as_json:
        click.echo("PagerDuty was simulated: nothing reached PagerDuty.", err=True)
    if result.status == "cancelled":
        sys.exit(130)
    if result.error is not None:
        sys.exit(result.error.exit_code if result.error.exit_code != 2 else 1)


def _run_into_output(
    runtime: Runtime,
    spec: TaskSpec,
    task_id: str,
    output: Path,
    secrets: dict[str, str],
    dry_run: bool,
    checkpoints: CheckpointStore,
    printer: _ProgressPrinter | None,
) -> TaskResult:
    """Run the task in a workspace beside ``output``; move it there only if every step passed."""
    workspace = make_workspace(output)
    result: TaskResult | None = None
    try:
        cancelled = threading.Event()
        result = _run_with_ctrl_c(
            lambda: Runner(runtime=runtime).run(
                spec, task_id=task_id, workspace=workspace, secrets=secrets, dry_run=dry_run,
                cancelled=cancelled, checkpoints=checkpoints, on_event=printer,
            ),
            cancelled,
        )
        if result.status == "completed":
            _finish_output(result, workspace, output, dry_run)
        return result
    finally:
        runtime.close()
        if result is None or result.status != "completed" or dry_run:
            discard_workspace(workspace)


def _without_credentials(parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters to save for --resume, with credentials removed from URLs.

    A resumed task that needs them gets them again from --set or --values.
    """
    from scaffolder.git import redact_url

    return {name: redact_url(value) if isinstance(value, str) else value
            for name, value in parameters.items()}


def _load_resumable(state_dir: Path, task_id: str, dry_run: bool) -> TaskStateFile:
    if dry_run:
        raise InputError("--resume and --dry-run cannot be combined",
                         hint="a dry run saves no state; run the dry run again instead")
    task_state = TaskStateFile.load(state_dir, task_id)
    if task_state.data.get("status") == "completed":
        output = task_state.spec.get("output")
        raise InputError(f"task {task_id!r} already completed; its result is in {output}",
                         hint="start a new task with scaffold new")
    return task_state


def _resume_command(task_state: TaskStateFile, state: CliState, state_dir: Path | None) -> str:
    words = ["scaffold"]
    for path in state.config_paths:
        words += ["--config", shlex.quote(str(path))]
    words += ["new", "--resume", task_state.task_id]
    if state_dir is not None:
        words += ["--state-dir", shlex.quote(str(state_dir))]
    return " ".join(words)


def _check_actions(template: Template) -> None:
    """Reject unknown actions before anything runs (exit 2), not halfway through the task."""
    registry = default_registry()
    for step in template.steps:
        try:
            registry.get(str(step.get("action", "")))
        except TemplateError as error:
            step_id = step.get("id", "?")
            raise TemplateError(f"template {template.name!r}, step {step_id}: {error.message}",
                                template=template.name) from None


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"
