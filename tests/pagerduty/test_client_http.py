"""PagerDutyClient against the simulator: auth, OAuth tokens, retries, errors, paging, logs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scaffolder.errors import PagerDutyError
from scaffolder.pagerduty.accounts import parse_pagerduty_section
from scaffolder.pagerduty.client import (
    REQUIRED_SCOPES,
    PagerDutyClient,
    PagerDutyUncertainWrite,
    RetryPolicy,
    route_template,
)
from scaffolder.pagerduty.simulator import Simulator
from scaffolder.redact import Redactor

FAST = RetryPolicy(budget=5.0, timeout=5.0, base_delay=0.01, max_delay=0.05)
SPEC = Path(__file__).resolve().parents[2].parent / "shared/reference/pagerduty-api"
TOKEN_ROUTE = "POST /oauth/token"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def token_client(sim: Simulator, **options: Any) -> PagerDutyClient:
    [account] = parse_pagerduty_section({"apiToken": sim.api_token, "apiBaseUrl": sim.url}).accounts
    options.setdefault("retry", FAST)
    options.setdefault("redactor", Redactor())
    return PagerDutyClient(account, **options)


def oauth_client(sim: Simulator, **options: Any) -> PagerDutyClient:
    section = {"apiBaseUrl": sim.url, "oauth": {
        "clientId": sim.client_id, "clientSecret": sim.client_secret,
        "subDomain": sim.subdomain, "region": sim.region, "tokenUrl": sim.token_url,
    }}
    [account] = parse_pagerduty_section(section).accounts
    options.setdefault("retry", FAST)
    options.setdefault("redactor", Redactor())
    return PagerDutyClient(account, **options)


def service_body(sim: Simulator, name: str) -> dict[str, Any]:
    return {"service": {
        "type": "service", "name": name,
        "escalation_policy": {"id": sim.demo_escalation_policy_id,
                              "type": "escalation_policy_reference"},
    }}


def run_in_threads(count: int, target: Any) -> list[BaseException]:
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            target()
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return failures


def test_token_auth_reads_abilities(sim: Simulator) -> None:
    client = token_client(sim)

    body = client.get("/abilities")

    assert "teams" in body["abilities"]
    assert sim.counts == {"GET /abilities": 1}


def test_oauth_token_fetched_once_across_threads(sim: Simulator) -> None:
    client = oauth_client(sim)

    failures = run_in_threads(20, lambda: client.get("/abilities"))

    assert failures == []
    assert sim.counts[TOKEN_ROUTE] == 1
    assert sim.counts["GET /abilities"] == 20


def test_oauth_token_renewed_before_expiry_by_one_caller(sim: Simulator) -> None:
    now = [1000.0]
    client = oauth_client(sim, clock=lambda: now[0])
    client.get("/abilities")

    now[0] += sim.token_lifetime - 30  # inside the renewal margin, before expiry
    failures = run_in_threads(20, lambda: client.get("/abilities"))

    assert failures == []
    assert sim.counts[TOKEN_ROUTE] == 2
    assert client.token_fetch_count == 2


def test_oauth_token_reused_before_margin(sim: Simulator) -> None:
    now = [1000.0]
    client = oauth_client(sim, clock=lambda: now[0])
    client.get("/abilities")

    now[0] += sim.token_lifetime / 2
    client.get("/abilities")

    assert sim.counts[TOKEN_ROUTE] == 1


def test_oauth_retries_once_after_401(sim: Simulator) -> None:
    client = oauth_client(sim)
    client.get("/abilities")
    sim.revoke_tokens()

    client.get("/abilities")

    assert sim.counts[TOKEN_ROUTE] == 2
    assert sim.counts["GET /abilities"] == 3


def test_bad_api_token_not_retried(sim: Simulator) -> None:
    [account] = parse_pagerduty_section(
        {"apiToken": "wrong-token-value", "apiBaseUrl": sim.url}
    ).accounts
    client = PagerDutyClient(account, retry=FAST, redactor=Redactor())

    with pytest.raises(PagerDutyError) as caught:
        client.get("/abilities")

    assert caught.value.status == 401
    assert "on account 'default'" in caught.value.message
    assert "wrong-token-value" not in caught.value.message
    assert sim.counts["GET /abilities"] == 1


def test_bad_client_secret_reported(sim: Simulator) -> None:
    section = {"apiBaseUrl": sim.url, "oauth": {
        "clientId": sim.client_id, "clientSecret": "not-the-secret",
        "subDomain": sim.subdomain, "tokenUrl": sim.token_url,
    }}
    [account] = parse_pagerduty_section(section).accounts
    client = PagerDutyClient(account, retry=FAST, redactor=Redactor())

    with pytest.raises(PagerDutyError) as caught:
        client.get("/abilities")

    assert caught.value.status == 401
    assert "invalid_client" in caught.value.message
    assert "not-the-secret" not in caught.value.message


def test_429_waits_ratelimit_reset(sim: Simulator) -> None:
    waits: list[float] = []
    client = token_client(sim, sleep=waits.append)
    sim.inject("GET /abilities", "429", times=1, reset_after=2)

    client.get("/abilities")

    assert waits == [2.0]
    assert sim.counts["GET /abilities"] == 2


def test_5xx_retried_for_get(sim: Simulator) -> None:
    client = token_client(sim)
    sim.inject("GET /abilities", "503", times=1)
    sim.inject("GET /abilities", "502", times=1)

    body = client.get("/abilities")

    assert body["abilities"]
    assert sim.counts["GET /abilities"] == 3


def test_timeout_retried_for_get(sim: Simulator) -> None:
    client = token_client(sim, retry=RetryPolicy(budget=5, timeout=0.2, base_delay=0.01))
    sim.inject("GET /abilities", "slow", times=1, delay=1.0)

    client.get("/abilities")

    assert sim.counts["GET /abilities"] == 2


def test_dropped_connection_retried_for_get(sim: Simulator) -> None:
    client = token_client(sim)
    sim.inject("GET /abilities", "drop", times=1)

    client.get("/abilities")

    assert sim.counts["GET /abilities"] == 2


def test_post_5xx_is_uncertain_not_repeated(sim: Simulator) -> None:
    client = token_client(sim)
    sim.inject("POST /services", "500", times=1)

    with pytest.raises(PagerDutyUncertainWrite) as caught:
        client.post("/services", service_body(sim, "uncertain"))

    assert "may or may not have applied POST /services" in caught.value.message
    assert sim.counts["POST /services"] == 1


def test_post_dropped_is_uncertain(sim: Simulator) -> None:
    client = token_client(sim)
    sim.inject("POST /services", "drop", times=1)

    with pytest.raises(PagerDutyUncertainWrite):
        client.post("/services", service_body(sim, "dropped"))

    assert sim.counts["POST /services"] == 1


def test_post_429_retried(sim: Simulator) -> None:
    waits: list[float] = []
    client = token_client(sim, sleep=waits.append)
    sim.inject("POST /services", "429", times=1, reset_after=1)

    created = client.post("/services", service_body(sim, "after-429"))

    assert created["service"]["name"] == "after-429"
    assert sim.counts["POST /services"] == 2
    assert waits == [1.0]


def test_budget_exhausted_gives_clear_error(sim: Simulator) -> None:
    policy = RetryPolicy(budget=0.5, timeout=0.5, base_delay=0.05, max_delay=0.1)
    client = token_client(sim, retry=policy)
    sim.inject("GET /abilities", "503")

    with pytest.raises(PagerDutyError) as caught:
        client.get("/abilities")

    message = caught.value.message
    assert "retry budget of 0.5 s ran out" in message
    attempts = sim.counts["GET /abilities"]
    assert attempts >= 2
    assert f"after {attempts} attempt(s)" in message


def test_ratelimit_reset_beyond_budget_gives_up(sim: Simulator) -> None:
    waits: list[float] = []
    client = token_client(sim, retry=RetryPolicy(budget=1.0), sleep=waits.append)
    sim.inject("GET /abilities", "429", reset_after=30)

    with pytest.raises(PagerDutyError, match="retry budget of 1 s ran out after 1 attempt"):
        client.get("/abilities")
    assert waits == []


def test_bad_json_reported(sim: Simulator) -> None:
    client = token_client(sim)
    sim.inject("GET /abilities", "bad_json", times=1)

    with pytest.raises(PagerDutyError) as caught:
        client.get("/abilities")

    assert "malformed JSON" in caught.value.message
    assert "GET /abilities" in caught.value.message
    assert caught.value.status == 200


def test_error_body_parsed(sim: Simulator) -> None:
    client = token_client(sim)
    client.post("/services", service_body(sim, "taken"))

    with pytest.raises(PagerDutyError) as caught:
        client.post("/services", service_body(sim, "taken"))

    error = caught.value
    assert error.status == 400
    assert error.code is not None
    assert error.errors
    assert error.message.startswith("PagerDuty rejected POST /services on account 'default': 400")
    assert f"(code {error.code})" in error.message


def test_403_names_missing_scope(sim: Simulator) -> None:
    sim.granted_scopes = sim.granted_scopes - {"services.write"}
    client = oauth_client(sim)

    with pytest.raises(PagerDutyError) as caught:
        client.post("/services", service_body(sim, "no-scope"))

    assert caught.value.status == 403
    assert "services.write" in caught.value.message


def test_list_all_follows_more(sim: Simulator) -> None:
    client = token_client(sim)
    existing = len(client.get("/services", {"limit": 100})["services"])
    for index in range(105):
        client.post("/services", service_body(sim, f"paged-{index:03d}"))
    sim.reset_counts()

    services = client.list_all("/services", "services")

    assert len(services) == existing + 105
    assert len({service["id"] for service in services}) == len(services)
    assert sim.counts["GET /services"] == 2


def test_read_only_refuses_writes(sim: Simulator) -> None:
    client = token_client(sim, read_only=True)

    with pytest.raises(PagerDutyError, match="read-only"):
        client.post("/services", service_body(sim, "blocked"))
    assert "POST /services" not in sim.counts


def test_logs_never_show_credentials(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = oauth_client(sim, redactor=Redactor())
    sim.inject("GET /abilities", "503", times=1)
    client.get("/abilities")
    sim.revoke_tokens()
    client.get("/abilities")
    with pytest.raises(PagerDutyError) as caught:
        client.get("/services/PNOPE00")

    text = caplog.text + caught.value.message + str(caught.value.hint)
    assert "GET /abilities" in caplog.text
    assert sim.client_secret not in text
    assert "pdus+_" not in text
    assert sim.api_token not in text


def test_route_template_matches_ids() -> None:
    assert route_template("/services/PABC123/integrations") == "/services/{id}/integrations"
    assert route_template("/services") == "/services"
    assert route_template("/unknown/thing") == "/unknown/thing"


def test_scope_table_matches_reference_spec() -> None:
    spec_file = SPEC / "rest-api-v2.openapiv3.json"
    if not spec_file.is_file():
        pytest.skip(f"PagerDuty OpenAPI spec not found at {spec_file}")
    spec = json.loads(spec_file.read_text(encoding="utf-8"))

    for (method, template), scope in REQUIRED_SCOPES.items():
        operation = spec["paths"][template][method.lower()]
        assert operation["x-pd-requires-scope"] == scope, (method, template)


def test_read_only_client_allows_analytics_query(sim: Simulator) -> None:
    from scaffolder.pagerduty import PagerDuty

    section = {**sim.app_config(), "readOnly": True}
    client = PagerDuty.from_config({"pagerDuty": section}).client()
    body = {"filters": {"created_at_start": "2026-01-01T00:00:00Z",
                        "created_at_end": "2026-02-01T00:00:00Z"}}
    answer = client.post("/analytics/metrics/incidents/services", body, idempotent=True)
    assert "data" in answer
    with pytest.raises(PagerDutyError, match="read-only"):
        client.post("/services", {"service": {"name": "x"}})
