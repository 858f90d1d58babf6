"""The /api/pagerduty routes are served by the real bridge, behind its bearer tokens."""

from __future__ import annotations

import httpx
from bridge_support import Server, auth_client

from scaffolder.pagerduty.simulator import Simulator


def test_plugin_health_needs_no_token(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/pagerduty/health", timeout=10)
    assert response.status_code == 200


def test_plugin_routes_need_token(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/pagerduty/escalation_policies", timeout=10)
    assert response.status_code == 401


def test_escalation_policies_from_bridge(server: Server, sim: Simulator) -> None:
    with auth_client() as client:
        response = client.get(f"{server.url}/api/pagerduty/escalation_policies")
    assert response.status_code == 200, response.text
    assert sim.demo_escalation_policy_id in response.text


def test_unknown_service_is_404_with_errors(server: Server) -> None:
    with auth_client() as client:
        response = client.get(f"{server.url}/api/pagerduty/services/PNOPE99")
    assert response.status_code == 404
    assert "errors" in response.json()
