"""Handlers of the ``pagerduty:*`` actions.

The PagerDuty logic they call is in :mod:`scaffolder.pagerduty.services`.
"""

from __future__ import annotations

from typing import Any

from scaffolder.context import ActionContext
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty import services as pd_services


def _pagerduty(ctx: ActionContext) -> PagerDuty:
    pagerduty: PagerDuty = ctx.pagerduty
    return pagerduty


def _optional(ctx: ActionContext, name: str) -> str | None:
    value = ctx.input.get(name)
    return str(value) if value not in (None, "") else None


def _emit(ctx: ActionContext, outputs: dict[str, Any]) -> None:
    for name, value in outputs.items():
        ctx.output(name, value)


def create_service(ctx: ActionContext) -> None:
    """``pagerduty:service:create``: create or reuse a service and its Backstage integration."""
    spec = pd_services.ServiceSpec(
        name=str(ctx.input["name"]),
        description=str(ctx.input.get("description") or ""),
        escalation_policy_id=str(ctx.input["escalationPolicyId"]),
        alert_grouping=_optional(ctx, "alertGrouping"),
        account=_optional(ctx, "account"),
        on_existing=str(ctx.input.get("onExisting") or "reuse"),
    )
    outputs = pd_services.create_service(
        _pagerduty(ctx), spec, checkpoint=ctx.checkpoint, dry_run=ctx.dry_run, log=ctx.logger
    )
    verb = "created" if outputs["created"] else "reused"
    if ctx.dry_run:
        ctx.logger.info("dry run: PagerDuty service %r would be %s on account %r",
                        spec.name, verb, outputs["account"])
    else:
        ctx.logger.info("PagerDuty service %r %s on account %r (id %s)",
                        spec.name, verb, outputs["account"], outputs["serviceId"])
    _emit(ctx, outputs)


def create_integration(ctx: ActionContext) -> None:
    """``pagerduty:integration:create``: ensure a service has one integration of a vendor."""
    outputs = pd_services.create_integration(
        _pagerduty(ctx),
        service_id=str(ctx.input["serviceId"]),
        vendor=str(ctx.input["vendor"]),
        name=_optional(ctx, "name"),
        account_id=_optional(ctx, "account"),
        checkpoint=ctx.checkpoint,
        dry_run=ctx.dry_run,
        log=ctx.logger,
    )
    _emit(ctx, outputs)


def get_service(ctx: ActionContext) -> None:
    """``pagerduty:service:get``: find a service by id or by the exact integration key."""
    outputs = pd_services.get_service(
        _pagerduty(ctx),
        service_id=_optional(ctx, "serviceId"),
        integration_key=_optional(ctx, "integrationKey"),
        account_id=_optional(ctx, "account"),
    )
    _emit(ctx, outputs)


def list_abilities(ctx: ActionContext) -> None:
    """``pagerduty:abilities:list``: the abilities of an account."""
    client = _pagerduty(ctx).client(_optional(ctx, "account"))
    ctx.output("abilities", pd_services.list_abilities(client))


def check_ability(ctx: ActionContext) -> None:
    """``pagerduty:ability:check``: whether an account has one ability."""
    client = _pagerduty(ctx).client(_optional(ctx, "account"))
    ctx.output("available", pd_services.has_ability(client, str(ctx.input["ability"])))


def list_vendors(ctx: ActionContext) -> None:
    """``pagerduty:vendors:list``: vendors, optionally filtered by name."""
    client = _pagerduty(ctx).client(_optional(ctx, "account"))
    ctx.output("vendors", pd_services.list_vendors(client, _optional(ctx, "name")))


def list_escalation_policies(ctx: ActionContext) -> None:
    """``pagerduty:escalation-policies:list``: escalation policies of every account."""
    ctx.output("escalationPolicies", pd_services.list_escalation_policies(_pagerduty(ctx)))
