"""Failures of every /api/pagerduty route on the real bridge: unknown account, no token."""

from __future__ import annotations

import httpx
import pytest
from bridge_support import Server

from scaffolder.pagerduty.simulator import Simulator

ROUTES = [
    "/escalation_policies",
    "/oncall-users",
    "/services/{id}",
    "/services",
    "/services/{id}/change-events",
    "/services/{id}/incidents",
    "/services/{id}/standards",
    "/services/{id}/metrics",
]


@pytest.mark.parametrize("route", [route for route in ROUTES if route != "/escalation_policies"])
def test_unknown_account_is_400(server: Server, sim: Simulator, route: str) -> None:
    path = route.replace("{id}", "PANY001")
    params = {"account": "nowhere", "escalation_policy_ids[]": sim.demo_escalation_policy_id}

    response = server.client.get(f"{server.url}/api/pagerduty{path}", params=params)

    assert response.status_code == 400, response.text
    assert list(response.json()) == ["errors"]
    assert any("'nowhere'" in message for message in response.json()["errors"])


# docs/http-api.md documents the 401 of these routes with Backstage's error body, which is
# also what Backstage's own authentication sends before the plugin's router runs.
@pytest.mark.parametrize("route", ROUTES)
def test_missing_token_is_401(server: Server, route: str) -> None:
    path = route.replace("{id}", "PANY001")

    response = httpx.get(f"{server.url}/api/pagerduty{path}", timeout=10)

    assert response.status_code == 401
    assert response.json()["error"]["name"] == "AuthenticationError"
    assert response.json()["response"] == {"statusCode": 401}
