"""Triggering an incident through PagerDuty's Events API v2.

A trigger goes to ``{events_base_url}/enqueue`` of the service's account, with the service's
integration key as ``routing_key``; the Events API takes no ``Authorization`` header.

Every trigger carries a ``dedup_key``: the caller's, or a new UUID4 when the caller gives
none. PagerDuty adds a trigger whose ``dedup_key`` matches an open incident of the service to
that incident instead of opening a new one, so sending the same trigger again is safe. That is
what lets :func:`send_trigger` retry after a 5xx, a timeout or a dropped connection, whose
outcome is unknown, and not only after a 429, which PagerDuty sends before accepting anything.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from scaffolder.errors import InputError, PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.accounts import Account
from scaffolder.pagerduty.client import RetryPolicy
from scaffolder.pagerduty.lookup import ServiceTarget, find_service, mask_key, resolve_account

logger = logging.getLogger("scaffolder.pagerduty.events")

SEVERITIES = ("critical", "error", "warning", "info")
DEFAULT_SEVERITY = "error"
DEFAULT_SOURCE = "scaffold"
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
DRY_RUN_DEDUP_KEY = "(dry run: assigned when the task runs)"


@dataclass(frozen=True)
class Trigger:
    """The payload of a trigger event, without its routing key.

    ``source`` None means the entity ref of the target, or ``scaffold`` without an entity.
    """

    summary: str
    severity: str = DEFAULT_SEVERITY
    source: str | None = None
    dedup_key: str | None = None
    custom_details: Mapping[str, Any] | None = None

    def check(self) -> None:
        """Raise :class:`InputError` for a payload that the Events API would reject."""
        if not self.summary.strip():
            raise InputError("the incident summary is empty", hint="pass --summary TEXT")
        if len(self.summary) > MAX_SUMMARY:
            raise InputError(
                f"the incident summary has {len(self.summary)} characters; the Events API "
                f"accepts at most {MAX_SUMMARY}",
                hint="shorten --summary and put the detail in --details",
            )
        if self.severity not in SEVERITIES:
            raise InputError(
                f"severity {self.severity!r} is invalid: use one of {', '.join(SEVERITIES)}"
            )
        if self.dedup_key is not None and not 0 < len(self.dedup_key) <= MAX_DEDUP_KEY:
            raise InputError(
                f"dedup key {self.dedup_key!r} must have 1 to {MAX_DEDUP_KEY} characters"
            )


def parse_details(text: str | None) -> dict[str, Any] | None:
    """Parse ``--details``: a JSON object, or None when ``text`` is None or empty."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InputError(f"--details is not valid JSON: {error}: {text!r}") from error
    if not isinstance(value, dict):
        raise InputError(
            f"--details must be a JSON object, got {type(value).__name__}: {text!r}",
            hint='for example --details \'{"region": "eu-west-1"}\'',
        )
    return value


def trigger_incident(
    pd: PagerDuty,
    target: ServiceTarget,
    trigger: Trigger,
    *,
    dry_run: bool = False,
    retry: RetryPolicy | None = None,
) -> dict[str, Any]:
    """Send a trigger to the service of ``target`` and return the Events API's response.

    The integration key is the target's own, or the key of the service's Backstage
    integration. In a dry run everything is checked and looked up but nothing is sent.
    Returns ``{dedup_key, account, service_id, status, message}``; ``service_id`` is None
    when the target named only an integration key.
    """
    trigger.check()
    if pd.read_only and not dry_run:
        raise PagerDutyError(
            "PagerDuty is read-only (pagerDuty.readOnly: true), so the incident was not "
            "triggered",
            hint="remove readOnly from the pagerDuty configuration to trigger incidents",
        )

    account = resolve_account(pd, target)
    service_id = target.service_id
    routing_key = target.integration_key
    if not routing_key:
        found = find_service(pd, target)
        service_id, routing_key = found.id, found.integration_key
        if not routing_key:
            raise PagerDutyError(
                f"PagerDuty service {found.id!r} on account {account.id!r} has no Backstage "
                "integration, so there is no integration key to send the event with",
                account=account.id,
                hint="add the pagerduty.com/integration-key annotation or pass "
                "--integration-key, or create the integration with pagerduty:integration:create",
            )

    source = trigger.source or target.entity_ref or DEFAULT_SOURCE
    if dry_run:
        logger.info(
            "dry run: would trigger an incident with key %s on account %r",
            mask_key(routing_key),
            account.id,
        )
        return {
            "dedup_key": trigger.dedup_key or DRY_RUN_DEDUP_KEY,
            "account": account.id,
            "service_id": service_id,
            "status": "dry run",
            "message": "not sent",
        }

    body = event_body(routing_key, trigger, source, trigger.dedup_key or new_dedup_key())
    retry = retry or pd.retry
    answer = send_trigger(account, body, retry=retry)
    return {**answer, "account": account.id, "service_id": service_id}


