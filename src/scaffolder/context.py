"""The context an action handler receives (:class:`ActionContext`) and the events a task emits."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from scaffolder.errors import TaskCancelled
from scaffolder.redact import Redactor

T = TypeVar("T")

EVENT_TYPES = ("log", "completion", "cancelled", "recovered")


@dataclass(frozen=True)
class Event:
    """One task event, in Backstage's shape: ``type`` is one of :data:`EVENT_TYPES`.

    ``body`` of a ``log`` event contains ``message`` and, for step events, ``stepId`` and
    ``status`` (``processing``, ``completed``, ``failed``, ``skipped``, ``cancelled``), which is
    how Backstage's UI follows step progress.
    """

    type: str
    body: dict[str, Any]
    created_at: float = field(default_factory=time.time)
    id: int = 0


EventSink = Callable[[Event], None]


class CheckpointStore(Protocol):
    """Durable results of side effects, keyed by step and checkpoint key.

    The CLI keeps them in a JSON file per task, the bridge in its task database. A rerun or
    resume of the same task finds them and skips the side effect.
    """

    def get_checkpoint(self, key: str) -> tuple[bool, Any]: ...

    def put_checkpoint(self, key: str, value: Any) -> None: ...


class MemoryCheckpoints:
    """Checkpoints kept in memory, for a single run and for tests."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = dict(initial or {})
        self._lock = threading.Lock()

    def get_checkpoint(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            if key in self._values:
                return True, self._values[key]
            return False, None

    def put_checkpoint(self, key: str, value: Any) -> None:
        with self._lock:
            self._values[key] = value

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)


@dataclass
class Runtime:
    """Process-wide resources that handlers share: configuration and PagerDuty clients.

    ``config`` is the merged app-config mapping. ``pagerduty`` is built on first use from the
    ``pagerDuty`` section, so runs that never call PagerDuty need no credentials.
    """

    config: dict[str, Any] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)
    trust_templates: bool = False
    """Allow actions that run template-supplied code outside the sandbox."""
    _pagerduty: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pagerduty(self) -> Any:
        """The :class:`scaffolder.pagerduty.PagerDuty` of this process (accounts and clients)."""
        with self._lock:
            if self._pagerduty is None:
                from scaffolder.pagerduty import PagerDuty

                self._pagerduty = PagerDuty.from_config(self.config, redactor=self.redactor)
            return self._pagerduty

    def set_pagerduty(self, pagerduty: Any) -> None:
        with self._lock:
            self._pagerduty = pagerduty

    def close(self) -> None:
        with self._lock:
            if self._pagerduty is not None:
                self._pagerduty.close()
                self._pagerduty = None


@dataclass
class ActionContext:
    """Everything a handler may use while it runs one step.

    Handlers read ``input`` (already rendered and validated), write files only inside
    ``workspace``, report results through :meth:`output`, wrap every side effect outside the
    workspace in :meth:`checkpoint`, and call :meth:`check_cancelled` between long operations.
    """

    action_id: str
    input: dict[str, Any]
    workspace: Path
    logger: logging.LoggerAdapter[logging.Logger]
    task_id: str
    step_id: str
    dry_run: bool = False
    secrets: Mapping[str, str] = field(default_factory=dict)
    user: Mapping[str, Any] = field(default_factory=dict)
    template_dir: Path | None = None
    """Folder of the template, against which relative ``url`` inputs resolve."""
    template_info: Mapping[str, Any] = field(default_factory=dict)
    cancelled: threading.Event = field(default_factory=threading.Event)
    runtime: Runtime = field(default_factory=Runtime)
    checkpoints: CheckpointStore = field(default_factory=MemoryCheckpoints)
    checkpoint_prefix: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)

    def output(self, name: str, value: Any) -> None:
        self.outputs[name] = value

    def checkpoint(self, key: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` once per task: a rerun or resume returns the value saved the first time.

        The value must be JSON-serialisable. Keys are scoped to the step (and the ``each``
        item), so two steps may use the same key.
        """
        full_key = f"{self.checkpoint_prefix}{self.step_id}:{key}"
        found, value = self.checkpoints.get_checkpoint(full_key)
        if found:
            self.logger.info("%s was done by an earlier run of this task: not repeating it", key)
            return value  # type: ignore[no-any-return]
        result = fn()
        json.dumps(result)
        self.checkpoints.put_checkpoint(full_key, result)
        return result

    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise TaskCancelled(f"task {self.task_id} cancelled during step {self.step_id!r}")

    @property
    def pagerduty(self) -> Any:
        return self.runtime.pagerduty
