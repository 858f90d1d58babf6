"""Services, integrations, vendors, escalation policies and abilities, as the actions use them.

Creating is idempotent: a service is looked up by exact name before it is created, an
integration of the wanted vendor is reused when the service has one, and a write whose outcome
is uncertain (5xx, timeout, dropped connection) is checked by looking up again before it is
retried once. Each write runs inside a checkpoint, so a resumed task never repeats it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from scaffolder.errors import PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.accounts import DEFAULT_ACCOUNT_ID, Account
from scaffolder.pagerduty.client import PagerDutyClient, PagerDutyUncertainWrite

T = TypeVar("T")
Checkpoint = Callable[[str, Callable[[], T]], T]
Log = logging.Logger | logging.LoggerAdapter[logging.Logger]

BACKSTAGE_VENDOR_ID = "PRO19CT"
BACKSTAGE_INTEGRATION_NAME = "Backstage"
INTEGRATION_TYPE = "generic_events_api_inbound_integration"
"""Type sent with a vendor integration. Backstage's plugin sends none and lets the vendor decide,
but the API reference lists ``type`` as a field of every integration."""
DRY_RUN_PLACEHOLDER = "(dry run: created when the task runs)"

ALERT_GROUPING_ABILITIES = {
    "intelligent": "preview_intelligent_alert_grouping",
    "time": "time_based_alert_grouping",
    # NOTE: PagerDuty's API reference names no ability for content-based grouping, so this name
    # is a guess. The first two are the ones Backstage's PagerDuty plugin checks.
    "content_based": "content_based_alert_grouping",
}

_ALERT_GROUPING_PARAMETERS: dict[str, dict[str, Any]] = {
    "intelligent": {"type": "intelligent"},
    "time": {"type": "time", "config": {"timeout": 0}},
    "content_based": {
        "type": "content_based",
        "config": {"aggregate": "all", "time_window": 0, "fields": ["source", "summary"]},
    },
}

_VENDOR_ID = re.compile(r"^[A-Z0-9]{7}$")


@dataclass(frozen=True)
class ServiceSpec:
    """The inputs of ``pagerduty:service:create``."""

    name: str
    description: str
    escalation_policy_id: str
    alert_grouping: str | None = None
    account: str | None = None
    on_existing: str = "reuse"


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe="") for part in parts)


# Accounts


def find_owner(
    pd: PagerDuty, path: str, what: str, account_id: str | None
) -> tuple[Account, dict[str, Any] | None]:
    """Return the account where ``GET path`` finds ``what``, and the body when it was fetched.

    With ``account_id`` or a single account nothing is fetched. Otherwise each account is asked
    once; a 404 means the object is not there. None or several owners is an error.
    """
    if account_id:
        return pd.account(account_id), None
    accounts = pd.accounts
    if len(accounts) == 1:
        return accounts[0], None

    owners: list[tuple[Account, dict[str, Any]]] = []
    for account in accounts:
        try:
            owners.append((account, pd.client(account.id).get(path)))
        except PagerDutyError as exc:
            if exc.status != 404:
                raise
    ids = ", ".join(repr(account.id) for account in accounts)
    if not owners:
        raise PagerDutyError(
            f"{what} was not found in any configured PagerDuty account ({ids})",
            status=404,
            hint="check the id, or add the account that owns it to pagerDuty.accounts",
        )
    if len(owners) > 1:
        found = ", ".join(repr(account.id) for account, _ in owners)
        raise PagerDutyError(
            f"{what} exists in several PagerDuty accounts ({found}): "
            "set the account input to choose one",
        )
    return owners[0]


# Services


def create_service(
    pd: PagerDuty, spec: ServiceSpec, *, checkpoint: Checkpoint[Any], dry_run: bool, log: Log
) -> dict[str, Any]:
    """Create or reuse the service of ``spec`` and its Backstage integration.

    Returns the action's outputs: ``serviceId``, ``serviceUrl``, ``integrationKey``,
    ``account`` and ``created`` (true only when this task created the service).
    """
    # Tasks of one process that create the same name take turns, so the second finds the
    # first's service and integration instead of racing it to a duplicate integration.
    with _name_lock(spec.name):
        return _create_service_locked(pd, spec, checkpoint=checkpoint, dry_run=dry_run, log=log)


# A fixed set of locks picked by the name's hash: the same name always takes the same lock,
# and memory stays bounded in a long-running bridge. Two names may share a lock, which only
# makes them take turns.
_NAME_LOCKS = tuple(threading.Lock() for _ in range(64))


def _name_lock(name: str) -> threading.Lock:
    digest = hashlib.blake2b(name.casefold().encode(), digest_size=4).digest()
    return _NAME_LOCKS[int.from_bytes(digest, "big") % len(_NAME_LOCKS)]


def _create_service_locked(
    pd: PagerDuty, spec: ServiceSpec, *, checkpoint: Checkpoint[Any], dry_run: bool, log: Log
) -> dict[str, Any]:
    fresh: list[bool] = []

    def make_service() -> dict[str, Any]:
        fresh.append(True)
        return ensure_service(pd, spec, dry_run=dry_run, log=log)

    service = make_service() if dry_run else checkpoint("service", make_service)
    client = pd.client(service["account"])

    if service["id"] == DRY_RUN_PLACEHOLDER:
        integration = {"id": DRY_RUN_PLACEHOLDER, "integration_key": DRY_RUN_PLACEHOLDER}
    else:
        # Integrations read with the service in this run are current; after a resume they
        # are read again, in case an earlier attempt created one.
        known = service["integrations"] if fresh else None

        def make_integration() -> dict[str, Any]:
            return ensure_integration(
                client,
                service["id"],
                BACKSTAGE_VENDOR_ID,
                BACKSTAGE_INTEGRATION_NAME,
                known=known,
                dry_run=dry_run,
                log=log,
            )

        integration = make_integration() if dry_run else checkpoint("integration", make_integration)

    return {
        "serviceId": service["id"],
        "serviceUrl": service["html_url"],
        "integrationKey": integration["integration_key"],
        "account": service["account"],
        "created": service["created"],
    }


def ensure_service(pd: PagerDuty, spec: ServiceSpec, *, dry_run: bool, log: Log) -> dict[str, Any]:
    """Return a summary of the service named ``spec.name``, creating it when there is none."""
    policy = f"escalation policy {spec.escalation_policy_id!r}"
    account, _ = find_owner(
        pd, _path("escalation_policies", spec.escalation_policy_id), policy, spec.account
    )
    client = pd.client(account.id)

    existing = find_service_by_name(client, spec.name)
    if existing is not None:
        return _reuse_service(existing, spec, account)

    if dry_run:
        log.info("dry run: would create PagerDuty service %r on account %r", spec.name, account.id)
        return _placeholder_service(account)

    body = {"service": _service_body(spec)}
    log.info("creating PagerDuty service %r on account %r", spec.name, account.id)
    try:
        created = _post_service(client, body, spec)
    except PagerDutyUncertainWrite as exc:
        log.warning("%s; looking the service up before trying again", exc.message)
        again = find_service_by_name(client, spec.name)
        if again is None:
            created = _post_service(client, body, spec)
        elif (again.get("escalation_policy") or {}).get("id") == spec.escalation_policy_id:
            created = again
        else:
            return _reuse_service(again, spec, account)
    except PagerDutyError as exc:
        if not _name_taken(exc):
            raise
        # Another process created the name between the lookup and the create.
        log.warning("PagerDuty reports the name %r as taken; looking the service up", spec.name)
        again = find_service_by_name(client, spec.name)
        if again is None:
            raise
        return _reuse_service(again, spec, account)
    return _service_summary(created, account=account.id, created=True)


def _name_taken(error: PagerDutyError) -> bool:
    """Tell whether PagerDuty refused a create because the service name exists."""
    if isinstance(error, PagerDutyUncertainWrite) or error.status != 400:
        return False
    return any("already been taken" in text for text in [*error.errors, error.message])


def _post_service(
    client: PagerDutyClient, body: dict[str, Any], spec: ServiceSpec
) -> dict[str, Any]:
    try:
        response = client.post("/services", body)
    except PagerDutyError as exc:
        if exc.status == 402 and spec.alert_grouping:
            ability = ALERT_GROUPING_ABILITIES[spec.alert_grouping]
            if ability not in exc.message:
                exc.message += (
                    f"; alertGrouping {spec.alert_grouping!r} needs the ability {ability!r}, "
                    "which the account's plan lacks"
                )
                exc.args = (exc.message,)
            exc.hint = "leave alertGrouping out, or upgrade the PagerDuty plan"
        raise
    return _member(response, "service", "POST /services")


def _service_body(spec: ServiceSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "service",
        "name": spec.name,
        "description": spec.description,
        "escalation_policy": {
            "id": spec.escalation_policy_id,
            "type": "escalation_policy_reference",
        },
        "alert_creation": "create_alerts_and_incidents",
        "auto_pause_notifications_parameters": {"enabled": True, "timeout": 300},
    }
    if spec.alert_grouping:
        body["alert_grouping_parameters"] = _ALERT_GROUPING_PARAMETERS[spec.alert_grouping]
    return body


def find_service_by_name(client: PagerDutyClient, name: str) -> dict[str, Any] | None:
    """Return the service whose name is exactly ``name``, with its integrations, or None."""
    services = client.list_all(
        "/services", "services", {"name": name, "include[]": ["integrations"]}
    )
    for service in services:
        if service.get("name") == name:
            return service
    return None


def _reuse_service(existing: dict[str, Any], spec: ServiceSpec, account: Account) -> dict[str, Any]:
    policy_id = (existing.get("escalation_policy") or {}).get("id")
    if policy_id != spec.escalation_policy_id:
        raise PagerDutyError(
            f"a PagerDuty service named {spec.name!r} (id {existing.get('id')!r}) already exists "
            f"on account {account.id!r} with escalation policy {policy_id!r}, not "
            f"{spec.escalation_policy_id!r}",
            account=account.id,
            hint="choose another service name, or use the escalation policy of that service",
        )
    if spec.on_existing == "fail":
        raise PagerDutyError(
            f"a PagerDuty service named {spec.name!r} (id {existing.get('id')!r}) already exists "
            f"on account {account.id!r}, and onExisting is 'fail'",
            account=account.id,
            hint="choose another service name, or set onExisting to 'reuse'",
        )
    return _service_summary(existing, account=account.id, created=False)


def _service_summary(service: dict[str, Any], *, account: str, created: bool) -> dict[str, Any]:
    integrations = service.get("integrations") or []
    return {
        "id": service["id"],
        "name": service.get("name"),
        "html_url": service.get("html_url", ""),
        "escalation_policy_id": (service.get("escalation_policy") or {}).get("id"),
        "account": account,
        "created": created,
        "integrations": [
            _integration_summary(item) for item in integrations if isinstance(item, dict)
        ],
    }


def _placeholder_service(account: Account) -> dict[str, Any]:
    return {
        "id": DRY_RUN_PLACEHOLDER,
        "name": None,
        "html_url": DRY_RUN_PLACEHOLDER,
        "escalation_policy_id": None,
        "account": account.id,
        "created": True,
        "integrations": [],
    }


def get_service(
    pd: PagerDuty,
    *,
    service_id: str | None = None,
    integration_key: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """Find a service by id, or by the exact integration key of one of its integrations."""
    if service_id:
        account, _ = find_owner(
            pd, _path("services", service_id), f"service {service_id!r}", account_id
        )
        response = pd.client(account.id).get(
            _path("services", service_id), {"include[]": ["integrations"]}
        )
        service = _member(response, "service", "GET /services/{id}")
        key = _backstage_key(service)
    elif integration_key:
        account, service = _find_by_integration_key(pd, integration_key, account_id)
        key = integration_key
    else:
        raise PagerDutyError("give serviceId or integrationKey to find a PagerDuty service")

    return {
        "serviceId": service["id"],
        "name": service.get("name", ""),
        "serviceUrl": service.get("html_url", ""),
        "escalationPolicyId": (service.get("escalation_policy") or {}).get("id", ""),
        "integrationKey": key,
        "account": account.id,
    }


def _find_by_integration_key(
    pd: PagerDuty, integration_key: str, account_id: str | None
) -> tuple[Account, dict[str, Any]]:
    accounts = [pd.account(account_id)] if account_id else pd.accounts
    matches: list[tuple[Account, dict[str, Any]]] = []
    for account in accounts:
        services = pd.client(account.id).list_all(
            "/services", "services", {"include[]": ["integrations"]}
        )
        for service in services:
            keys = [
                item.get("integration_key")
                for item in service.get("integrations") or []
                if isinstance(item, dict)
            ]
            if integration_key in keys:
                matches.append((account, service))

    masked_key = _mask(integration_key)
    searched = ", ".join(repr(account.id) for account in accounts)
    if not matches:
        raise PagerDutyError(
            f"no PagerDuty service has an integration with key {masked_key} "
            f"in account(s) {searched}",
            status=404,
        )
    if len(matches) > 1:
        found = ", ".join(f"{service['id']!r} ({account.id})" for account, service in matches)
        raise PagerDutyError(
            f"several PagerDuty services have integration key {masked_key}: {found}"
        )
    return matches[0]


def _backstage_key(service: dict[str, Any]) -> str:
    for item in service.get("integrations") or []:
        if isinstance(item, dict) and (item.get("vendor") or {}).get("id") == BACKSTAGE_VENDOR_ID:
            return str(item.get("integration_key") or "")
    return ""


def _mask(value: str) -> str:
    return f"{value[:4]!r}... ({len(value)} characters)" if len(value) > 8 else repr(value)


# Integrations


def ensure_integration(
    client: PagerDutyClient,
    service_id: str,
    vendor_id: str,
    name: str | None,
    *,
    known: list[dict[str, Any]] | None = None,
    dry_run: bool,
    log: Log,
) -> dict[str, Any]:
    """Return the service's integration of ``vendor_id``, creating it when there is none.

    ``known`` contains integration summaries already read in this run; None reads them now.
    The result has ``id``, ``integration_key`` and ``created``.
    """
    integrations = known if known is not None else _read_integrations(client, service_id)
    match = _find_vendor(integrations, vendor_id)
    if match is not None:
        return _with_key(client, service_id, match, created=False)

    if dry_run:
        log.info("dry run: would add a %s integration to service %r", vendor_id, service_id)
        return {"id": DRY_RUN_PLACEHOLDER, "integration_key": DRY_RUN_PLACEHOLDER, "created": True}

    body = _integration_body(service_id, vendor_id, name)
    path = _path("services", service_id, "integrations")
    log.info("adding a %s integration to PagerDuty service %r", vendor_id, service_id)
    try:
        created = _member(client.post(path, body), "integration", "POST " + path)
    except PagerDutyUncertainWrite as exc:
        log.warning("%s; looking the integration up before trying again", exc.message)
        match = _find_vendor(_read_integrations(client, service_id), vendor_id)
        if match is not None:
            return _with_key(client, service_id, match, created=True)
        created = _member(client.post(path, body), "integration", "POST " + path)
    return _with_key(client, service_id, _integration_summary(created), created=True)


def _integration_body(service_id: str, vendor_id: str, name: str | None) -> dict[str, Any]:
    integration: dict[str, Any] = {
        "type": INTEGRATION_TYPE,
        "service": {"id": service_id, "type": "service_reference"},
        "vendor": {"id": vendor_id, "type": "vendor_reference"},
    }
    if name:
        integration["name"] = name
    return {"integration": integration}


def _read_integrations(client: PagerDutyClient, service_id: str) -> list[dict[str, Any]]:
    response = client.get(_path("services", service_id), {"include[]": ["integrations"]})
    service = _member(response, "service", "GET /services/{id}")
    return [
        _integration_summary(item)
        for item in service.get("integrations") or []
        if isinstance(item, dict)
    ]


def _integration_summary(integration: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": integration.get("id"),
        "vendor_id": (integration.get("vendor") or {}).get("id"),
        "integration_key": integration.get("integration_key"),
    }


def _find_vendor(integrations: list[dict[str, Any]], vendor_id: str) -> dict[str, Any] | None:
    for integration in integrations:
        if integration.get("vendor_id") == vendor_id:
            return integration
    return None


def _with_key(
    client: PagerDutyClient, service_id: str, integration: dict[str, Any], *, created: bool
) -> dict[str, Any]:
    key = integration.get("integration_key")
    if not key:
        path = _path("services", service_id, "integrations", str(integration["id"]))
        key = _member(client.get(path), "integration", "GET " + path).get("integration_key")
    return {"id": integration["id"], "integration_key": key or "", "created": created}


def create_integration(
    pd: PagerDuty,
    *,
    service_id: str,
    vendor: str,
    name: str | None,
    account_id: str | None,
    checkpoint: Checkpoint[Any],
    dry_run: bool,
    log: Log,
) -> dict[str, Any]:
    """Ensure the service ``service_id`` has one integration of ``vendor`` (id or name)."""
    account, _ = find_owner(
        pd, _path("services", service_id), f"service {service_id!r}", account_id
    )
    client = pd.client(account.id)
    vendor_id, vendor_name = resolve_vendor(client, vendor)
    if name is None:
        name = BACKSTAGE_INTEGRATION_NAME if vendor_id == BACKSTAGE_VENDOR_ID else vendor_name

    def make() -> dict[str, Any]:
        return ensure_integration(client, service_id, vendor_id, name, dry_run=dry_run, log=log)

    integration = make() if dry_run else checkpoint("integration", make)
    return {
        "integrationKey": integration["integration_key"],
        "integrationId": integration["id"],
        "created": integration["created"],
        "account": account.id,
    }


# Vendors, escalation policies, abilities


def resolve_vendor(client: PagerDutyClient, vendor: str) -> tuple[str, str | None]:
    """Return ``(id, name)`` of ``vendor``: an id as given, or a name matched exactly."""
    if _VENDOR_ID.match(vendor):
        return vendor, None
    vendors = client.list_all("/vendors", "vendors", {"query": vendor})
    exact = [item for item in vendors if item.get("name") == vendor]
    if not exact:
        exact = [item for item in vendors if str(item.get("name", "")).lower() == vendor.lower()]
    if len(exact) == 1:
        return str(exact[0]["id"]), str(exact[0]["name"])

    names = ", ".join(repr(item.get("name")) for item in vendors[:10]) or "none"
    problem = "several vendors are" if exact else "no vendor is"
    raise PagerDutyError(
        f"{problem} named {vendor!r} on PagerDuty account {client.account.id!r}; "
        f"vendors found by that query: {names}",
        account=client.account.id,
        hint="give the vendor's id, or its exact name (pagerduty:vendors:list shows them)",
    )


def list_vendors(client: PagerDutyClient, name: str | None = None) -> list[dict[str, str]]:
    """Return ``{id, name}`` of every vendor, or of those whose name contains ``name``."""
    params = {"query": name} if name else None
    vendors = client.list_all("/vendors", "vendors", params)
    if name:
        vendors = [item for item in vendors if name.lower() in str(item.get("name", "")).lower()]
    return [{"id": str(item["id"]), "name": str(item.get("name", ""))} for item in vendors]


def list_escalation_policies(pd: PagerDuty) -> list[dict[str, str]]:
    """Return the escalation policies of every account, sorted by account and name.

    ``label`` is the text of Backstage's PagerDuty escalation-policy picker: the name, prefixed
    with ``(<account>)`` when several accounts are configured and the account id is not
    ``default``.
    """
    accounts = pd.accounts
    policies: list[dict[str, str]] = []
    for account in accounts:
        items = pd.client(account.id).list_all(
            "/escalation_policies", "escalation_policies", {"sort_by": "name"}
        )
        for item in items:
            name = str(item.get("name", ""))
            prefixed = len(accounts) > 1 and account.id != DEFAULT_ACCOUNT_ID
            policies.append(
                {
                    "id": str(item["id"]),
                    "name": name,
                    "account": account.id,
                    "label": f"({account.id}) {name}" if prefixed else name,
                }
            )
    policies.sort(key=lambda policy: (policy["account"], policy["name"]))
    return policies


def list_abilities(client: PagerDutyClient) -> list[str]:
    response = client.get("/abilities")
    abilities = response.get("abilities")
    if not isinstance(abilities, list):
        raise PagerDutyError(
            f"PagerDuty returned no abilities list for account {client.account.id!r}",
            account=client.account.id,
        )
    return [str(ability) for ability in abilities]


def has_ability(client: PagerDutyClient, ability: str) -> bool:
    """Whether the account has ``ability``: PagerDuty returns 204 if so, 402 if not."""
    try:
        client.get(_path("abilities", ability))
    except PagerDutyError as exc:
        if exc.status in (402, 404):
            return False
        raise
    return True


def _member(response: dict[str, Any], key: str, request: str) -> dict[str, Any]:
    value = response.get(key)
    if not isinstance(value, dict):
        raise PagerDutyError(f"PagerDuty's response to {request} has no {key!r} object")
    return value
