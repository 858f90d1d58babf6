"""Task workers: threads that claim open tasks, run them, and recover interrupted ones.

Each worker claims the oldest ``open`` task, runs it with the :class:`~scaffolder.runner.Runner`
in a workspace under the working directory, records every event in the store (and wakes the
subscribers), and removes the workspace when the task ends: templates publish their result
with ``publish:git``, so nothing stays behind on the bridge. A heartbeat thread marks running
tasks alive, passes cancellation requests to them, and recovers tasks whose bridge died.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from scaffolder.bridge.catalog import TemplateCatalog
from scaffolder.bridge.events import EventHub
from scaffolder.bridge.store import TaskCheckpoints, TaskRow, TaskStore, utc_now
from scaffolder.context import Event
from scaffolder.redact import Redactor
from scaffolder.runner import Runner, TaskResult, TaskSpec

logger = logging.getLogger("scaffolder.bridge.worker")

IDLE_POLL_SECONDS = 1.0
"""How long an idle worker waits before it looks for tasks again without being woken."""

STALE_HEARTBEATS = 4
"""A ``processing`` task whose heartbeat is this many intervals old belongs to a dead bridge."""


class ActiveSecrets(Redactor):
    """Secrets of the tasks running in this process, masked in every log line and event.

    Each task's secrets are added when it starts and removed when it ends, so the set does not
    grow with the number of tasks served.
    """

    def __init__(self) -> None:
        super().__init__()
        self._by_task: dict[str, Redactor] = {}
        self._tasks_lock = threading.Lock()

    def add_task(self, task_id: str, secrets: Mapping[str, str]) -> None:
        with self._tasks_lock:
            self._by_task[task_id] = Redactor(secrets.values())

    def remove_task(self, task_id: str) -> None:
        with self._tasks_lock:
            self._by_task.pop(task_id, None)

    def redact(self, text: str) -> str:
        with self._tasks_lock:
            redactors = list(self._by_task.values())
        for redactor in redactors:
            text = redactor.redact(text)
        return super().redact(text)


@dataclass
class _Running:
    cancelled: threading.Event = field(default_factory=threading.Event)


FINAL_EVENT_TYPES = frozenset({"completion", "cancelled"})


class EventRecorder:
    """The runner's event sink for one task: store the event, then wake the subscribers.

    The closing ``completion`` or ``cancelled`` event is held back in ``final`` and stored in
    the same transaction as the task's final status, so a client that sees it and then reads
    the task never finds the task still ``processing``.
    """

    def __init__(self, store: TaskStore, hub: EventHub, task_id: str) -> None:
        self._store = store
        self._hub = hub
        self._task_id = task_id
        self.final: tuple[str, dict[str, Any]] | None = None

    def __call__(self, event: Event) -> None:
        self.record(event.type, event.body)

    def record(self, event_type: str, body: dict[str, Any]) -> None:
        if event_type in FINAL_EVENT_TYPES:
            self.final = (event_type, body)
            return
        self._store.append_event(self._task_id, event_type, body)
        self._hub.publish(self._task_id)


class WorkerPool:
    """``count`` worker threads and one heartbeat thread, sharing a store and a runner."""

    def __init__(
        self,
        *,
        store: TaskStore,
        hub: EventHub,
        catalog: TemplateCatalog,
        runner: Runner,
        secrets: ActiveSecrets,
        working_directory: Path,
        count: int,
        heartbeat_seconds: float,
    ) -> None:
        self.store = store
        self.hub = hub
        self.catalog = catalog
        self.runner = runner
        self.secrets = secrets
        self.workspaces = working_directory / "workspaces"
        self.count = count
        self.heartbeat_seconds = heartbeat_seconds
        self.instance_id = uuid.uuid4().hex
        self._running: dict[str, _Running] = {}
        self._running_lock = threading.Lock()
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.workspaces.mkdir(parents=True, exist_ok=True)
        for number in range(self.count):
            self._spawn(self._work, f"scaffolder-worker-{number + 1}")
        self._spawn(self._heartbeat, "scaffolder-heartbeat")
        logger.info("started %d task worker(s), instance %s", self.count, self.instance_id)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming tasks and wait up to ``timeout`` seconds for the workers.

        A task still running when the process exits stays ``processing`` and is recovered by
        the next bridge that starts on the same store.
        """
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        logger.info("task workers stopped")

    def wake(self) -> None:
        """Tell idle workers that a task became ``open``."""
        with self._wake:
            self._wake.notify_all()

    def cancel(self, task_id: str) -> bool:
        """Signal a task running in this process to stop; return whether it runs here."""
        with self._running_lock:
            running = self._running.get(task_id)
        if running is None:
            return False
        running.cancelled.set()
        return True

    def running_ids(self) -> list[str]:
        with self._running_lock:
            return list(self._running)

    # --- recovery -------------------------------------------------------------------------

    def recover(self, *, all_processing: bool) -> int:
        """Reopen interrupted tasks so a worker resumes them from their checkpoints.

        With ``all_processing`` (a bridge starting on its own SQLite file) every ``processing``
        task was interrupted; otherwise only those whose heartbeat is stale. Returns how many
        tasks were recovered or failed.
        """
        stale_before = None
        if not all_processing:
            stale_before = utc_now() - timedelta(seconds=self.heartbeat_seconds * STALE_HEARTBEATS)
        task_ids = self.store.processing_task_ids(heartbeat_before=stale_before)
        for task_id in task_ids:
            if task_id not in self.running_ids():
                self._recover_one(task_id)
        if task_ids:
            self.wake()
        return len(task_ids)

    def _recover_one(self, task_id: str) -> None:
        task = self.store.get_task(task_id)
        if task is None:
            return
        recorder = EventRecorder(self.store, self.hub, task_id)
        problem = self._resume_problem(task)
        if problem is not None:
            recorder.record("recovered", {
                "message": f"Task interrupted by a bridge restart cannot resume: {problem}",
            })
            recorder.record("completion", {
                "message": "Run completed with status: failed",
                "error": {"name": "RecoveryError", "message": problem},
            })
            self.store.finish_task(task_id, "failed", final_event=recorder.final)
            self.hub.publish(task_id)
            logger.warning("task %s interrupted and not resumable: %s", task_id, problem)
            return
        checkpoints = self.store.count_checkpoints(task_id)
        recorder.record("recovered", {
            "message": "Task interrupted by a bridge restart; resuming it with "
                       f"{checkpoints} saved checkpoint(s), so finished side effects are "
                       "not repeated",
        })
        self.store.reopen_task(task_id, from_statuses=["processing"], secrets=None)
        logger.info("task %s recovered with %d checkpoint(s)", task_id, checkpoints)

    def _resume_problem(self, task: TaskRow) -> str | None:
        if self.catalog.get(task.template_ref) is None:
            return (f"its template {task.template_ref!r} is no longer configured in "
                    "scaffolder.templates")
        if task.secret_names and self.store.get_secrets(task.id) is None:
            names = ", ".join(task.secret_names)
            return (f"its secrets ({names}) were lost; retry the task with the secrets in "
                    "the request body")
        return None

    # --- threads --------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                task = self.store.claim_task(self.instance_id)
            except Exception:
                logger.exception("worker could not claim a task; trying again")
                task = None
            if task is None:
                with self._wake:
                    self._wake.wait(IDLE_POLL_SECONDS)
                continue
            self._run_task(task)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                for task_id in self.store.heartbeat(self.running_ids()):
                    self.cancel(task_id)
                self.recover(all_processing=False)
            except Exception:
                logger.exception("task heartbeat failed; trying again in %ss",
                                 self.heartbeat_seconds)

    # --- running one task -----------------------------------------------------------------

    def _run_task(self, task: TaskRow) -> None:
        running = _Running()
        with self._running_lock:
            self._running[task.id] = running
        if task.cancel_requested:
            running.cancelled.set()
        workspace = self.workspaces / task.id
        recorder = EventRecorder(self.store, self.hub, task.id)
        status = "failed"
        try:
            logger.info("task %s started (template %s, created by %s)", task.id,
                        task.template_ref, task.created_by)
            status = self._execute(task, workspace, running, recorder)
        except Exception as error:
            logger.exception("task %s failed with an internal error", task.id)
            recorder.record("completion", {
                "message": "Run completed with status: failed",
                "error": {"name": "InternalError",
                          "message": f"internal error of the bridge: {type(error).__name__}"},
            })
        finally:
            # The workspace goes first: a client that sees the final status or event must not
            # find the task's files still there.
            shutil.rmtree(workspace, ignore_errors=True)
            self.store.finish_task(task.id, status, final_event=recorder.final)
            self.secrets.remove_task(task.id)
            with self._running_lock:
                self._running.pop(task.id, None)
            self.hub.publish(task.id)
            logger.info("task %s finished with status %s", task.id, status)

    def _execute(
        self, task: TaskRow, workspace: Path, running: _Running, recorder: EventRecorder
    ) -> str:
        template = self.catalog.get(task.template_ref)
        problem = self._resume_problem(task)
        if template is None or problem is not None:
            message = problem or f"template {task.template_ref!r} is not configured"
            recorder.record("completion", {
                "message": "Run completed with status: failed",
                "error": {"name": "InputError", "message": message},
            })
            return "failed"
        secrets = self.store.get_secrets(task.id) or {}
        self.secrets.add_task(task.id, secrets)
        result: TaskResult = self.runner.run(
            TaskSpec(
                template=template_document(task.spec),
                parameters=task.spec.get("parameters") or {},
                template_dir=template.directory,
                user=task.spec.get("user") or {},
            ),
            task_id=task.id,
            workspace=workspace,
            secrets=secrets,
            cancelled=running.cancelled,
            checkpoints=TaskCheckpoints(self.store, task.id),
            on_event=recorder,
        )
        return result.status


def template_document(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Rebuild the template document the runner needs from a stored task spec."""
    info = spec.get("templateInfo") or {}
    metadata = (info.get("entity") or {}).get("metadata") or {}
    return {
        "apiVersion": spec.get("apiVersion"),
        "kind": "Template",
        "metadata": metadata,
        "spec": {"steps": spec.get("steps") or [], "output": spec.get("output") or {}},
    }
