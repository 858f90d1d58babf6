"""The PagerDuty REST API client: authentication, error translation, retries, paging.

One :class:`PagerDutyClient` serves one account and is safe to share between threads.
Idempotent requests (GET, PUT, DELETE) are retried on 429, 5xx, timeouts and connection errors
with capped exponential backoff and jitter, all within one time budget. A write that is not
idempotent (a POST that creates something) is retried only when PagerDuty cannot have processed
it (429, or a connection that never opened); otherwise it raises
:class:`PagerDutyUncertainWrite` so that the caller looks the object up before trying again.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from scaffolder.errors import PagerDutyError
from scaffolder.pagerduty.accounts import DEFAULT_RETRY_BUDGET, Account
from scaffolder.pagerduty.oauth import (
    OAuthToken,
    TokenCache,
    parse_token_response,
    token_request_form,
)
from scaffolder.redact import GLOBAL_REDACTOR, Redactor

logger = logging.getLogger("scaffolder.pagerduty")

ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_LIMIT = 100
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})

REQUIRED_SCOPES: dict[tuple[str, str], str] = {
    ("GET", "/abilities"): "abilities.read",
    ("GET", "/abilities/{id}"): "abilities.read",
    ("GET", "/escalation_policies"): "escalation_policies.read",
    ("GET", "/escalation_policies/{id}"): "escalation_policies.read",
    ("GET", "/services"): "services.read",
    ("POST", "/services"): "services.write",
    ("GET", "/services/{id}"): "services.read",
    ("POST", "/services/{id}/integrations"): "services.write",
    ("GET", "/services/{id}/integrations/{integration_id}"): "services.read",
    ("GET", "/vendors"): "vendors.read",
    ("GET", "/vendors/{id}"): "vendors.read",
    ("GET", "/service_dependencies/technical_services/{id}"): "services.read",
    ("POST", "/service_dependencies/associate"): "services.write",
    ("POST", "/service_dependencies/disassociate"): "services.write",
    ("GET", "/oncalls"): "oncalls.read",
    ("GET", "/incidents"): "incidents.read",
    ("GET", "/services/{id}/change_events"): "services.read",
    ("GET", "/standards/scores/{resource_type}/{id}"): "standards.read",
    ("POST", "/analytics/metrics/incidents/services"): "analytics.write",
}
"""OAuth scope of each operation the scaffolder uses, from the ``x-pd-requires-scope`` field of
PagerDuty's REST API OpenAPI document."""

READ_ONLY_POSTS = frozenset({"/analytics/metrics/incidents/services"})
"""POST routes that only read (PagerDuty's analytics queries): allowed on a read-only account."""

ALL_SCOPES = frozenset(REQUIRED_SCOPES.values())
# analytics.write is what PagerDuty requires for its analytics queries, which only read.
READ_SCOPES = frozenset(
    scope for scope in ALL_SCOPES if scope.endswith(".read") or scope == "analytics.write"
)

