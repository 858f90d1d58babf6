"""Finding the PagerDuty service of a catalog entity, or of a service id or integration key.

An entity names its service with the ``pagerduty.com/service-id`` or
``pagerduty.com/integration-key`` annotation, and ``pagerduty.com/account`` selects the
configured account, as in PagerDuty's Backstage plugin. Without an account annotation the
default account is used. Ids given on the command line or as action input take the place of
the annotations; ``--account`` takes the place of the account annotation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from scaffolder.catalog import (
    ANNOTATION_INTEGRATION_KEY,
    ANNOTATION_SERVICE_ID,
    find_entity,
    pagerduty_annotations,
)
from scaffolder.errors import InputError, PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.accounts import Account
from scaffolder.pagerduty.client import PagerDutyClient

logger = logging.getLogger("scaffolder.pagerduty.lookup")

BACKSTAGE_VENDOR_ID = "PRO19CT"
SERVICE_INCLUDES = ["integrations", "escalation_policies"]


@dataclass(frozen=True)
class ServiceTarget:
    """Which service to find: by id or by integration key, in which account, for which entity.

    ``account`` is None for the default account. ``origin`` names where the account came from
    (``--account``, the annotation), for error messages.
    """

    service_id: str | None = None
    integration_key: str | None = None
    account: str | None = None
    entity_ref: str | None = None
    origin: str = "the account option"


@dataclass(frozen=True)
class FoundService:
    """A service as PagerDuty returned it (with integrations and escalation policy).

    ``integration_key`` is the key that routes events to the service: the one the target named,
    else the key of the service's Backstage integration, else None.
    """

    account: Account
    service: dict[str, Any]
    integration_key: str | None
    entity_ref: str | None = None

    @property
    def id(self) -> str:
        return str(self.service["id"])

    @property
    def escalation_policy_id(self) -> str | None:
        policy = self.service.get("escalation_policy") or {}
        return str(policy["id"]) if policy.get("id") else None

    def summary(self) -> dict[str, Any]:
        """Return ``{id, name, html_url, escalation_policy, integration_key, account, status}``."""
        policy = self.service.get("escalation_policy") or {}
        return {
            "id": self.id,
            "name": str(self.service.get("name") or ""),
            "html_url": str(self.service.get("html_url") or ""),
            "escalation_policy": {
                "id": str(policy.get("id") or ""),
                "name": str(policy.get("name") or policy.get("summary") or ""),
            },
            "integration_key": self.integration_key,
            "account": self.account.id,
            "status": str(self.service.get("status") or ""),
        }


def mask_key(key: str) -> str:
    """Return a routing or integration key with only its first and last four characters."""
    if len(key) <= 8:
        return "…"
    return f"{key[:4]}…{key[-4:]}"


def target_for(
    *,
    path: Path | None = None,
    entity: str | None = None,
    service_id: str | None = None,
    integration_key: str | None = None,
    account: str | None = None,
) -> ServiceTarget:
    """Return the service target of the options of a command or the inputs of an action.

    ``service_id`` or ``integration_key`` name the service directly. Otherwise the entity
    ``entity`` (a name or ref, optional when there is one) of ``path`` (a catalog-info.yaml or
    a folder, the current folder when None) names it by its annotations. Raises
    :class:`InputError` for conflicting options or an entity without PagerDuty annotations.
    """
    if service_id and integration_key:
        raise InputError(
            "give either a service id or an integration key, not both",
            hint="--service-id looks the service up by id, --integration-key by its key",
        )
    if service_id or integration_key:
        entity_ref = None
        if path is not None or entity is not None:
            entity_ref = str(find_entity(path or Path("."), entity).ref)
        return ServiceTarget(service_id, integration_key, account, entity_ref)
    return _entity_target(path or Path("."), entity, account)


def _entity_target(path: Path, selector: str | None, account: str | None) -> ServiceTarget:
    document = find_entity(path, selector)
    annotations = pagerduty_annotations(document)
    if not annotations.service_id and not annotations.integration_key:
        raise InputError(
            f"entity {str(document.ref)!r} ({document.location()}) has no PagerDuty annotation",
            hint=f"add metadata.annotations {ANNOTATION_SERVICE_ID!r} or "
            f"{ANNOTATION_INTEGRATION_KEY!r}, or pass --service-id or --integration-key",
        )
    origin = "the account option"
    if not account and annotations.account:
        account = annotations.account
        origin = f"the pagerduty.com/account annotation of {str(document.ref)!r}"
    return ServiceTarget(
        service_id=annotations.service_id,
        integration_key=annotations.integration_key,
        account=account,
        entity_ref=str(document.ref),
        origin=origin,
    )


def resolve_account(pd: PagerDuty, target: ServiceTarget) -> Account:
    """Return the account of ``target``; an unknown account id is an :class:`InputError`."""
    try:
        return pd.account(target.account)
    except PagerDutyError as error:
        raise InputError(
            f"{error.message} (from {target.origin})",
            hint="use one of the configured account ids, or add the account to "
            "pagerDuty.accounts",
        ) from error


def find_service(pd: PagerDuty, target: ServiceTarget) -> FoundService:
    """Look up the service of ``target`` in its account.

    Raises :class:`PagerDutyError` with status 404 when no service has the id or the
    integration key, and :class:`InputError` for an unknown account.
    """
    account = resolve_account(pd, target)
    client = pd.client(account.id)
    if target.service_id:
        service = get_service_by_id(client, target.service_id)
        key = target.integration_key or backstage_integration_key(service)
    elif target.integration_key:
        service = get_service_by_integration_key(client, target.integration_key)
        key = target.integration_key
    else:
        raise InputError("give a service id or an integration key to find a PagerDuty service")
    logger.debug("PagerDuty service %s found on account %r", service.get("id"), account.id)
    return FoundService(account, service, key or None, target.entity_ref)


def get_service_by_id(client: PagerDutyClient, service_id: str) -> dict[str, Any]:
    """Return the service ``service_id`` with its integrations and escalation policy."""
    path = "/services/" + quote(service_id, safe="")
    try:
        response = client.get(path, {"include[]": SERVICE_INCLUDES})
    except PagerDutyError as error:
        if error.status != 404:
            raise
        raise PagerDutyError(
            f"PagerDuty service {service_id!r} does not exist on account {client.account.id!r}",
            status=404,
            account=client.account.id,
            method="GET",
            path=path,
            hint="check the service id (pagerduty.com/service-id) and its account "
            "(pagerduty.com/account)",
        ) from error
    service = response.get("service")
    if not isinstance(service, dict):
        raise PagerDutyError(
            f"PagerDuty's response to GET {path} has no 'service' object",
            account=client.account.id,
        )
    return service


def get_service_by_integration_key(client: PagerDutyClient, integration_key: str) -> dict[str, Any]:
    """Return the one service of the account that has an integration with ``integration_key``.

    NOTE: the REST API has no filter by integration key, so every service of the account is
    read, page by page (PagerDuty's Backstage plugin sends the key as ``query`` instead, which
    matches service names only).
    """
    services = client.list_all("/services", "services", {"include[]": SERVICE_INCLUDES})
    matches = [service for service in services if integration_key in _integration_keys(service)]
    masked = mask_key(integration_key)
    if not matches:
        raise PagerDutyError(
            f"no PagerDuty service on account {client.account.id!r} has an integration with "
            f"key {masked}",
            status=404,
            account=client.account.id,
            hint="check the pagerduty.com/integration-key annotation, or the account it names",
        )
    if len(matches) > 1:
        ids = ", ".join(repr(service.get("id")) for service in matches)
        raise PagerDutyError(
            f"several PagerDuty services on account {client.account.id!r} have integration "
            f"key {masked}: {ids}",
            account=client.account.id,
            hint="name the service by its id with pagerduty.com/service-id",
        )
    return matches[0]


def _integration_keys(service: dict[str, Any]) -> list[str]:
    return [
        str(item["integration_key"])
        for item in service.get("integrations") or []
        if isinstance(item, dict) and item.get("integration_key")
    ]


def backstage_integration_key(service: dict[str, Any]) -> str | None:
    """Return the key of the service's Backstage integration (vendor ``PRO19CT``), if any."""
    for item in service.get("integrations") or []:
        if not isinstance(item, dict):
            continue
        if (item.get("vendor") or {}).get("id") == BACKSTAGE_VENDOR_ID and item.get(
            "integration_key"
        ):
            return str(item["integration_key"])
    return None
