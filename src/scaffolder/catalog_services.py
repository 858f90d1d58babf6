"""Finding the PagerDuty service of a catalog entity from its ``pagerduty.com/*`` annotations.

A :class:`ServiceDirectory` lists each account's services once, with their integrations
(``GET /services?include[]=integrations``, 100 per page), and indexes them by service id and
by integration key. That listing is the only API that returns integration keys, so it is
authoritative: a key missing from every listing is reported as unknown, and an unknown service
id is not looked up again either. Accounts are listed lazily, the first time an entity needs
them, so a catalog whose services are all in the default account never lists the others.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from scaffolder.catalog import EntityDocument, PagerDutyAnnotations, pagerduty_annotations
from scaffolder.errors import PagerDutyError
from scaffolder.pagerduty import Account, PagerDuty

logger = logging.getLogger("scaffolder.catalog")

BACKSTAGE_VENDOR_ID = "PRO19CT"


@dataclass
class ServiceRecord:
    """A PagerDuty service as the listing returned it, with its integration keys."""

    id: str
    name: str
    account: str
    html_url: str
    integration_keys: list[str] = field(default_factory=list)
    backstage_integration: dict[str, Any] | None = None

    @property
    def backstage_key(self) -> str | None:
        if self.backstage_integration is None:
            return None
        key = self.backstage_integration.get("integration_key")
        return str(key) if key else None

    def label(self) -> str:
        return f"{self.id} ({self.name!r}, account {self.account!r})"


@dataclass
class AccountIndex:
    """The services of one account, by id and by integration key."""

    account: str
    services: dict[str, ServiceRecord]
    by_key: dict[str, ServiceRecord]

    def add_integration(self, service: ServiceRecord, integration: dict[str, Any]) -> None:
        key = integration.get("integration_key")
        if key:
            service.integration_keys.append(str(key))
            self.by_key[str(key)] = service


def service_record(item: dict[str, Any], account: str) -> ServiceRecord:
    """Build a :class:`ServiceRecord` from a service object that includes its integrations."""
    record = ServiceRecord(
        id=str(item["id"]),
        name=str(item.get("name", "")),
        account=account,
        html_url=str(item.get("html_url", "")),
    )
    for integration in item.get("integrations") or []:
        if not isinstance(integration, dict):
            continue
        key = integration.get("integration_key")
        if key:
            record.integration_keys.append(str(key))
        vendor = integration.get("vendor") or {}
        if vendor.get("id") == BACKSTAGE_VENDOR_ID and record.backstage_integration is None:
            record.backstage_integration = integration
    return record


class ServiceDirectory:
    """The services of every configured account, each account listed at most once.

    Safe to share between threads: the first thread that needs an account lists it while
    the others wait; a failed listing is raised again to every later caller without a retry.
    """

    def __init__(self, pd: PagerDuty) -> None:
        self.pd = pd
        self._indexes: dict[str, AccountIndex | PagerDutyError] = {}
        self._locks = {account.id: threading.Lock() for account in pd.accounts}

    @property
    def accounts(self) -> list[Account]:
        return self.pd.accounts

    def search_order(self, annotations: PagerDutyAnnotations) -> list[Account]:
        """Return the accounts to search: the annotated one, else the default one first."""
        if annotations.account:
            return [self.pd.account(annotations.account)]
        default = self.pd.default_account
        return [default, *(account for account in self.pd.accounts if account.id != default.id)]

    def is_configured(self, account_id: str) -> bool:
        return any(account.id == account_id for account in self.pd.accounts)

    def index(self, account_id: str) -> AccountIndex:
        """Return the index of ``account_id``, listing its services on the first call."""
        with self._locks[account_id]:
            cached = self._indexes.get(account_id)
            if cached is None:
                try:
                    cached = self._list(account_id)
                except PagerDutyError as error:
                    cached = error
                self._indexes[account_id] = cached
        if isinstance(cached, PagerDutyError):
            raise cached
        return cached

    def _list(self, account_id: str) -> AccountIndex:
        client = self.pd.client(account_id)
        items = client.list_all("/services", "services", {"include[]": ["integrations"]})
        services: dict[str, ServiceRecord] = {}
        by_key: dict[str, ServiceRecord] = {}
        for item in items:
            record = service_record(item, account_id)
            services[record.id] = record
            for key in record.integration_keys:
                by_key[key] = record
        logger.info(
            "listed %d PagerDuty services with %d integration keys on account %r",
            len(services),
            len(by_key),
            account_id,
        )
        return AccountIndex(account_id, services, by_key)

    def find_by_id(self, service_id: str, accounts: list[Account]) -> ServiceRecord | None:
        for account in accounts:
            found = self.index(account.id).services.get(service_id)
            if found is not None:
                return found
        return None

    def find_by_key(self, key: str, accounts: list[Account]) -> ServiceRecord | None:
        for account in accounts:
            found = self.index(account.id).by_key.get(key)
            if found is not None:
                return found
        return None


@dataclass
class Resolution:
    """What an entity's annotations point at: a service, or the reason there is none.

    ``disagreements`` lists annotations that contradict PagerDuty although a service was
    found, e.g. an integration key of another service, or an account annotation that names
    another account than the one the service is in. ``account_missing`` is true when the
    service was found outside the default account and the entity has no account annotation.
    """

    annotations: PagerDutyAnnotations
    service: ServiceRecord | None = None
    key_owner: ServiceRecord | None = None
    problem: str | None = None
    disagreements: list[str] = field(default_factory=list)
    account_missing: bool = False


def resolve_entity(directory: ServiceDirectory, entity: EntityDocument) -> Resolution:
    """Find the service that ``entity``'s annotations point at.

    The service id wins over the integration key when both are given; a key that belongs to
    another service is a disagreement. Raises :class:`PagerDutyError` only when an account
    cannot be listed.
    """
    annotations = pagerduty_annotations(entity)
    resolution = Resolution(annotations)
    if annotations.account and not directory.is_configured(annotations.account):
        configured = ", ".join(repr(account.id) for account in directory.accounts)
        resolution.problem = (
            f"annotation pagerduty.com/account is {annotations.account!r}, which is not a "
            f"configured PagerDuty account ({configured})"
        )
        return resolution
    if not annotations.service_id and not annotations.integration_key:
        resolution.problem = (
            "the entity has pagerduty.com/account but neither pagerduty.com/service-id "
            "nor pagerduty.com/integration-key"
        )
        return resolution

    accounts = directory.search_order(annotations)
    # With an account annotation the other accounts are searched too, only to tell a wrong
    # account annotation apart from an unknown id or key.
    others = [account for account in directory.accounts if account not in accounts]
    searched = ", ".join(repr(account.id) for account in accounts + others)
    key = annotations.integration_key
    if key:
        resolution.key_owner = directory.find_by_key(key, accounts) or (
            directory.find_by_key(key, others) if annotations.account else None
        )

    if annotations.service_id:
        resolution.service = directory.find_by_id(annotations.service_id, accounts) or (
            directory.find_by_id(annotations.service_id, others) if annotations.account else None
        )
        if resolution.service is None:
            resolution.problem = (
                f"no PagerDuty service has id {annotations.service_id!r} in account(s) {searched}"
            )
            return resolution
    elif resolution.key_owner is not None:
        resolution.service = resolution.key_owner
    else:
        resolution.problem = (
            f"no PagerDuty service has an integration with key {mask(key or '')} "
            f"in account(s) {searched}"
        )
        return resolution

    resolution.disagreements = _disagreements(resolution)
    resolution.account_missing = (
        not annotations.account and resolution.service.account != directory.pd.default_account.id
    )
    return resolution


def _disagreements(resolution: Resolution) -> list[str]:
    service = resolution.service
    annotations = resolution.annotations
    assert service is not None
    found: list[str] = []
    if annotations.account and service.account != annotations.account:
        found.append(
            f"pagerduty.com/account is {annotations.account!r}, "
            f"but service {service.id} is in account {service.account!r}"
        )

    key = annotations.integration_key
    owner = resolution.key_owner
    if key and owner is None:
        found.append(
            f"integration key {mask(key)} belongs to no integration of service {service.id}"
        )
    elif key and owner is not None and owner.id != service.id:
        found.append(
            f"integration key {mask(key)} belongs to service {owner.label()}, not {service.id}"
        )
    return found


def mask(key: str) -> str:
    """Return an integration key shortened for messages: its first 6 characters."""
    return repr(key) if len(key) <= 8 else f"{key[:6]!r}... ({len(key)} characters)"
