"""The runner: steps, if, each, dry-run, validation, events, checkpoints, cancellation."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from scaffolder.context import ActionContext, Event, MemoryCheckpoints
from scaffolder.errors import ActionError, StepError
from scaffolder.registry import ActionManifest, ActionRegistry
from scaffolder.runner import Runner, TaskSpec

CALLS: list[dict[str, Any]] = []


def _echo(ctx: ActionContext) -> None:
    CALLS.append(dict(ctx.input))
    ctx.logger.info("echo %s", ctx.input.get("text"))
    ctx.output("text", ctx.input.get("text"))


def _count_side_effect(ctx: ActionContext) -> None:
    CALLS.append({"side": True})
    created = ctx.checkpoint("create", lambda: {"id": f"S{len(CALLS)}"})
    ctx.output("id", created["id"])


def _fail(ctx: ActionContext) -> None:
    raise ActionError("it broke on purpose")


def _bad_output(ctx: ActionContext) -> None:
    ctx.output("text", 42)


def _wait_for_cancel(ctx: ActionContext) -> None:
    ctx.cancelled.wait(5)
    ctx.check_cancelled()


def _registry() -> ActionRegistry:
    registry = ActionRegistry()
    text_output = {"type": "object", "properties": {"text": {"type": "string"}}}
    registry.add(ActionManifest(
        id="test:echo", description="", handler_ref="",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}},
                      "required": ["text"], "additionalProperties": False},
        output_schema=text_output, supports_dry_run=True), _echo)
    registry.add(ActionManifest(
        id="test:side", description="", handler_ref="", input_schema={"type": "object"},
        output_schema={"type": "object", "properties": {"id": {"type": "string"}}}),
        _count_side_effect)
    registry.add(ActionManifest(id="test:fail", description="", handler_ref="",
                                input_schema={"type": "object"}, output_schema={}), _fail)
    registry.add(ActionManifest(id="test:bad-output", description="", handler_ref="",
                                input_schema={"type": "object"}, output_schema=text_output),
                 _bad_output)
    registry.add(ActionManifest(id="test:wait", description="", handler_ref="",
                                input_schema={"type": "object"}, output_schema={}),
                 _wait_for_cancel)
    return registry


def _template(steps: list[dict[str, Any]], output: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "t"},
        "spec": {"type": "service", "steps": steps, "output": output or {}},
    }


def _run(steps: list[dict[str, Any]], tmp_path: Path, **kwargs: Any) -> tuple[Any, list[Event]]:
    CALLS.clear()
    events: list[Event] = []
    parameters = kwargs.pop("parameters", {"name": "svc", "items": ["a", "b"]})
    output = kwargs.pop("output", None)
    spec = TaskSpec(template=_template(steps, output), parameters=parameters)
    result = Runner(registry=_registry()).run(
        spec, task_id="task-1", workspace=tmp_path / "ws", on_event=events.append, **kwargs
    )
    return result, events


def test_steps_run_in_order_with_outputs(tmp_path: Path) -> None:
    result, _ = _run([
        {"id": "one", "action": "test:echo", "input": {"text": "${{ parameters.name }}"}},
        {"id": "two", "action": "test:echo",
         "input": {"text": "${{ steps.one.output.text }}-2"}},
    ], tmp_path)
    assert result.status == "completed"
    assert result.step_outputs == {"one": {"text": "svc"}, "two": {"text": "svc-2"}}


def test_false_if_skips_step(tmp_path: Path) -> None:
    result, events = _run([
        {"id": "one", "action": "test:echo", "if": "${{ parameters.items.length === 0 }}",
         "input": {"text": "x"}},
        {"id": "two", "action": "test:echo", "if": "${{ [] }}", "input": {"text": "x"}},
        {"id": "three", "action": "test:echo", "if": False, "input": {"text": "x"}},
    ], tmp_path)
    assert result.step_status == {"one": "skipped", "two": "skipped", "three": "skipped"}
    assert CALLS == []
    assert [e.body.get("status") for e in events if e.body.get("stepId") == "one"] == [
        "processing", "skipped"]


def test_each_collects_outputs_into_lists(tmp_path: Path) -> None:
    result, _ = _run([
        {"id": "loop", "action": "test:echo", "each": "${{ parameters.items }}",
         "input": {"text": "${{ each.value }}-${{ each.key }}"}},
    ], tmp_path)
    assert result.step_outputs["loop"] == {"text": ["a-0", "b-1"]}


def test_each_over_object_uses_keys(tmp_path: Path) -> None:
    result, _ = _run([
        {"id": "loop", "action": "test:echo", "each": {"x": 1, "y": 2},
         "input": {"text": "${{ each.key }}=${{ each.value }}"}},
    ], tmp_path)
    assert result.step_outputs["loop"] == {"text": ["x=1", "y=2"]}


def test_invalid_input_names_step_and_field(tmp_path: Path) -> None:
    result, _ = _run([{"id": "one", "action": "test:echo", "input": {"text": 5}}], tmp_path)
    assert result.status == "failed"
    assert isinstance(result.error, StepError)
    assert "step one (test:echo): input.text: 5 is not of type 'string'" in result.error.message


def test_invalid_output_fails_step(tmp_path: Path) -> None:
    result, _ = _run([{"id": "one", "action": "test:bad-output"}], tmp_path)
    assert result.status == "failed"
    assert "output.text" in result.error.message  # type: ignore[union-attr]


def test_handler_error_names_step(tmp_path: Path) -> None:
    result, events = _run([{"id": "boom", "action": "test:fail"}], tmp_path)
    assert result.error is not None
    assert result.error.message == "step boom (test:fail): it broke on purpose"
    assert events[-1].type == "completion"
    assert events[-1].body["error"]["message"] == result.error.message


def test_render_error_names_step_and_expression(tmp_path: Path) -> None:
    result, _ = _run([{"id": "one", "action": "test:echo", "input": {"text": "${{ x | }}"}}],
                     tmp_path)
    assert result.error is not None
    assert "step one, input.text" in result.error.message
    assert "${{ x | }}" in result.error.message


def test_later_steps_do_not_run_after_failure(tmp_path: Path) -> None:
    result, _ = _run([{"id": "boom", "action": "test:fail"},
                      {"id": "after", "action": "test:echo", "input": {"text": "x"}}], tmp_path)
    assert "after" not in result.step_status
    assert CALLS == []


def test_dry_run_skips_unsupported_actions_with_example_output(tmp_path: Path) -> None:
    result, _ = _run([
        {"id": "side", "action": "test:side"},
        {"id": "echo", "action": "test:echo", "input": {"text": "${{ steps.side.output.id }}"}},
    ], tmp_path, dry_run=True)
    assert result.status == "completed"
    assert result.step_status["side"] == "skipped"
    assert result.step_outputs["echo"] == {"text": "<example>"}
    assert CALLS == [{"text": "<example>"}]


def test_checkpoint_is_not_repeated_on_rerun(tmp_path: Path) -> None:
    checkpoints = MemoryCheckpoints()
    steps = [{"id": "side", "action": "test:side"}, {"id": "boom", "action": "test:fail"}]
    first, _ = _run(steps, tmp_path, checkpoints=checkpoints)
    second, _ = _run(steps[:1], tmp_path, checkpoints=checkpoints)
    assert first.status == "failed"
    assert second.step_outputs["side"]["id"] == "S1"
    assert checkpoints.as_dict() == {"side:create": {"id": "S1"}}


def test_events_report_step_progress(tmp_path: Path) -> None:
    _, events = _run([{"id": "one", "name": "First", "action": "test:echo",
                       "input": {"text": "hello"}}], tmp_path)
    assert [event.type for event in events] == ["log", "log", "log", "completion"]
    assert events[0].body == {"message": "Beginning step First", "stepId": "one",
                              "status": "processing"}
    assert events[1].body == {"message": "echo hello", "stepId": "one"}
    assert events[2].body["status"] == "completed"


def test_secrets_are_masked_in_events(tmp_path: Path) -> None:
    _, events = _run([{"id": "one", "action": "test:echo",
                       "input": {"text": "token=${{ secrets.token }}"}}],
                     tmp_path, secrets={"token": "s3cr3t-value"})
    assert CALLS == [{"text": "token=s3cr3t-value"}]
    assert all("s3cr3t-value" not in str(event.body) for event in events)
    assert any("token=***" in str(event.body) for event in events)


def test_secrets_are_not_in_output_context(tmp_path: Path) -> None:
    result, _ = _run([{"id": "one", "action": "test:echo", "input": {"text": "x"}}], tmp_path,
                     secrets={"token": "s3cr3t-value"},
                     output={"text": [{"content": "${{ secrets.token }}"}]})
    assert result.status == "failed"
    assert "unknown variable 'secrets'" in result.error.message  # type: ignore[union-attr]


def test_output_is_rendered(tmp_path: Path) -> None:
    result, events = _run(
        [{"id": "one", "action": "test:echo", "input": {"text": "${{ parameters.name }}"}}],
        tmp_path,
        output={"links": [{"title": "Repo",
                           "url": "https://example.invalid/${{ steps.one.output.text }}"}]},
    )
    assert result.output == {"links": [{"title": "Repo", "url": "https://example.invalid/svc"}]}
    assert events[-1].body["output"] == result.output


def test_cancel_stops_running_step(tmp_path: Path) -> None:
    cancelled = threading.Event()
    timer = threading.Timer(0.1, cancelled.set)
    timer.start()
    result, events = _run([{"id": "wait", "action": "test:wait"},
                           {"id": "after", "action": "test:echo", "input": {"text": "x"}}],
                          tmp_path, cancelled=cancelled)
    assert result.status == "cancelled"
    assert events[-1].type == "cancelled"
    assert "after" not in result.step_status


def test_unknown_action_fails_with_hint(tmp_path: Path) -> None:
    result, _ = _run([{"id": "one", "action": "test:ech"}], tmp_path)
    assert result.error is not None
    assert "unknown action 'test:ech'" in result.error.message
    assert "did you mean 'test:echo'" in result.error.message


@pytest.mark.parametrize("each", ["${{ parameters.name }}", 5])
def test_each_must_be_list_or_object(tmp_path: Path, each: Any) -> None:
    result, _ = _run([{"id": "loop", "action": "test:echo", "each": each,
                       "input": {"text": "x"}}], tmp_path)
    assert result.status == "failed"
    assert "each must render to a list or an object" in result.error.message  # type: ignore[union-attr]
