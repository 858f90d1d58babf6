"""PagerDuty accounts from the ``pagerDuty`` section of app-config, or from the environment.

The section has the shape that Backstage's PagerDuty plugins read: either one legacy account
(``apiToken`` or ``oauth``, with optional ``apiBaseUrl`` and ``eventsBaseUrl``) or a list of
``accounts``, each with an ``id`` and optionally ``isDefault``. When ``accounts`` is present the
legacy keys are ignored, as the plugins do.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from scaffolder.errors import ConfigError

logger = logging.getLogger("scaffolder.pagerduty")

REGIONS = ("us", "eu")
DEFAULT_ACCOUNT_ID = "default"
DEFAULT_TOKEN_URL = "https://identity.pagerduty.com/oauth/token"
DEFAULT_RETRY_BUDGET = 60.0

API_BASE_URLS = {"us": "https://api.pagerduty.com", "eu": "https://api.eu.pagerduty.com"}
# As in PagerDuty's Backstage plugin, the Events base URL includes the API version: events go
# to ``{eventsBaseUrl}/enqueue``.
EVENTS_BASE_URLS = {
    "us": "https://events.pagerduty.com/v2",
    "eu": "https://events.eu.pagerduty.com/v2",
}

ENV_TOKEN = "PAGERDUTY_TOKEN"
ENV_CLIENT_ID = "PD_CLIENT_ID"
ENV_CLIENT_SECRET = "PD_CLIENT_SECRET"
ENV_SUBDOMAIN = "PD_ACCOUNT_SUBDOMAIN"
ENV_REGION = "PD_ACCOUNT_REGION"


@dataclass(frozen=True)
class OAuthSettings:
    """Client credentials of a PagerDuty Scoped OAuth app."""

    client_id: str
    client_secret: str
    sub_domain: str
    region: str = "us"
    token_url: str = DEFAULT_TOKEN_URL

    @property
    def account_scope(self) -> str:
        """The scope that selects the account, ``as_account-<region>.<subDomain>``."""
        return f"as_account-{self.region}.{self.sub_domain}"

    def __repr__(self) -> str:
        return (
            f"OAuthSettings(client_id={self.client_id!r}, client_secret='***', "
            f"sub_domain={self.sub_domain!r}, region={self.region!r})"
        )


@dataclass(frozen=True)
class Account:
    """One configured PagerDuty account: where its APIs are and how to authenticate."""

    id: str
    is_default: bool
    api_base_url: str
    events_base_url: str
    api_token: str | None
    oauth: OAuthSettings | None
    region: str = "us"

    @property
    def auth_kind(self) -> str:
        """``apiToken`` or ``oauth``."""
        return "apiToken" if self.api_token else "oauth"

    def __repr__(self) -> str:
        return (
            f"Account(id={self.id!r}, is_default={self.is_default!r}, region={self.region!r}, "
            f"auth={self.auth_kind!r}, api_base_url={self.api_base_url!r})"
        )


@dataclass(frozen=True)
class PagerDutySettings:
    """All configured accounts and the options that apply to every one."""

    accounts: tuple[Account, ...]
    read_only: bool = False
    retry_budget: float = DEFAULT_RETRY_BUDGET

    @property
    def default_account(self) -> Account:
        return next(account for account in self.accounts if account.is_default)


def parse_pagerduty_section(section: Mapping[str, Any]) -> PagerDutySettings:
    """Build the accounts of a ``pagerDuty`` section, checking every account rule.

    Raises :class:`ConfigError` naming the offending value.
    """
    if not isinstance(section, Mapping):
        raise ConfigError(f"pagerDuty must be a mapping, found {type(section).__name__}")

    entries = section.get("accounts")
    if entries is not None:
        if not isinstance(entries, list) or not entries:
            raise ConfigError("pagerDuty.accounts must be a non-empty list of accounts")
        if any(key in section for key in ("apiToken", "oauth")):
            logger.warning("pagerDuty.accounts is set, so pagerDuty.apiToken/oauth are ignored")
        accounts = [
            _parse_account(entry, f"pagerDuty.accounts[{index}]", single=len(entries) == 1)
            for index, entry in enumerate(entries)
        ]
    else:
        legacy = {**section, "id": DEFAULT_ACCOUNT_ID, "isDefault": True}
        accounts = [_parse_account(legacy, "pagerDuty", single=True)]

    _check_ids_unique(accounts)
    _check_one_default(accounts)
    return PagerDutySettings(
        accounts=tuple(accounts),
        read_only=bool(section.get("readOnly", False)),
        retry_budget=float(section.get("retryBudgetSeconds", DEFAULT_RETRY_BUDGET)),
    )


def settings_from_env(env: Mapping[str, str]) -> PagerDutySettings | None:
    """Build one account from ``PAGERDUTY_TOKEN`` or the ``PD_*`` OAuth variables, if set."""
    if env.get(ENV_TOKEN):
        section: dict[str, Any] = {"apiToken": env[ENV_TOKEN]}
    elif env.get(ENV_CLIENT_ID) or env.get(ENV_CLIENT_SECRET):
        oauth = {
            "clientId": env.get(ENV_CLIENT_ID, ""),
            "clientSecret": env.get(ENV_CLIENT_SECRET, ""),
            "subDomain": env.get(ENV_SUBDOMAIN, ""),
        }
        missing = [name for name, key in _OAUTH_ENV if not oauth[key]]
        if missing:
            raise ConfigError(
                "PagerDuty OAuth from the environment needs "
                f"{ENV_CLIENT_ID}, {ENV_CLIENT_SECRET} and {ENV_SUBDOMAIN}; "
                f"missing: {', '.join(missing)}"
            )
        if env.get(ENV_REGION):
            oauth["region"] = env[ENV_REGION]
        section = {"oauth": oauth}
    else:
        return None
    return parse_pagerduty_section(section)


_OAUTH_ENV = (
    (ENV_CLIENT_ID, "clientId"),
    (ENV_CLIENT_SECRET, "clientSecret"),
    (ENV_SUBDOMAIN, "subDomain"),
)


def _parse_account(entry: Mapping[str, Any], where: str, *, single: bool) -> Account:
    account_id = str(entry.get("id") or "")
    if not account_id:
        raise ConfigError(f"{where}.id is missing: give every PagerDuty account an id")

    api_token = entry.get("apiToken") or None
    oauth = _parse_oauth(entry.get("oauth"), f"{where}.oauth") if entry.get("oauth") else None
    if api_token is None and oauth is None:
        raise ConfigError(
            f"{where} (account {account_id!r}) has neither apiToken nor oauth: "
            "set apiToken, or oauth with clientId, clientSecret and subDomain"
        )
    if api_token and oauth:
        logger.warning("account %r has both apiToken and oauth; using apiToken", account_id)
        oauth = None

    region = oauth.region if oauth else _region_of(entry.get("apiBaseUrl"))
    api_base_url = str(entry.get("apiBaseUrl") or API_BASE_URLS[region]).rstrip("/")
    events_base_url = str(entry.get("eventsBaseUrl") or EVENTS_BASE_URLS[region]).rstrip("/")
    check_base_url(api_base_url, f"{where}.apiBaseUrl")
    check_base_url(events_base_url, f"{where}.eventsBaseUrl")

    return Account(
        id=account_id,
        is_default=single or bool(entry.get("isDefault", False)),
        api_base_url=api_base_url,
        events_base_url=events_base_url,
        api_token=str(api_token) if api_token else None,
        oauth=oauth,
        region=region,
    )


def _parse_oauth(entry: Any, where: str) -> OAuthSettings:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a mapping, found {type(entry).__name__}")

    missing = [key for key in ("clientId", "clientSecret", "subDomain") if not entry.get(key)]
    if missing:
        raise ConfigError(
            f"{where} is missing {', '.join(missing)}: "
            "clientId, clientSecret and subDomain are required, region is optional"
        )

    region = str(entry.get("region") or "us")
    if region not in REGIONS:
        raise ConfigError(f"{where}.region is {region!r}, but it must be 'us' or 'eu'")

    token_url = str(entry.get("tokenUrl") or DEFAULT_TOKEN_URL)
    check_base_url(token_url, f"{where}.tokenUrl")
    return OAuthSettings(
        client_id=str(entry["clientId"]),
        client_secret=str(entry["clientSecret"]),
        sub_domain=str(entry["subDomain"]),
        region=region,
        token_url=token_url,
    )


def _region_of(api_base_url: Any) -> str:
    if isinstance(api_base_url, str) and ".eu.pagerduty.com" in api_base_url:
        return "eu"
    return "us"


def check_base_url(url: str, where: str) -> None:
    """Reject a URL that is not https, unless it points at a loopback host."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"{where} is not a valid URL: {url!r} ({exc})") from exc

    if parsed.scheme == "https" and parsed.host:
        return
    if parsed.scheme == "http" and is_loopback(parsed.host):
        return
    raise ConfigError(f"{where} must be an https URL (http only for a loopback host), got {url!r}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost``, an address in 127.0.0.0/8, or ``::1``."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_ids_unique(accounts: list[Account]) -> None:
    seen: set[str] = set()
    for account in accounts:
        if account.id in seen:
            raise ConfigError(
                f"PagerDuty account id {account.id!r} is used twice in pagerDuty.accounts: "
                "give every account its own id"
            )
        seen.add(account.id)


def _check_one_default(accounts: list[Account]) -> None:
    defaults = [account.id for account in accounts if account.is_default]
    if len(defaults) == 1:
        return
    ids = ", ".join(repr(account.id) for account in accounts)
    if not defaults:
        raise ConfigError(
            f"none of the PagerDuty accounts ({ids}) has isDefault: true: "
            "mark exactly one account as the default"
        )
    raise ConfigError(
        f"several PagerDuty accounts have isDefault: true ({', '.join(map(repr, defaults))}): "
        "mark exactly one account as the default"
    )
