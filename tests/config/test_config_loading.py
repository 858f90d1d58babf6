"""Loading app-config files: merging, ${VAR} substitution, validation, credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaffolder.config import load_config
from scaffolder.errors import ConfigError
from scaffolder.redact import Redactor


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_merge_later_file_wins_and_lists_replaced(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", """
app: {title: Base, baseUrl: http://localhost:3000}
catalog: {locations: [a, b]}
pagerDuty: {apiToken: base-token-value}
""")
    local = write(tmp_path, "local.yaml", """
app: {title: Local}
catalog: {locations: [c]}
""")

    config = load_config([base, local], env={}, redactor=Redactor())

    assert config["app"] == {"title": "Local", "baseUrl": "http://localhost:3000"}
    assert config["catalog"]["locations"] == ["c"]
    assert config["pagerDuty"]["apiToken"] == "base-token-value"


def test_substitution_replaces_variables(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", """
pagerDuty:
  apiToken: ${PD_TOKEN}
app:
  title: prefix-${NAME}-suffix
  literal: $${NOT_A_VAR}
  whole: {$env: NAME}
""")

    config = load_config([path], env={"PD_TOKEN": "tok-from-env", "NAME": "demo"},
                         redactor=Redactor())

    assert config["pagerDuty"]["apiToken"] == "tok-from-env"
    assert config["app"]["title"] == "prefix-demo-suffix"
    assert config["app"]["literal"] == "${NOT_A_VAR}"
    assert config["app"]["whole"] == "demo"


def test_missing_variable_names_variable_file_and_key(tmp_path: Path) -> None:
    text = "pagerDuty:\n  accounts:\n    - id: a\n      apiToken: ${NOPE}\n"
    path = write(tmp_path, "app.yaml", text)

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={}, redactor=Redactor())

    message = caught.value.message
    assert "'NOPE'" in message
    assert str(path) in message
    assert "pagerDuty.accounts[0].apiToken" in message


def test_invalid_yaml_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "pagerDuty: [unclosed\n")

    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_config([path], env={}, redactor=Redactor())
    assert str(path) in caught.value.message


def test_top_level_list_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- a\n- b\n")

    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config([path], env={}, redactor=Redactor())


def test_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError, match="cannot read config file") as caught:
        load_config([missing], env={}, redactor=Redactor())
    assert "absent.yaml" in caught.value.message


def test_empty_file_gives_empty_config(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.yaml", "")

    assert load_config([path], env={}, redactor=Redactor()) == {}


def test_unknown_sections_allowed(tmp_path: Path) -> None:
    text = "backend: {listen: {port: 7007}}\ntechdocs: {builder: local}\n"
    path = write(tmp_path, "app.yaml", text)

    config = load_config([path], env={}, redactor=Redactor())

    assert config["backend"]["listen"]["port"] == 7007


def test_schema_error_names_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", """
pagerDuty:
  accounts:
    - id: a
      apiToken: t0k3n-value
      subdomain: typo
""")

    with pytest.raises(ConfigError) as caught:
        load_config([path], env={}, redactor=Redactor())

    assert "pagerDuty.accounts[0]" in caught.value.message
    assert "'subdomain'" in caught.value.message


def test_account_rules_checked_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", """
pagerDuty:
  accounts:
    - {id: a, apiToken: token-a-value}
    - {id: b, apiToken: token-b-value}
""")

    with pytest.raises(ConfigError, match="isDefault") as caught:
        load_config([path], env={}, redactor=Redactor())
    assert str(path) in caught.value.message


def test_credentials_registered_with_redactor(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", """
pagerDuty:
  accounts:
    - id: a
      isDefault: true
      apiToken: token-aaaa-1111
    - id: b
      oauth: {clientId: client-b, clientSecret: secret-bbbb-2222, subDomain: acme}
scaffolder:
  auth:
    tokens:
      - {token: bridge-token-3333, principal: "user:default/ci-bot"}
""")
    redactor = Redactor()

    load_config([path], env={}, redactor=redactor)

    text = redactor.redact(
        "token-aaaa-1111 secret-bbbb-2222 bridge-token-3333 client-b user:default/ci-bot"
    )
    assert text == "*** *** *** client-b user:default/ci-bot"


def test_credential_from_env_registered(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "pagerDuty:\n  apiToken: ${PD_TOKEN}\n")
    redactor = Redactor()

    load_config([path], env={"PD_TOKEN": "env-token-4444"}, redactor=redactor)

    assert redactor.redact("Token token=env-token-4444") == "Token token=***"


def test_section_in_wrong_case_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "pagerduty:\n  apiToken: token-aaaa-1111\n")
    with pytest.raises(ConfigError, match="unknown section 'pagerduty'") as caught:
        load_config([path], env={})
    assert caught.value.hint == "the section is spelled 'pagerDuty'"


def test_short_token_error_names_the_minimum(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", """
scaffolder:
  auth:
    tokens:
      - {token: tiny-tok, principal: "user:default/ci-bot"}
""")
    with pytest.raises(ConfigError) as caught:
        load_config([path], env={})
    assert "must be at least 16 characters long" in caught.value.message
    assert "tiny-tok" not in caught.value.message
