"""Bridge settings, authentication rules, template refs and the ``serve`` command's checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scaffolder.bridge.auth import Authenticator, check_auth_setup, is_loopback
from scaffolder.bridge.catalog import normalize_ref
from scaffolder.bridge.http import HttpError
from scaffolder.bridge.settings import TokenGrant, load_settings
from scaffolder.cli import main
from scaffolder.config import load_config
from scaffolder.errors import ConfigError, InputError

GRANTS = [TokenGrant("first-token-0123456789", "user:default/a"),
          TokenGrant("second-token-0123456789", "user:default/b")]


def test_settings_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, base_dir=tmp_path)
    assert settings.workers == 2
    assert settings.max_request_bytes == 10 * 1024 * 1024
    assert settings.heartbeat_seconds == 15
    assert settings.working_directory == tmp_path / ".scaffolder"
    assert settings.task_store_url == f"sqlite:///{tmp_path / '.scaffolder' / 'tasks.db'}"
    assert [location.builtin_all for location in settings.templates] == [True]


def test_settings_empty_template_list_serves_none(tmp_path: Path) -> None:
    settings = load_settings({"scaffolder": {"templates": []}}, base_dir=tmp_path)
    assert settings.templates == ()


def test_settings_reject_unknown_key() -> None:
    with pytest.raises(ConfigError, match="scaffolder"):
        load_settings({"scaffolder": {"workerz": 3}})


def test_settings_error_hides_short_token() -> None:
    section = {"auth": {"tokens": [{"token": "short-secret", "principal": "user:default/a"}]}}
    with pytest.raises(ConfigError) as raised:
        load_settings({"scaffolder": section})
    assert "short-secret" not in raised.value.message


def test_app_config_schema_checks_scaffolder_section(tmp_path: Path) -> None:
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump({"scaffolder": {"workers": 0}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="workers"):
        load_config([path])


def test_token_maps_to_principal() -> None:
    auth = Authenticator(GRANTS)
    assert auth.principal("Bearer second-token-0123456789") == "user:default/b"
    assert auth.principal("bearer first-token-0123456789") == "user:default/a"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic first-token-0123456789",
                                    "Bearer first-token-012345678", "Bearer x"])
def test_bad_authorization_is_401(header: str | None) -> None:
    with pytest.raises(HttpError) as raised:
        Authenticator(GRANTS).principal(header)
    assert raised.value.status == 401


def test_no_tokens_needs_insecure_flag() -> None:
    with pytest.raises(ConfigError, match="no bearer token"):
        check_auth_setup([], insecure=False, host="127.0.0.1")


def test_insecure_only_on_loopback() -> None:
    check_auth_setup([], insecure=True, host="127.0.0.1")
    check_auth_setup([], insecure=True, host="::1")
    with pytest.raises(ConfigError, match="loopback"):
        check_auth_setup([], insecure=True, host="0.0.0.0")


def test_insecure_with_tokens_is_rejected() -> None:
    with pytest.raises(ConfigError, match="insecure"):
        check_auth_setup(GRANTS, insecure=True, host="127.0.0.1")


def test_loopback_detection() -> None:
    assert is_loopback("localhost")
    assert is_loopback("127.0.0.2")
    assert not is_loopback("10.0.0.1")
    assert not is_loopback("example.com")


@pytest.mark.parametrize(("ref", "expected"), [
    ("template:default/svc", "template:default/svc"),
    ("Template:Default/Svc", "template:default/svc"),
    ("team/svc", "template:team/svc"),
    ("svc", "template:default/svc"),
])
def test_template_ref_normalized(ref: str, expected: str) -> None:
    assert normalize_ref(ref) == expected


@pytest.mark.parametrize("ref", ["component:default/svc", "template:default/", "a/b/c",
                                 "template:/svc"])
def test_invalid_template_ref(ref: str) -> None:
    with pytest.raises(InputError):
        normalize_ref(ref)


def test_serve_without_tokens_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "app-config.yaml"
    config.write_text(yaml.safe_dump({"scaffolder": {"workingDirectory": str(tmp_path)}}),
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 2
    assert "no bearer token" in result.output


def test_serve_insecure_on_public_host_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "app-config.yaml"
    config.write_text(yaml.safe_dump({"scaffolder": {"workingDirectory": str(tmp_path)}}),
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--host", "0.0.0.0",
                                       "--insecure-no-auth"])
    assert result.exit_code == 2
    assert "loopback" in result.output