def new_dedup_key() -> str:
    return uuid.uuid4().hex


def event_body(
    routing_key: str, trigger: Trigger, source: str, dedup_key: str
) -> dict[str, Any]:
    """Return the Events API v2 body of a trigger."""
    payload: dict[str, Any] = {
        "summary": trigger.summary,
        "severity": trigger.severity,
        "source": source,
    }
    if trigger.custom_details:
        payload["custom_details"] = dict(trigger.custom_details)
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": payload,
    }


@dataclass
class _Attempts:
    deadline: float
    count: int = 0


def send_trigger(
    account: Account,
    body: dict[str, Any],
    *,
    retry: RetryPolicy,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """POST ``body`` (which must carry a ``dedup_key``) to the account's Events API.

    Retries 429, 5xx, timeouts and connection errors within ``retry.budget`` seconds.
    Returns ``{dedup_key, status, message}``. Raises :class:`PagerDutyError` for a rejected
    event (status 400) or when the budget runs out.
    """
    if not body.get("dedup_key"):
        raise ValueError("a trigger without dedup_key cannot be retried safely")
    url = f"{account.events_base_url}/enqueue"
    masked = mask_key(str(body["routing_key"]))
    attempts = _Attempts(deadline=clock() + retry.budget)
    with httpx.Client(follow_redirects=False) as http:
        while True:
            attempts.count += 1
            timeout = max(0.05, min(retry.timeout, attempts.deadline - clock()))
            try:
                response = http.post(url, json=body, timeout=timeout)
            except httpx.TransportError as error:
                reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                delay = retry.backoff(attempts.count)
            else:
                logger.debug(
                    "Events API trigger with key %s on account %r: %d (attempt %d)",
                    masked,
                    account.id,
                    response.status_code,
                    attempts.count,
                )
                if response.status_code < 400:
                    return _accepted(response, body)
                if response.status_code != 429 and response.status_code < 500:
                    raise _rejected(account, response, masked)
                reason = f"{response.status_code} {response.reason_phrase}"
                delay = _reset_delay(response) or retry.backoff(attempts.count)
            _wait(account, attempts, delay, reason, masked, clock, sleep, retry)


def _wait(
    account: Account,
    attempts: _Attempts,
    delay: float,
    reason: str,
    masked: str,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    retry: RetryPolicy,
) -> None:
    if delay >= attempts.deadline - clock():
        raise PagerDutyError(
            f"PagerDuty's Events API did not accept the trigger with key {masked} on account "
            f"{account.id!r}: the retry budget of {retry.budget:g} s ran out after "
            f"{attempts.count} attempt(s); last error: {reason}",
            account=account.id,
            method="POST",
            path="/enqueue",
            hint="try again later with the same --dedup-key; PagerDuty adds a repeat to the "
            "same incident",
        )
    logger.warning(
        "retrying the Events API trigger with key %s on account %r in %.2f s after attempt "
        "%d: %s",
        masked,
        account.id,
        delay,
        attempts.count,
        reason,
    )
    sleep(delay)


def _reset_delay(response: httpx.Response) -> float | None:
    value = response.headers.get("ratelimit-reset")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _accepted(response: httpx.Response, body: dict[str, Any]) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    return {
        "dedup_key": str(answer.get("dedup_key") or body["dedup_key"]),
        "status": str(answer.get("status") or "success"),
        "message": str(answer.get("message") or ""),
    }


def _rejected(account: Account, response: httpx.Response, masked: str) -> PagerDutyError:
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    answer = answer if isinstance(answer, dict) else {}
    errors = [str(item) for item in answer.get("errors") or []]
    message = str(answer.get("message") or response.reason_phrase)
    text = (
        f"PagerDuty's Events API rejected the trigger with key {masked} on account "
        f"{account.id!r}: {response.status_code} {message}"
    )
    if errors:
        text += ": " + "; ".join(errors)
    hint = None
    if any("routing key" in item.lower() for item in errors):
        hint = (
            "check the integration key and that its service is on account "
            f"{account.id!r} (pagerduty.com/account)"
        )
    return PagerDutyError(
        text,
        status=response.status_code,
        pd_message=message,
        errors=errors,
        account=account.id,
        method="POST",
        path="/enqueue",
        hint=hint,
    )
