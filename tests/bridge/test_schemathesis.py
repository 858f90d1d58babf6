"""Property-based requests against the bridge's own ``/openapi.json`` with schemathesis.

Bounded in time: few examples per operation and a hard timeout on the whole run. The checks
are no server error and responses (status, content type, body) that match the document.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bridge_support import TOKEN, Server

CHECKS = ",".join((
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
))
HARD_TIMEOUT_SECONDS = 90


def test_schemathesis_finds_no_failures(server: Server, tmp_path: Path) -> None:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable is not None, "schemathesis is not installed in the test environment"
    command = [
        executable, "run", f"{server.url}/openapi.json",
        "--header", f"Authorization: Bearer {TOKEN}",
        "--checks", CHECKS,
        "--max-examples", "25",
        "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "10",
        "--seed", "1",
        "--generation-deterministic",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                            timeout=HARD_TIMEOUT_SECONDS, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
