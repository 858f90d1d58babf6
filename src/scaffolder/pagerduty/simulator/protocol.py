"""Requests, replies, routes and PagerDuty's error and pagination conventions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from scaffolder.pagerduty.simulator.render import JSON, Renderer
from scaffolder.pagerduty.simulator.state import State

DEFAULT_LIMIT = 25
MAX_LIMIT = 100

# PagerDuty's error codes for the cases the simulator produces.
CODE_INVALID_INPUT = 2001
CODE_AUTHENTICATION = 2006
CODE_ACCESS_DENIED = 2010
# NOTE: the code PagerDuty sends with 402 is not documented in its OpenAPI file; 2014 is a guess.
CODE_ABILITY = 2014
CODE_RATE_LIMIT = 2020
CODE_NOT_FOUND = 2100


@dataclass
class Request:
    """One HTTP request as the route handlers see it, with the path parameters in ``params``."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def args(self, name: str) -> list[str]:
        """Return the values of an array parameter, sent as ``name[]`` or ``name``."""
        return self.query.get(f"{name}[]", []) + self.query.get(name, [])

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() == "true"

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as error:
            raise invalid_input(f"Request body is not valid JSON: {error}") from error

    def json_object(self, key: str) -> dict[str, Any]:
        """Return ``body[key]``, the wrapped object of a create or update request."""
        body = self.json()
        if not isinstance(body, dict) or not isinstance(body.get(key), dict):
            raise invalid_input(f"{key.capitalize()} must be present as a JSON object")
        return body[key]  # type: ignore[no-any-return]

    def form(self) -> dict[str, str]:
        pairs = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in pairs.items()}


@dataclass
class Reply:
    """A response to send: a JSON ``body`` (``None`` for no content) or ``raw`` bytes."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"


class ApiError(Exception):
    """An error response that a route handler raises instead of returning a reply."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body!r}")
        self.reply = Reply(status, body, headers or {})


def pd_error(status: int, message: str, code: int, errors: list[str] | None = None) -> ApiError:
    """Return PagerDuty's REST error: ``{"error": {"message", "code", "errors"}}``."""
    error: JSON = {"message": message, "code": code}
    if errors is not None:
        error["errors"] = errors
    return ApiError(status, {"error": error})


def invalid_input(*errors: str) -> ApiError:
    return pd_error(400, "Invalid Input Provided", CODE_INVALID_INPUT, list(errors))


def not_found(kind: str, object_id: str) -> ApiError:
    return pd_error(404, "Not Found", CODE_NOT_FOUND, [f"{kind} {object_id!r} not found"])


@dataclass(frozen=True)
class Call:
    """The input of a route handler: the request, the account's state and its renderer."""

    request: Request
    state: State
    render: Renderer


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Route:
    """One operation: ``key`` is ``METHOD /template`` as in the OpenAPI file.

    ``scope`` is the OAuth scope the operation requires (``x-pd-requires-scope``); ``None``
    means no REST authentication (the Events API and the token endpoint).
    """

    method: str
    template: str
    scope: str | None
    handler: Handler

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = _pattern(self.template).fullmatch(path)
        return found.groupdict() if found else None


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)))


def paginate(request: Request, items: list[JSON], key: str) -> Reply:
    """Return one page of ``items`` under ``key``, with ``limit``, ``offset``, ``more``, ``total``.

    ``limit`` defaults to 25 and is capped at 100; ``total`` is counted only when the request
    sends ``total=true``, as PagerDuty does.
    """
    limit = _int_arg(request, "limit", DEFAULT_LIMIT, minimum=1)
    limit = min(limit, MAX_LIMIT)
    offset = _int_arg(request, "offset", 0, minimum=0)
    page = items[offset : offset + limit]
    return Reply(
        200,
        {
            key: page,
            "limit": limit,
            "offset": offset,
            "more": offset + len(page) < len(items),
            "total": len(items) if request.flag("total") else None,
        },
    )


def _int_arg(request: Request, name: str, default: int, *, minimum: int) -> int:
    text = request.arg(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid_input(f"{name} must be an integer, got {text!r}") from None
    if value < minimum:
        raise invalid_input(f"{name} must be {minimum} or more, got {value}")
    return value


def includes(request: Request) -> set[str]:
    return set(request.args("include"))
