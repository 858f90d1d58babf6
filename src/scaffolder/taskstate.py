"""Task state for the CLI: a JSON file per task, so a failed run can be resumed."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from scaffolder.errors import InputError


def default_state_dir() -> Path:
    """``$SCAFFOLDER_STATE_DIR``, else ``$XDG_STATE_HOME/scaffolder``, else ``~/.local/state``."""
    if os.environ.get("SCAFFOLDER_STATE_DIR"):
        return Path(os.environ["SCAFFOLDER_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "scaffolder"


def new_task_id() -> str:
    return str(uuid.uuid4())


class TaskStateFile:
    """A task's spec, status and checkpoints in ``<state dir>/tasks/<id>.json``.

    Implements the checkpoint store protocol; every checkpoint is written to disk at once, so
    a crash right after a PagerDuty write still remembers it. Secrets are never stored.
    """

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def create(cls, state_dir: Path, task_id: str, spec: dict[str, Any]) -> TaskStateFile:
        data = {
            "id": task_id,
            "status": "processing",
            "createdAt": time.time(),
            "spec": spec,
            "checkpoints": {},
        }
        state = cls(state_dir / "tasks" / f"{task_id}.json", data)
        state.save()
        prune_completed(state_dir / "tasks")
        return state

    @classmethod
    def load(cls, state_dir: Path, task_id: str) -> TaskStateFile:
        path = state_dir / "tasks" / f"{task_id}.json"
        if not task_id or "/" in task_id or not path.is_file():
            raise InputError(
                f"no saved task {task_id!r} in {state_dir}",
                hint="use the task id printed by the failed run, with the same --state-dir",
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, data)

    @property
    def task_id(self) -> str:
        return str(self.data["id"])

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.data["spec"])

    def get_checkpoint(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            checkpoints = self.data["checkpoints"]
            if key in checkpoints:
                return True, checkpoints[key]
            return False, None

    def put_checkpoint(self, key: str, value: Any) -> None:
        with self._lock:
            self.data["checkpoints"][key] = value
            self._save_locked()

    def set_status(self, status: str) -> None:
        with self._lock:
            self.data["status"] = status
            self._save_locked()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".task-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.data, handle, indent=2)
        os.replace(temporary, self.path)


COMPLETED_TASK_DAYS = 30
"""Files of completed tasks older than this are deleted; failed ones stay for --resume."""


def prune_completed(folder: Path, *, now: float | None = None) -> int:
    """Delete task files of tasks that completed more than :data:`COMPLETED_TASK_DAYS` ago."""
    cutoff = (now if now is not None else time.time()) - COMPLETED_TASK_DAYS * 86400
    removed = 0
    for path in folder.glob("*.json"):
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            if json.loads(path.read_text(encoding="utf-8")).get("status") == "completed":
                path.unlink()
                removed += 1
        except (OSError, ValueError):
            continue
    return removed
