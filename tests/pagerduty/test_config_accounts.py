"""The pagerDuty section: account shapes, defaults and the rules checked at load."""

from __future__ import annotations

from typing import Any

import pytest

from scaffolder.errors import ConfigError, PagerDutyError
from scaffolder.pagerduty import PagerDuty
from scaffolder.pagerduty.accounts import parse_pagerduty_section, settings_from_env
from scaffolder.redact import Redactor

OAUTH = {"clientId": "cid", "clientSecret": "client-secret-value", "subDomain": "acme"}


def test_legacy_token_is_default_account() -> None:
    settings = parse_pagerduty_section({"apiToken": "legacy-token"})

    [account] = settings.accounts
    assert account.id == "default"
    assert account.is_default
    assert account.api_token == "legacy-token"
    assert account.oauth is None
    assert account.api_base_url == "https://api.pagerduty.com"
    assert account.events_base_url == "https://events.pagerduty.com/v2"


def test_legacy_oauth_defaults_to_us() -> None:
    [account] = parse_pagerduty_section({"oauth": OAUTH}).accounts

    assert account.auth_kind == "oauth"
    assert account.region == "us"
    assert account.oauth is not None
    assert account.oauth.token_url == "https://identity.pagerduty.com/oauth/token"
    assert account.oauth.account_scope == "as_account-us.acme"


def test_eu_region_sets_eu_urls() -> None:
    [account] = parse_pagerduty_section({"oauth": {**OAUTH, "region": "eu"}}).accounts

    assert account.region == "eu"
    assert account.api_base_url == "https://api.eu.pagerduty.com"
    assert account.events_base_url == "https://events.eu.pagerduty.com/v2"


def test_explicit_base_urls_kept() -> None:
    section = {"apiToken": "t0ken", "apiBaseUrl": "https://pd.example.test/api/",
               "eventsBaseUrl": "https://events.example.test"}

    [account] = parse_pagerduty_section(section).accounts

    assert account.api_base_url == "https://pd.example.test/api"
    assert account.events_base_url == "https://events.example.test"


def test_invalid_region_named() -> None:
    with pytest.raises(ConfigError, match="'ap'"):
        parse_pagerduty_section({"oauth": {**OAUTH, "region": "ap"}})


def test_single_account_is_default() -> None:
    settings = parse_pagerduty_section({"accounts": [{"id": "only", "apiToken": "t0ken"}]})

    assert settings.default_account.id == "only"


def test_several_accounts_need_a_default() -> None:
    section = {"accounts": [{"id": "a", "apiToken": "t0kenA"}, {"id": "b", "apiToken": "t0kenB"}]}

    with pytest.raises(ConfigError, match="none of the PagerDuty accounts") as caught:
        parse_pagerduty_section(section)
    assert "'a'" in caught.value.message
    assert "'b'" in caught.value.message


def test_two_defaults_rejected() -> None:
    section = {"accounts": [
        {"id": "a", "isDefault": True, "apiToken": "t0kenA"},
        {"id": "b", "isDefault": True, "apiToken": "t0kenB"},
    ]}

    with pytest.raises(ConfigError, match="several PagerDuty accounts have isDefault"):
        parse_pagerduty_section(section)


def test_duplicate_ids_rejected() -> None:
    section = {"accounts": [
        {"id": "a", "isDefault": True, "apiToken": "t0kenA"},
        {"id": "a", "apiToken": "t0kenB"},
    ]}

    with pytest.raises(ConfigError, match="'a' is used twice"):
        parse_pagerduty_section(section)


def test_account_without_credentials_rejected() -> None:
    section = {"accounts": [{"id": "bare", "apiBaseUrl": "https://api.pagerduty.com"}]}

    with pytest.raises(ConfigError, match=r"account 'bare'\) has neither apiToken nor oauth"):
        parse_pagerduty_section(section)


def test_oauth_missing_fields_named() -> None:
    with pytest.raises(ConfigError, match="subDomain"):
        parse_pagerduty_section({"oauth": {"clientId": "x", "clientSecret": "y"}})


@pytest.mark.parametrize("url", [
    "http://api.pagerduty.com",
    "http://10.0.0.1:8080",
    "ftp://127.0.0.1",
])
def test_plain_http_rejected_off_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="must be an https URL") as caught:
        parse_pagerduty_section({"apiToken": "t0ken", "apiBaseUrl": url})
    assert repr(url) in caught.value.message


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080",
    "http://127.9.9.9",
    "http://[::1]:9000",
    "http://localhost:7007",
])
def test_plain_http_allowed_on_loopback(url: str) -> None:
    [account] = parse_pagerduty_section({"apiToken": "t0ken", "apiBaseUrl": url}).accounts

    assert account.api_base_url == url


def test_token_url_must_be_https_off_loopback() -> None:
    with pytest.raises(ConfigError, match="tokenUrl"):
        parse_pagerduty_section({"oauth": {**OAUTH, "tokenUrl": "http://identity.example.test"}})


def test_read_only_and_budget_read() -> None:
    settings = parse_pagerduty_section(
        {"apiToken": "t0ken", "readOnly": True, "retryBudgetSeconds": 5}
    )

    assert settings.read_only
    assert settings.retry_budget == 5.0


def test_env_token_account() -> None:
    settings = settings_from_env({"PAGERDUTY_TOKEN": "env-token"})

    assert settings is not None
    assert settings.default_account.api_token == "env-token"


def test_env_oauth_account() -> None:
    env = {"PD_CLIENT_ID": "cid", "PD_CLIENT_SECRET": "secret-value",
           "PD_ACCOUNT_SUBDOMAIN": "acme", "PD_ACCOUNT_REGION": "eu"}

    settings = settings_from_env(env)

    assert settings is not None
    account = settings.default_account
    assert account.oauth is not None
    assert account.oauth.account_scope == "as_account-eu.acme"
    assert account.api_base_url == "https://api.eu.pagerduty.com"


def test_env_oauth_incomplete_names_missing() -> None:
    with pytest.raises(ConfigError, match="PD_ACCOUNT_SUBDOMAIN"):
        settings_from_env({"PD_CLIENT_ID": "cid", "PD_CLIENT_SECRET": "secret-value"})


def test_nothing_configured_fails_on_use() -> None:
    pagerduty = PagerDuty.from_config({}, redactor=Redactor(), env={})

    assert not pagerduty.configured
    with pytest.raises(ConfigError) as caught:
        pagerduty.account(None)
    message = caught.value.message
    assert "--config" in message
    assert "PAGERDUTY_TOKEN" in message
    assert "--simulate-pagerduty" in message


def test_unknown_account_lists_configured() -> None:
    config: dict[str, Any] = {"pagerDuty": {"accounts": [
        {"id": "a", "isDefault": True, "apiToken": "t0kenA"},
        {"id": "b", "apiToken": "t0kenB"},
    ]}}
    pagerduty = PagerDuty.from_config(config, redactor=Redactor(), env={})

    with pytest.raises(PagerDutyError) as caught:
        pagerduty.account("c")
    assert "'c'" in caught.value.message
    assert "'a', 'b'" in caught.value.message


def test_account_repr_hides_credentials() -> None:
    settings = parse_pagerduty_section({"accounts": [
        {"id": "a", "isDefault": True, "apiToken": "t0ken-secret-a"},
        {"id": "b", "oauth": OAUTH},
    ]})

    text = repr(settings)
    assert "t0ken-secret-a" not in text
    assert "client-secret-value" not in text
