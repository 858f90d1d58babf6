"""Backstage's error body, the exception handlers that produce it, and the request size limit.

Every error response reads ``{error: {name, message}, request: {method, url}, response:
{statusCode}}``, as Backstage's ``errorHandler`` middleware writes it, so Backstage clients
show the message.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scaffolder.errors import InputError, ScaffolderError
from scaffolder.redact import GLOBAL_REDACTOR

logger = logging.getLogger("scaffolder.bridge.http")

_STATUS_NAMES = {
    400: "InputError",
    401: "AuthenticationError",
    403: "NotAllowedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
}


class HttpError(Exception):
    """An error response: status, Backstage error name and message, optional extra fields."""

    def __init__(
        self, status: int, name: str, message: str, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message
        self.extra = extra or {}


class RequestTooLarge(StarletteHTTPException):
    """A request body over the limit.

    It is an HTTPException so that FastAPI passes it through its body parsing unchanged
    instead of turning it into a 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than the limit of {limit} bytes "
                              "(scaffolder.maxRequestBytes)")


def error_body(request_method: str, request_url: str, status: int, name: str,
               message: str) -> dict[str, Any]:
    return {
        "error": {"name": name, "message": GLOBAL_REDACTOR.redact(message)},
        "request": {"method": request_method, "url": GLOBAL_REDACTOR.redact(request_url)},
        "response": {"statusCode": status},
    }


def _request_url(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def error_response(request: Request, status: int, name: str, message: str,
                   extra: dict[str, Any] | None = None) -> JSONResponse:
    body = error_body(request.method, _request_url(request), status, name, message)
    body.update(extra or {})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _handle_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HttpError)
    return error_response(request, error.status, error.name, error.message, error.extra)


async def _handle_starlette(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    name = _STATUS_NAMES.get(error.status_code, "Error")
    return error_response(request, error.status_code, name, str(error.detail))


async def _handle_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = []
    for item in error.errors()[:5]:
        location = ".".join(str(part) for part in item.get("loc", ()))
        problems.append(f"{location}: {item.get('msg', 'invalid')}")
    return error_response(request, 400, "InputError", "invalid request: " + "; ".join(problems))


async def _handle_scaffolder(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ScaffolderError)
    status = 400 if isinstance(error, InputError) else 422
    message = error.message + (f" ({error.hint})" if error.hint else "")
    return error_response(request, status, type(error).__name__, message)


async def _handle_unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error("internal error on %s %s: %s", request.method, request.url.path,
                 type(error).__name__, exc_info=error)
    return error_response(request, 500, "InternalError",
                          "internal error of the bridge; see its log for details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HttpError, _handle_http_error)
    app.add_exception_handler(StarletteHTTPException, _handle_starlette)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(ScaffolderError, _handle_scaffolder)
    app.add_exception_handler(Exception, _handle_unexpected)


class BodyLimitMiddleware:
    """Answer 413 to a request body over ``limit`` bytes.

    A declared ``Content-Length`` over the limit is rejected before the body is read; a body
    without one (chunked) is counted as it streams in. Starlette's own limit middleware
    answers in plain text, and Backstage clients expect the JSON error body.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._reject(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise RequestTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = error_response(request, 413, "PayloadTooLargeError",
                                  str(RequestTooLarge(self.limit).detail))
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
