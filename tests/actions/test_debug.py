"""debug:log and debug:wait, through the Runner and with an ActionContext built directly."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from scaffolder.actions.debug import wait
from scaffolder.context import ActionContext, Event
from scaffolder.errors import ActionError, TaskCancelled
from scaffolder.runner import Runner, TaskResult, TaskSpec


def run_step(tmp_path: Path, action: str, step_input: dict[str, Any],
             events: list[Event] | None = None, dry_run: bool = False) -> TaskResult:
    steps = [{"id": "step", "action": action, "input": step_input}]
    spec = TaskSpec(template={"spec": {"steps": steps}}, parameters={})
    return Runner().run(spec, task_id="task-1", workspace=tmp_path / "ws", dry_run=dry_run,
                        on_event=events.append if events is not None else None)


def make_context(tmp_path: Path, step_input: dict[str, Any]) -> ActionContext:
    return ActionContext(
        action_id="debug:wait", input=step_input, workspace=tmp_path,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
        task_id="task-1", step_id="wait",
    )


def test_log_message_and_workspace(tmp_path: Path) -> None:
    (tmp_path / "ws" / "docs").mkdir(parents=True)
    (tmp_path / "ws" / "docs" / "a.md").write_text("hello contents")
    events: list[Event] = []
    result = run_step(tmp_path, "debug:log",
                      {"message": "Hi there", "listWorkspace": "with-contents"}, events)
    assert result.status == "completed", result.error
    messages = [event.body.get("message", "") for event in events]
    assert "Hi there" in messages
    assert any("  - docs/a.md" in message for message in messages)
    assert any("hello contents" in message for message in messages)


def test_wait_short(tmp_path: Path) -> None:
    result = run_step(tmp_path, "debug:wait", {"milliseconds": 10})
    assert result.status == "completed", result.error


def test_wait_over_maximum_rejected(tmp_path: Path) -> None:
    with pytest.raises(ActionError, match="longer than the maximum"):
        wait(make_context(tmp_path, {"minutes": 1}))


def test_wait_cancelled_raises(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, {"seconds": 30})
    timer = threading.Timer(0.05, ctx.cancelled.set)
    timer.start()
    with pytest.raises(TaskCancelled):
        wait(ctx)
    timer.join()


def test_wait_cancelled_during_run(tmp_path: Path) -> None:
    cancelled = threading.Event()
    steps = [{"id": "step", "action": "debug:wait", "input": {"seconds": 30}}]
    spec = TaskSpec(template={"spec": {"steps": steps}}, parameters={})
    timer = threading.Timer(0.05, cancelled.set)
    timer.start()
    result = Runner().run(spec, task_id="t", workspace=tmp_path / "ws", cancelled=cancelled)
    timer.join()
    assert result.status == "cancelled"
    assert result.step_status == {}


def test_wait_dry_run_skips_waiting(tmp_path: Path) -> None:
    events: list[Event] = []
    result = run_step(tmp_path, "debug:wait", {"seconds": 30}, events, dry_run=True)
    assert result.status == "completed", result.error
    assert any("Dry run: not waiting 30 seconds" in e.body.get("message", "") for e in events)
