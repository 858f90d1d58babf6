from __future__ import annotations

import json
from typing import Any
from wsgiref.util import setup_testing_defaults

from ${{ values.name | replace('-', '_') }}.app import SERVICE_NAME, app


def call(path: str, method: str = "GET") -> tuple[str, Any]:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method}
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    body = b"".join(app(environ, start_response))
    return statuses[0], json.loads(body)


def test_healthz_ok() -> None:
    assert call("/healthz") == ("200 OK", {"status": "ok"})


def test_root_names_service() -> None:
    assert call("/") == ("200 OK", {"service": SERVICE_NAME})


def test_unknown_path_not_found() -> None:
    status, _ = call("/missing")
    assert status == "404 Not Found"


def test_post_not_allowed() -> None:
    status, _ = call("/healthz", method="POST")
    assert status == "405 Method Not Allowed"
