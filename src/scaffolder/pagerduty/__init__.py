"""PagerDuty accounts and API clients shared by every task of the process."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from scaffolder.errors import ConfigError, PagerDutyError
from scaffolder.pagerduty.accounts import (
    Account,
    OAuthSettings,
    PagerDutySettings,
    parse_pagerduty_section,
    settings_from_env,
)
from scaffolder.pagerduty.client import (
    ALL_SCOPES,
    READ_SCOPES,
    PagerDutyClient,
    PagerDutyUncertainWrite,
    RetryPolicy,
)
from scaffolder.redact import GLOBAL_REDACTOR, Redactor

__all__ = [
    "Account",
    "OAuthSettings",
    "PagerDuty",
    "PagerDutyClient",
    "PagerDutySettings",
    "PagerDutyUncertainWrite",
    "RetryPolicy",
]

NOT_CONFIGURED = (
    "no PagerDuty account is configured: pass --config with an app-config that has a pagerDuty "
    "section, set PAGERDUTY_TOKEN (or PD_CLIENT_ID, PD_CLIENT_SECRET and PD_ACCOUNT_SUBDOMAIN), "
    "or use --simulate-pagerduty"
)


class PagerDuty:
    """The configured PagerDuty accounts, with one lazily created client per account."""

    def __init__(
        self,
        settings: PagerDutySettings | None,
        *,
        redactor: Redactor = GLOBAL_REDACTOR,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._redactor = redactor
        budget = settings.retry_budget if settings else None
        self._retry = retry or (RetryPolicy(budget=budget) if budget else RetryPolicy())
        self._clients: dict[str, PagerDutyClient] = {}
        self._lock = threading.Lock()
        for account in settings.accounts if settings else ():
            redactor.add(account.api_token, account.oauth.client_secret if account.oauth else None)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        redactor: Redactor = GLOBAL_REDACTOR,
        env: Mapping[str, str] = os.environ,
        *,
        retry: RetryPolicy | None = None,
    ) -> PagerDuty:
        """Read the ``pagerDuty`` section of ``config``, or the environment when it has none.

        Nothing is required here: :class:`ConfigError` is raised when an account is requested
        and none is configured.
        """
        section = config.get("pagerDuty")
        settings = parse_pagerduty_section(section) if section else settings_from_env(env)
        return cls(settings, redactor=redactor, retry=retry)

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy every client of this process uses."""
        return self._retry

    @property
    def configured(self) -> bool:
        return self._settings is not None

    @property
    def settings(self) -> PagerDutySettings:
        if self._settings is None:
            raise ConfigError(NOT_CONFIGURED)
        return self._settings

    @property
    def accounts(self) -> list[Account]:
        return list(self.settings.accounts)

    @property
    def default_account(self) -> Account:
        return self.settings.default_account

    @property
    def read_only(self) -> bool:
        return self._settings.read_only if self._settings else False

    @property
    def scopes(self) -> frozenset[str]:
        """The OAuth scopes requested for every account: read scopes only when read-only."""
        return READ_SCOPES if self.read_only else ALL_SCOPES

    def account(self, account_id: str | None = None) -> Account:
        """Return the account ``account_id``, or the default account when it is None or empty."""
        if not account_id:
            return self.default_account
        for account in self.settings.accounts:
            if account.id == account_id:
                return account
        configured = ", ".join(repr(account.id) for account in self.settings.accounts)
        raise PagerDutyError(
            f"PagerDuty account {account_id!r} is not configured; "
            f"configured accounts: {configured}",
            account=account_id,
            hint="use one of the configured account ids, or add the account to pagerDuty.accounts",
        )

    def client(self, account_id: str | None = None) -> PagerDutyClient:
        """Return the shared client of the account ``account_id`` (default account if None)."""
        account = self.account(account_id)
        with self._lock:
            client = self._clients.get(account.id)
            if client is None:
                client = PagerDutyClient(
                    account,
                    redactor=self._redactor,
                    retry=self._retry,
                    read_only=self.read_only,
                    scopes=self.scopes,
                )
                self._clients[account.id] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()