_SCOPE_IN_TEXT = re.compile(r"\b([a-z_]+\.(?:read|write))\b")
_ROUTES = [
    (re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$"), template)
    for template in sorted({template for _, template in REQUIRED_SCOPES}, key=len, reverse=True)
]


def route_template(path: str) -> str:
    """Return the route template of ``path`` (``/services/P1/integrations`` gives
    ``/services/{id}/integrations``), or ``path`` itself when no known route matches."""
    for pattern, template in _ROUTES:
        if pattern.match(path):
            return template
    return path


def required_scope(method: str, path: str) -> str | None:
    """Return the OAuth scope that ``method path`` needs, when the table knows it."""
    return REQUIRED_SCOPES.get((method.upper(), route_template(path)))


class PagerDutyUncertainWrite(PagerDutyError):
    """A write may or may not have been applied (5xx, timeout or dropped connection).

    The caller must look the object up before trying again; repeating the request blindly
    could create a duplicate.
    """


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry: ``budget`` covers every attempt and wait of a request."""

    budget: float = DEFAULT_RETRY_BUDGET
    timeout: float = 30.0
    base_delay: float = 0.5
    max_delay: float = 8.0

    def backoff(self, attempt: int) -> float:
        """Return the wait before attempt ``attempt + 1``: exponential, capped, half-jittered."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class _Call:
    method: str
    url: str
    path: str
    idempotent: bool
    deadline: float
    params: Mapping[str, Any] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    authenticated: bool = True
    attempt: int = 0
    renewed_token: bool = False
    token: str | None = field(default=None, repr=False)


class PagerDutyClient:
    """REST API client of one PagerDuty account."""

    def __init__(
        self,
        account: Account,
        *,
        redactor: Redactor = GLOBAL_REDACTOR,
        retry: RetryPolicy | None = None,
        read_only: bool = False,
        scopes: Iterable[str] = ALL_SCOPES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account = account
        self.read_only = read_only
        self.scopes = frozenset(scopes)
        self._redactor = redactor
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=account.api_base_url,
            headers={"Accept": ACCEPT, "Content-Type": "application/json"},
            follow_redirects=False,
        )
        self._close_lock = threading.Lock()
        redactor.add(account.api_token)
        self._tokens: TokenCache | None = None
        if account.oauth is not None:
            redactor.add(account.oauth.client_secret)
            self._tokens = TokenCache(self._fetch_token, clock=clock)

    # Public API

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any, *, idempotent: bool = False) -> dict[str, Any]:
        return self.request("POST", path, json=json, idempotent=idempotent)

    def put(self, path: str, json: Any) -> dict[str, Any]:
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> dict[str, Any]:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Send one API request, retrying as the method allows, and return its JSON body.

        Raises :class:`PagerDutyError` for an error response, a malformed body or a spent
        retry budget, and :class:`PagerDutyUncertainWrite` when a non-idempotent write may
        have been applied.
        """
        method = method.upper()
        if self.read_only and method not in ("GET", "HEAD") and path not in READ_ONLY_POSTS:
            raise PagerDutyError(
                f"PagerDuty account {self.account.id!r} is read-only (pagerDuty.readOnly: true), "
                f"so {method} {path} was not sent",
                account=self.account.id,
                method=method,
                path=path,
                hint="remove readOnly from the pagerDuty configuration, or use --dry-run",
            )
        call = _Call(
            method=method,
            url=path,
            path=path,
            idempotent=method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
            deadline=self._clock() + self._retry.budget,
            params=params,
            json=json,
        )
        return self._run(call)

    def list_all(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Return every item of the list ``key`` of ``path``, following ``more`` page by page."""
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.get(path, {**(params or {}), "limit": PAGE_LIMIT, "offset": offset})
            batch = page.get(key)
            if not isinstance(batch, list):
                raise self._malformed(path, "GET", 200, f"the body has no {key!r} list")
            items.extend(batch)
            if not page.get("more") or not batch:
                return items
            offset += len(batch)

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        """Scopes granted with the current OAuth token; None for an API token or before one."""
        return self._tokens.granted_scopes if self._tokens else None

    @property
    def token_fetch_count(self) -> int:
        return self._tokens.fetch_count if self._tokens else 0

    def authenticate(self) -> None:
        """Fetch an OAuth token now, if the account uses OAuth and has none."""
        if self._tokens is not None:
            self._tokens.get()

    def close(self) -> None:
        with self._close_lock:
            self._http.close()

    # The request loop

    def _run(self, call: _Call) -> dict[str, Any]:
        while True:
            call.attempt += 1
            try:
                response = self._send(call)
            except httpx.TransportError as exc:
                self._after_transport_error(call, exc)
                continue

            self._log(call, response.status_code)
            if self._should_retry(call, response):
                continue
            return self._parse_body(call, response)

    def _send(self, call: _Call) -> httpx.Response:
        remaining = call.deadline - self._clock()
        timeout = max(0.05, min(self._retry.timeout, remaining))
        headers = self._auth_headers(call)
        return self._http.request(
            call.method,
            call.url,
            params=call.params,
            json=call.json,
            data=call.form,
            headers=headers,
            timeout=timeout,
        )

    def _auth_headers(self, call: _Call) -> dict[str, str]:
        if not call.authenticated:
            return {"Content-Type": "application/x-www-form-urlencoded"}
        if self.account.api_token:
            return {"Authorization": f"Token token={self.account.api_token}"}
        assert self._tokens is not None
        call.token = self._tokens.get()
        return {"Authorization": f"Bearer {call.token}"}

    def _should_retry(self, call: _Call, response: httpx.Response) -> bool:
        status = response.status_code
        if status == 401 and call.token is not None and not call.renewed_token:
            assert self._tokens is not None
            call.renewed_token = True
            self._tokens.invalidate(call.token)
            logger.debug(
                "PagerDuty rejected the OAuth token of account %r; renewing it", self.account.id
            )
            return True

        if status == 429:
            delay = _rate_limit_reset(response)
            self._wait(
                call,
                delay if delay is not None else self._retry.backoff(call.attempt),
                "429 Too Many Requests",
            )
            return True

        if status >= 500:
            error = self._error(call, response)
            if not call.idempotent:
                raise self._uncertain(call, error.message)
            self._wait(call, self._retry.backoff(call.attempt), error.message)
            return True

        if status >= 400:
            raise self._error(call, response)
        return False

    def _after_transport_error(self, call: _Call, exc: httpx.TransportError) -> None:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._log(call, reason)
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if not call.idempotent and not never_sent:
            raise self._uncertain(call, reason) from exc
        self._wait(call, self._retry.backoff(call.attempt), reason)

    def _wait(self, call: _Call, delay: float, reason: str) -> None:
        remaining = call.deadline - self._clock()
        if delay >= remaining:
            raise PagerDutyError(
                self._redactor.redact(
                    f"PagerDuty did not complete {call.method} {call.path} on account "
                    f"{self.account.id!r}: the retry budget of {self._retry.budget:g} s ran out "
                    f"after {call.attempt} attempt(s); last error: {reason}"
                ),
                account=self.account.id,
                method=call.method,
                path=call.path,
                hint="try again later, or raise pagerDuty.retryBudgetSeconds",
            )
        logger.debug(
            "retrying PagerDuty %s %s on account %r in %.2f s after attempt %d: %s",
            call.method,
            call.path,
            self.account.id,
            delay,
            call.attempt,
            self._redactor.redact(reason),
        )
        self._sleep(delay)

    def _log(self, call: _Call, outcome: int | str) -> None:
        logger.debug(
            "PagerDuty %s %s on account %r: %s (attempt %d)",
            call.method,
            call.path,
            self.account.id,
            outcome,
            call.attempt,
        )

    # Bodies and errors

    def _parse_body(self, call: _Call, response: httpx.Response) -> dict[str, Any]:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body

        error = self._malformed(call.path, call.method, response.status_code, "not a JSON object")
        if not call.idempotent and call.method != "GET":
            raise self._uncertain(call, error.message)
        raise error

    def _malformed(self, path: str, method: str, status: int, detail: str) -> PagerDutyError:
        return PagerDutyError(
            f"PagerDuty returned a malformed JSON body for {method} {path} on account "
            f"{self.account.id!r} (status {status}): {detail}",
            status=status,
            account=self.account.id,
            method=method,
            path=path,
        )

    def _uncertain(self, call: _Call, reason: str) -> PagerDutyUncertainWrite:
        return PagerDutyUncertainWrite(
            self._redactor.redact(
                f"PagerDuty may or may not have applied {call.method} {call.path} on account "
                f"{self.account.id!r}: {reason}"
            ),
            account=self.account.id,
            method=call.method,
            path=call.path,
        )

    def _error(self, call: _Call, response: httpx.Response) -> PagerDutyError:
        status = response.status_code
        code, pd_message, errors = _error_fields(response)
        message = f"PagerDuty rejected {call.method} {call.path} on account {self.account.id!r}: "
        message += f"{status} {pd_message or response.reason_phrase}"
        if code is not None:
            message += f" (code {code})"
        if errors:
            message += ": " + "; ".join(errors)

        hint = None
        if status == 403:
            message, hint = self._explain_forbidden(call, message, [pd_message or "", *errors])
        elif status == 401:
            hint = f"check the credentials of PagerDuty account {self.account.id!r}"
        elif status == 402:
            hint = "the account's plan lacks an ability; pagerduty:abilities:list lists them"

        return PagerDutyError(
            self._redactor.redact(message),
            status=status,
            code=code,
            pd_message=pd_message,
            errors=errors,
            account=self.account.id,
            method=call.method,
            path=call.path,
            hint=hint,
        )

    def _explain_forbidden(
        self, call: _Call, message: str, texts: list[str]
    ) -> tuple[str, str | None]:
        named = sorted({match for text in texts for match in _SCOPE_IN_TEXT.findall(text)})
        if named:
            scopes = ", ".join(repr(scope) for scope in named)
            return (
                f"{message}; missing OAuth scope {scopes}",
                f"grant {scopes} to the OAuth app of account {self.account.id!r}",
            )
        scope = required_scope(call.method, call.path)
        if self.account.oauth is not None and scope:
            return message, f"{call.method} {call.path} needs the OAuth scope {scope!r}"
        return message, "the API token's user may lack the permission for this request"

    # OAuth

    def _fetch_token(self) -> OAuthToken:
        oauth = self.account.oauth
        assert oauth is not None
        call = _Call(
            method="POST",
            url=oauth.token_url,
            path=httpx.URL(oauth.token_url).path,
            idempotent=True,
            deadline=self._clock() + self._retry.budget,
            form=token_request_form(oauth, self.scopes),
            authenticated=False,
        )
        body = self._run(call)
        try:
            token = parse_token_response(body, self._clock())
        except ValueError as exc:
            raise self._malformed(call.path, call.method, 200, str(exc)) from exc
        self._redactor.add(token.access_token)
        return token


def _rate_limit_reset(response: httpx.Response) -> float | None:
    value = response.headers.get("ratelimit-reset")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_fields(response: httpx.Response) -> tuple[int | None, str | None, list[str]]:
    """Read PagerDuty's ``{"error": {code, message, errors}}`` or an OAuth error body."""
    try:
        body = response.json()
    except ValueError:
        return None, None, []
    if not isinstance(body, dict):
        return None, None, []

    error = body.get("error")
    if isinstance(error, str):
        description = body.get("error_description")
        return None, error, [str(description)] if description else []
    if not isinstance(error, dict):
        return None, None, []

    code = error.get("code")
    errors = error.get("errors")
    return (
        code if isinstance(code, int) else None,
        str(error["message"]) if error.get("message") is not None else None,
        [str(item) for item in errors] if isinstance(errors, list) else [],
    )
