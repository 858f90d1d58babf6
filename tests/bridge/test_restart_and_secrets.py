"""``scaffold serve`` as a subprocess: recovery after SIGKILL, and secrets kept out of output."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bridge_support import (
    TOKEN,
    Server,
    event_types,
    process_server,
    thread_server,
    write_config,
)

from scaffolder.pagerduty.simulator import Simulator

REQUEST_SECRET = "request-secret-value-7d41"
DISK_SECRET = "ONLYINSECRETS-QWERTY-777"


@pytest.fixture
def fresh_sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def wait_for_step(server: Server, task_id: str, step_id: str, status: str) -> int:
    """Long-poll until ``step_id`` reports ``status``; return the id of that event."""
    after = 0
    for _ in range(100):
        for event in server.events(task_id, after):
            after = int(event["id"])
            body = event["body"]
            if body.get("stepId") == step_id and body.get("status") == status:
                return after
    raise AssertionError(f"step {step_id} of task {task_id} never reached {status}")


def test_killed_server_resumes_task_without_repeating_pagerduty(
    tmp_path: Path, fresh_sim: Simulator
) -> None:
    config = write_config(tmp_path, fresh_sim)
    log = tmp_path / "serve.log"
    values = {"name": "survivor", "waitSeconds": 4,
              "escalationPolicyId": fresh_sim.demo_escalation_policy_id}

    with process_server(config, log) as first:
        task_id = first.submit("pd-wait", values, secrets={"apiKey": REQUEST_SECRET})
        last_seen = wait_for_step(first, task_id, "pagerduty", "completed")
        assert fresh_sim.counts["POST /services"] == 1
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)

    with process_server(config, log) as second:
        events = second.follow(task_id, after=last_seen)
        task = second.task(task_id)

    types = event_types(events)
    assert types.count("recovered") == 1
    recovered = events[types.index("recovered")]["body"]["message"]
    assert int(re.search(r"with (\d+) saved checkpoint", recovered).group(1)) >= 1  # type: ignore[union-attr]
    assert events[-1]["type"] == "completion"
    assert task["status"] == "completed"
    assert fresh_sim.counts["POST /services"] == 1
    with fresh_sim.state.lock:
        names = [service["name"] for service in fresh_sim.state.services.values()]
    assert names.count("survivor") == 1
    server_log = log.read_text(errors="replace")
    assert fresh_sim.api_token not in server_log
    assert REQUEST_SECRET not in server_log


def test_secrets_never_reach_responses_events_or_logs(
    tmp_path: Path, fresh_sim: Simulator
) -> None:
    config = write_config(tmp_path, fresh_sim, oauth=True)
    log = tmp_path / "serve.log"
    secrets = {"apiKey": REQUEST_SECRET}
    texts: list[str] = []

    with process_server(config, log) as server:
        task_id = server.submit("pd-wait", {"name": "secretive",
                                            "escalationPolicyId":
                                                fresh_sim.demo_escalation_policy_id},
                                secrets=secrets)
        events = server.follow(task_id)
        with server.client.stream("GET", server.api(f"/v2/tasks/{task_id}/eventstream")) as sse:
            texts.append("".join(sse.iter_text()))
        texts.append(json.dumps(server.task(task_id)))
        texts.append(server.client.get(server.api("/v2/tasks")).text)
        action = server.client.post(server.api("/v2/actions/debug:log/run"), json={
            "input": {"message": "secret is ${{ secrets.apiKey }}"}, "secrets": secrets,
        })
        texts.append(action.text)
        texts.extend(server.seen)

    logged = [event["body"]["message"] for event in events if event["type"] == "log"]
    assert "token is ***" in logged
    assert action.json()["log"][1]["body"]["message"] == "secret is ***"
    everything = "\n".join([*texts, log.read_text(errors="replace")])
    forbidden: dict[str, Any] = {
        "bearer token": TOKEN,
        "OAuth client secret": fresh_sim.client_secret,
        "request secret": REQUEST_SECRET,
    }
    for what, value in forbidden.items():
        assert value not in everything, f"the {what} leaked"
    assert "DEBUG" in log.read_text(errors="replace")


def files_containing(folder: Path, needle: bytes) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                  if path.is_file() and needle in path.read_bytes())


def test_finished_task_secret_is_erased_from_disk(
    tmp_path: Path, fresh_sim: Simulator
) -> None:
    config = write_config(tmp_path, fresh_sim)
    work = tmp_path / "work"
    with thread_server(config) as server:
        task_id = server.submit("pd-wait", {"name": "erased",
                                            "escalationPolicyId":
                                                fresh_sim.demo_escalation_policy_id},
                                secrets={"apiKey": DISK_SECRET})
        assert server.follow(task_id)[-1]["type"] == "completion"
        # The worker erases the secret and the workspace just after it stores the completion
        # event, so the client can see that event a moment before the files are clean.
        deadline = time.monotonic() + 5
        leftovers = files_containing(work, DISK_SECRET.encode())
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.05)
            leftovers = files_containing(work, DISK_SECRET.encode())
        names = sorted(path.name for path in work.iterdir())

    assert "tasks.db" in names
    assert leftovers == []
