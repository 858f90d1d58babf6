"""Authentication of the PagerDuty simulator: API tokens, the OAuth token endpoint, scopes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scaffolder.pagerduty.simulator import ALL_SCOPES, Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def token_form(
    sim: Simulator, scopes: str = "services.read services.write", **extra: str
) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "scope": f"as_account-{sim.region}.{sim.subdomain} {scopes}",
    }
    return {**form, **extra}


def oauth_token(sim: Simulator, scopes: str = "services.read services.write") -> dict[str, Any]:
    response = httpx.post(sim.token_url, data=token_form(sim, scopes))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_token_accepted(sim: Simulator) -> None:
    headers = {"Authorization": f"Token token={sim.api_token}"}
    assert httpx.get(f"{sim.url}/services", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "Token token=wrong", "Token wrong", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer"],
)
def test_bad_credentials_401(sim: Simulator, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = httpx.get(f"{sim.url}/services", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 2006
    assert error["message"]
    assert error["errors"]


def test_events_api_needs_no_token(sim: Simulator) -> None:
    response = httpx.post(f"{sim.events_url}/v2/enqueue", json={"event_action": "trigger"})
    assert response.status_code == 400


def test_oauth_token_shape(sim: Simulator) -> None:
    token = oauth_token(sim)
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600
    assert token["access_token"]
    assert token["scope"].split() == [
        f"as_account-us.{sim.subdomain}",
        "services.read",
        "services.write",
    ]
    assert sim.counts["POST /oauth/token"] == 1


def test_oauth_token_grants_access(sim: Simulator) -> None:
    token = oauth_token(sim)["access_token"]
    response = httpx.get(f"{sim.url}/services", headers=bearer(token))
    assert response.status_code == 200


def test_oauth_missing_scope_403(sim: Simulator) -> None:
    token = oauth_token(sim, "services.read")["access_token"]
    body = {"service": {"name": "a", "escalation_policy": {"id": sim.demo_escalation_policy_id}}}
    response = httpx.post(f"{sim.url}/services", json=body, headers=bearer(token))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == 2010
    assert "services.write" in error["errors"][0]
    assert sim.state.services == {}


def test_oauth_scope_not_granted_is_left_out(sim: Simulator) -> None:
    sim.granted_scopes = {"services.read"}
    token = oauth_token(sim)
    assert token["scope"].split()[1:] == ["services.read"]
    body = {"service": {"name": "a", "escalation_policy": {"id": sim.demo_escalation_policy_id}}}
    headers = bearer(token["access_token"])
    assert httpx.post(f"{sim.url}/services", json=body, headers=headers).status_code == 403


def test_oauth_default_scopes_cover_every_route(sim: Simulator) -> None:
    assert sim.granted_scopes == ALL_SCOPES
    token = oauth_token(sim, "")
    assert set(token["scope"].split()[1:]) == ALL_SCOPES


def test_oauth_write_scope_without_read_403(sim: Simulator) -> None:
    token = oauth_token(sim, "services.write")["access_token"]
    assert httpx.get(f"{sim.url}/services", headers=bearer(token)).status_code == 403


@pytest.mark.parametrize(
    ("extra", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": "as_account-us.other services.read"}, 400, "invalid_scope"),
        ({"scope": "as_account-eu.demo services.read"}, 400, "invalid_scope"),
        ({"scope": "services.read"}, 400, "invalid_scope"),
    ],
)
def test_oauth_token_errors(sim: Simulator, extra: dict[str, str], status: int, error: str) -> None:
    response = httpx.post(sim.token_url, data=token_form(sim, **extra))
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_oauth_revoked_token_401(sim: Simulator) -> None:
    token = oauth_token(sim)["access_token"]
    sim.revoke_tokens()
    response = httpx.get(f"{sim.url}/services", headers=bearer(token))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["errors"][0]


def test_oauth_expired_token_401(sim: Simulator) -> None:
    sim.token_lifetime = 0
    token = oauth_token(sim)
    assert token["expires_in"] == 0
    response = httpx.get(f"{sim.url}/services", headers=bearer(token["access_token"]))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["errors"][0]


def test_oauth_token_of_other_account_401() -> None:
    with Simulator() as first, Simulator(subdomain="second") as second:
        token = oauth_token(first)["access_token"]
        assert httpx.get(f"{second.url}/services", headers=bearer(token)).status_code == 401
        other = {"Authorization": f"Token token={first.api_token}"}
        assert httpx.get(f"{second.url}/services", headers=other).status_code == 401
