"""The Events API v2 body that ``scaffold pagerduty trigger`` sends, seen by a loopback server."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from scaffolder.cli import main

ROUTING_KEY = "0123456789abcdef0123456789abcdef"


class Recorder(ThreadingHTTPServer):
    """An Events API stand-in on 127.0.0.1 that stores each request and accepts it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.requests: list[tuple[str, dict[str, Any]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, body))
        reply = json.dumps({"status": "success", "message": "Event processed",
                             "dedup_key": body.get("dedup_key") or "generated"}).encode()
        self.send_response(202)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def trigger(tmp_path: Path, events: Recorder, *args: str) -> Result:
    config = tmp_path / "app-config.yaml"
    section = {"apiToken": "unused-token", "apiBaseUrl": events.url,
               "eventsBaseUrl": f"{events.url}/v2"}
    config.write_text(yaml.safe_dump({"pagerDuty": section}), encoding="utf-8")
    return CliRunner().invoke(main, ["--config", str(config), "pagerduty", "trigger", *args],
                              env={"NO_COLOR": "1"})


def test_trigger_body_has_every_field(tmp_path: Path) -> None:
    with recorder() as events:
        result = trigger(tmp_path, events, "--integration-key", ROUTING_KEY,
                         "--summary", "Checkout down", "--source", "ci-runner-7",
                         "--dedup-key", "deploy-42", "--details", '{"build": 42}', "--json")

    assert result.exit_code == 0, result.output
    [(path, body)] = events.requests
    assert path == "/v2/enqueue"
    assert body["event_action"] == "trigger"
    assert body["routing_key"] == ROUTING_KEY
    assert body["dedup_key"] == "deploy-42"
    assert body["payload"]["summary"] == "Checkout down"
    assert body["payload"]["source"] == "ci-runner-7"
    assert body["payload"]["severity"] == "error"
    assert body["payload"]["custom_details"] == {"build": 42}
    assert json.loads(result.stdout)["dedup_key"] == "deploy-42"


def test_trigger_defaults_source_to_entity_ref(tmp_path: Path) -> None:
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "payments", "namespace": "shop",
                     "annotations": {"pagerduty.com/integration-key": ROUTING_KEY}},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    path = tmp_path / "catalog-info.yaml"
    path.write_text(yaml.safe_dump(entity), encoding="utf-8")

    with recorder() as events:
        result = trigger(tmp_path, events, str(path), "--summary", "Disk full", "--json")

    assert result.exit_code == 0, result.output
    [(_, body)] = events.requests
    assert body["payload"]["source"] == "component:shop/payments"
    assert body["payload"]["severity"] == "error"
    assert "custom_details" not in body["payload"]
    assert body["dedup_key"]
    assert json.loads(result.stdout)["dedup_key"] == body["dedup_key"]
