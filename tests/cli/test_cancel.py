"""Ctrl-C cancels a running ``scaffold new`` cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import write_template


def test_ctrl_c_cancels_and_writes_nothing(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "t", [
        {"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton"}},
        {"id": "wait", "action": "debug:wait", "input": {"seconds": 20}},
    ])
    (folder / "skeleton").mkdir()
    (folder / "skeleton" / "a.txt").write_text("a", encoding="utf-8")
    output = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "scaffolder", "new", "-t", str(folder), "--no-input",
         "--output", str(output), "--state-dir", str(tmp_path / "state")],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "Beginning step" in line and "wait" in line:
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=15)
    assert process.returncode == 130, rest
    assert "cancelled" in rest
    assert not output.exists()
    assert list(tmp_path.glob(".out.scaffold-*")) == []


def test_ctrl_c_at_prompt_exits_130(tmp_path: Path) -> None:
    import pty
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: scaffold new, prompting on the pseudo-terminal
        os.execv(sys.executable, [sys.executable, "-m", "scaffolder", "new", "-t",
                                  "service-with-pagerduty", "--output", str(tmp_path / "out"),
                                  "--state-dir", str(tmp_path / "state")])
    screen = b""
    deadline = time.monotonic() + 15
    while b"Name" not in screen and time.monotonic() < deadline:
        screen += os.read(fd, 1024)
    os.kill(pid, signal.SIGINT)
    with contextlib.suppress(OSError):
        while os.read(fd, 1024):
            pass
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130
    assert not (tmp_path / "out").exists()
