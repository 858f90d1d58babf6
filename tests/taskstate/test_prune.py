"""Old files of completed tasks are deleted; failed ones stay resumable."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from scaffolder.taskstate import COMPLETED_TASK_DAYS, prune_completed


def _task(folder: Path, name: str, status: str, age_days: float) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"id": name, "status": status}), encoding="utf-8")
    stamp = time.time() - age_days * 86400
    os.utime(path, (stamp, stamp))
    return path


def test_prune_keeps_recent_and_failed(tmp_path: Path) -> None:
    old_done = _task(tmp_path, "old-done", "completed", COMPLETED_TASK_DAYS + 1)
    new_done = _task(tmp_path, "new-done", "completed", 1)
    old_failed = _task(tmp_path, "old-failed", "failed", COMPLETED_TASK_DAYS + 1)
    assert prune_completed(tmp_path) == 1
    assert not old_done.exists()
    assert new_done.exists()
    assert old_failed.exists()
