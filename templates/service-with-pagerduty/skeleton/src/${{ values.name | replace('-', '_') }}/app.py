"""HTTP entry point of ${{ values.name }}: a WSGI application with a health check."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

SERVICE_NAME = ${{ values.name | dump }}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _json_response(start_response: StartResponse, status: str, body: object) -> list[bytes]:
    payload = json.dumps(body).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    start_response(status, headers)
    return [payload]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Serve GET /healthz with the service status and GET / with the service name."""
    path = environ.get("PATH_INFO") or "/"
    if environ.get("REQUEST_METHOD", "GET") != "GET":
        return _json_response(start_response, "405 Method Not Allowed", {"error": "use GET"})
    if path == "/healthz":
        return _json_response(start_response, "200 OK", {"status": "ok"})
    if path == "/":
        return _json_response(start_response, "200 OK", {"service": SERVICE_NAME})
    return _json_response(start_response, "404 Not Found", {"error": f"no route {path}"})


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    with make_server(host, port, app) as server:
        print(f"{SERVICE_NAME} listening on http://{host}:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
