"""``scaffold config check`` through click's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scaffolder.cli_config import config_group
from scaffolder.pagerduty.simulator import Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def write_config(tmp_path: Path, section: dict[str, object]) -> Path:
    path = tmp_path / "app-config.yaml"
    path.write_text(yaml.safe_dump({"pagerDuty": section}), encoding="utf-8")
    return path


def oauth_section(sim: Simulator) -> dict[str, object]:
    return {"apiBaseUrl": sim.url, "oauth": {
        "clientId": sim.client_id, "clientSecret": sim.client_secret,
        "subDomain": sim.subdomain, "tokenUrl": sim.token_url,
    }}


def test_check_lists_accounts_without_secrets(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"accounts": [
        {"id": "us-main", "isDefault": True, "apiToken": "token-value-1234"},
        {"id": "eu", "oauth": {"clientId": "cid", "clientSecret": "secret-value-5678",
                               "subDomain": "acme", "region": "eu"}},
    ]})

    result = CliRunner().invoke(config_group, ["check", "--config", str(path)], env={})

    assert result.exit_code == 0, result.output
    assert "'us-main', default: region us, auth apiToken" in result.output
    assert "'eu': region eu, auth oauth, API https://api.eu.pagerduty.com" in result.output
    assert "token-value-1234" not in result.output
    assert "secret-value-5678" not in result.output


def test_check_invalid_file_exits_2(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"accounts": [
        {"id": "a", "apiToken": "token-a-value"},
        {"id": "b", "apiToken": "token-b-value"},
    ]})

    result = CliRunner().invoke(config_group, ["check", "--config", str(path)], env={})

    assert result.exit_code == 2
    assert "error:" in result.output
    assert "isDefault" in result.output


def test_check_json_reports_invalid(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"oauth": {"clientId": "cid", "clientSecret": "s3cret-x",
                                             "subDomain": "acme", "region": "mars"}})

    result = CliRunner().invoke(config_group, ["check", "--json", "--config", str(path)], env={})

    assert result.exit_code == 2
    report = json.loads(result.output)
    assert report["valid"] is False
    assert "'mars'" in report["error"]


def test_check_online_token_account(tmp_path: Path, sim: Simulator) -> None:
    path = write_config(tmp_path, {"apiToken": sim.api_token, "apiBaseUrl": sim.url})

    result = CliRunner().invoke(
        config_group, ["check", "--online", "--json", "--config", str(path)], env={}
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["online"] == [{"account": "default", "ok": True}]
    assert sim.counts == {"GET /abilities": 1}


def test_check_online_names_missing_scope(tmp_path: Path, sim: Simulator) -> None:
    sim.granted_scopes = sim.granted_scopes - {"services.write"}
    path = write_config(tmp_path, oauth_section(sim))

    result = CliRunner().invoke(config_group, ["check", "--online", "--config", str(path)], env={})

    assert result.exit_code == 1
    assert "services.write" in result.output
    assert sim.client_secret not in result.output


def test_check_online_oauth_all_scopes(tmp_path: Path, sim: Simulator) -> None:
    path = write_config(tmp_path, oauth_section(sim))

    result = CliRunner().invoke(
        config_group, ["check", "--online", "--json", "--config", str(path)], env={}
    )

    assert result.exit_code == 0, result.output
    [account] = json.loads(result.output)["online"]
    assert account["missingScopes"] == []
    assert sim.counts["POST /oauth/token"] == 1
