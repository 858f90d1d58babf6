"""Handlers of the PagerDuty actions that read a service's state or trigger an incident.

Each finds its service by ``serviceId`` or ``integrationKey``, or by the annotations of the
entity in ``catalogInfoPath`` (a file or folder inside the workspace). The logic is in
:mod:`scaffolder.pagerduty.lookup`, :mod:`scaffolder.pagerduty.reads` and
:mod:`scaffolder.pagerduty.events`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from scaffolder.context import ActionContext
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty import events as pd_events
from scaffolder.pagerduty import reads as pd_reads
from scaffolder.pagerduty.lookup import FoundService, ServiceTarget, find_service, target_for
from scaffolder.pathsafety import safe_join


def _pagerduty(ctx: ActionContext) -> PagerDuty:
    pagerduty: PagerDuty = ctx.pagerduty
    return pagerduty


def _optional(ctx: ActionContext, name: str) -> str | None:
    value = ctx.input.get(name)
    return str(value) if value not in (None, "") else None


def _target(ctx: ActionContext) -> ServiceTarget:
    relative = _optional(ctx, "catalogInfoPath")
    path = safe_join(ctx.workspace, relative, what="catalogInfoPath") if relative else None
    service_id = _optional(ctx, "serviceId")
    integration_key = _optional(ctx, "integrationKey")
    if path is None and not service_id and not integration_key:
        path = ctx.workspace
    return target_for(
        path=path,
        entity=_optional(ctx, "entity"),
        service_id=service_id,
        integration_key=integration_key,
        account=_optional(ctx, "account"),
    )


def _service(ctx: ActionContext) -> FoundService:
    return find_service(_pagerduty(ctx), _target(ctx))


def list_oncall(ctx: ActionContext) -> None:
    """``pagerduty:oncall:list``: who is on call now at the first escalation level."""
    found = _service(ctx)
    policy_id = found.escalation_policy_id
    client = _pagerduty(ctx).client(found.account.id)
    oncalls = pd_reads.lowest_level_oncalls(client, [policy_id] if policy_id else [])
    users = [pd_reads.oncall_summary(oncall) for oncall in oncalls]
    ctx.logger.info(
        "%d user(s) on call for PagerDuty service %s on account %r",
        len(users),
        found.id,
        found.account.id,
    )
    ctx.output("users", users)
    ctx.output("serviceId", found.id)
    ctx.output("escalationPolicyId", policy_id or "")
    ctx.output("account", found.account.id)


def list_incidents(ctx: ActionContext) -> None:
    """``pagerduty:incidents:list``: the service's triggered and acknowledged incidents."""
    found = _service(ctx)
    client = _pagerduty(ctx).client(found.account.id)
    incidents = [
        pd_reads.incident_summary(item) for item in pd_reads.list_open_incidents(client, found.id)
    ]
    ctx.output("incidents", incidents)
    ctx.output("serviceId", found.id)
    ctx.output("account", found.account.id)


def list_change_events(ctx: ActionContext) -> None:
    """``pagerduty:change-events:list``: the service's most recent change events."""
    found = _service(ctx)
    client = _pagerduty(ctx).client(found.account.id)
    limit = int(ctx.input.get("limit") or pd_reads.DEFAULT_CHANGE_EVENTS)
    events = pd_reads.list_change_events(client, found.id, limit)
    ctx.output("changeEvents", [pd_reads.change_event_summary(item) for item in events])
    ctx.output("serviceId", found.id)
    ctx.output("account", found.account.id)


def trigger_incident(ctx: ActionContext) -> None:
    """``pagerduty:incident:trigger``: send an Events API v2 trigger to the service.

    The dedup key is fixed in a checkpoint before the event is sent, so a resumed task sends
    the same key again and PagerDuty adds the repeat to the same incident.
    """
    target = _target(ctx)
    given_key = _optional(ctx, "dedupKey")
    details = ctx.input.get("customDetails")
    trigger = pd_events.Trigger(
        summary=str(ctx.input["summary"]),
        severity=str(ctx.input.get("severity") or pd_events.DEFAULT_SEVERITY),
        source=_optional(ctx, "source"),
        dedup_key=given_key,
        custom_details=details if isinstance(details, dict) else None,
    )
    pd = _pagerduty(ctx)
    if ctx.dry_run:
        answer = pd_events.trigger_incident(pd, target, trigger, dry_run=True)
    else:
        dedup_key = given_key or ctx.checkpoint("dedup-key", pd_events.new_dedup_key)
        keyed = dataclasses.replace(trigger, dedup_key=dedup_key)

        def send() -> dict[str, Any]:
            return pd_events.trigger_incident(pd, target, keyed)

        answer = ctx.checkpoint("trigger", send)
        ctx.logger.info(
            "PagerDuty incident triggered on account %r with dedup key %s",
            answer["account"],
            answer["dedup_key"],
        )
    ctx.output("dedupKey", answer["dedup_key"])
    ctx.output("account", answer["account"])
    ctx.output("serviceId", answer["service_id"] or "")
