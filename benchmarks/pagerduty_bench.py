"""Benchmark of ``pagerduty:service:create``: requests per create, reruns, concurrent creates.

Every create runs a one-step template through the real :class:`~scaffolder.runner.Runner`
against local PagerDuty simulators on 127.0.0.1. Request counts come from each simulator's
``counts``. For the concurrent run, every HTTP exchange is recorded at the httpx transport
(thread, send and receive times, status, ``ratelimit-reset``), so each retry after a 429 can be
checked against the wait the 429 asked for. Prints a table and JSON, and writes a markdown
section to /tmp/pagerduty-bench-results.md.

    python benchmarks/pagerduty_bench.py [--services N] [--probability P]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from scaffolder.context import MemoryCheckpoints, Runtime
from scaffolder.pagerduty.simulator import BACKSTAGE_VENDOR_ID, DEMO_SEED, Simulator
from scaffolder.registry import default_registry
from scaffolder.runner import Runner, TaskResult, TaskSpec

RESULTS = Path("/tmp/pagerduty-bench-results.md")
COMMAND = "python benchmarks/pagerduty_bench.py"
ACTION = "pagerduty:service:create"
SINGLE_CREATE_LIMIT = 4
WRITE_METHODS = ("POST", "PUT", "DELETE")

TEMPLATE: dict[str, Any] = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "pagerduty-service"},
    "spec": {
        "parameters": [],
        "steps": [
            {
                "id": "pagerduty",
                "name": "Create the PagerDuty service",
                "action": ACTION,
                "input": {
                    "name": "${{ parameters.name }}",
                    "description": "Created by the PagerDuty benchmark",
                    "escalationPolicyId": "${{ parameters.escalationPolicyId }}",
                },
            }
        ],
        "output": {"serviceId": "${{ steps.pagerduty.output.serviceId }}"},
    },
}


# Setup


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }


def account_section(sim: Simulator, *, oauth: bool = False) -> dict[str, Any]:
    """Return the ``pagerDuty`` section for ``sim``, with OAuth token requests sent to it too."""
    section = sim.app_config(oauth=oauth)
    if oauth:
        # app_config(oauth=True) leaves tokenUrl out, which would send the token request to
        # the real identity.pagerduty.com.
        section["oauth"]["tokenUrl"] = sim.token_url
    return section


def multi_account_config(sims: list[Simulator]) -> dict[str, Any]:
    """Return an ``accounts:`` section: one account per simulator, the first one the default."""
    accounts = [
        {"id": f"account-{n + 1}", "isDefault": n == 0, **account_section(sim)}
        for n, sim in enumerate(sims)
    ]
    return {"pagerDuty": {"accounts": accounts}}


def make_runner(config: dict[str, Any]) -> Runner:
    return Runner(default_registry(), Runtime(config=config))


def run_create(
    runner: Runner,
    workspace: Path,
    name: str,
    policy_id: str,
    *,
    task_id: str,
    checkpoints: MemoryCheckpoints | None = None,
) -> TaskResult:
    spec = TaskSpec(template=TEMPLATE, parameters={"name": name, "escalationPolicyId": policy_id})
    return runner.run(
        spec,
        task_id=task_id,
        workspace=workspace / task_id,
        checkpoints=checkpoints if checkpoints is not None else MemoryCheckpoints(),
    )


def expect_completed(result: TaskResult) -> dict[str, Any]:
    if result.status != "completed":
        message = result.error.message if result.error else "no error recorded"
        raise SystemExit(f"task {result.task_id} ended {result.status}: {message}")
    return result.step_outputs["pagerduty"]


def total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def writes(counts: dict[str, int]) -> int:
    return sum(n for key, n in counts.items() if key.split(" ", 1)[0] in WRITE_METHODS)


def merge(*all_counts: dict[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for counts in all_counts:
        for key, n in counts.items():
            merged[key] = merged.get(key, 0) + n
    return dict(sorted(merged.items()))


# Scenario 1: one account, API token and OAuth


def single_account(workspace: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for oauth in (False, True):
        with Simulator(DEMO_SEED) as sim:
            runner = make_runner({"pagerDuty": account_section(sim, oauth=oauth)})
            creates = []
            for n in (1, 2):
                sim.reset_counts()
                outputs = expect_completed(
                    run_create(
                        runner,
                        workspace,
                        f"single-{n}",
                        sim.demo_escalation_policy_id,
                        task_id=f"single-{'oauth' if oauth else 'token'}-{n}",
                    )
                )
                counts = sim.counts
                creates.append(
                    {
                        "requests": total(counts),
                        "token_requests": counts.get("POST /oauth/token", 0),
                        "created": outputs["created"],
                        "counts": counts,
                    }
                )
            client = runner.runtime.pagerduty.client()
            results["oauth" if oauth else "api_token"] = {
                "creates": creates,
                "client_token_fetches": client.token_fetch_count,
            }
            runner.runtime.close()
    return results


def single_account_verdict(single: dict[str, Any]) -> dict[str, bool]:
    token_creates = single["api_token"]["creates"]
    oauth_creates = single["oauth"]["creates"]
    api_ok = all(c["requests"] <= SINGLE_CREATE_LIMIT for c in token_creates)
    oauth_ok = (
        oauth_creates[0]["requests"] - oauth_creates[0]["token_requests"] <= SINGLE_CREATE_LIMIT
        and oauth_creates[0]["token_requests"] == 1
        and oauth_creates[1]["token_requests"] == 0
        and oauth_creates[1]["requests"] <= SINGLE_CREATE_LIMIT
        and single["oauth"]["client_token_fetches"] == 1
    )
    return {"api_token": api_ok, "oauth": oauth_ok}


# Scenario 2: several accounts, the escalation policy in the last one


def several_accounts(workspace: Path, account_counts: tuple[int, ...]) -> dict[int, Any]:
    results: dict[int, Any] = {}
    for count in account_counts:
        with ExitStack() as stack:
            sims = [
                stack.enter_context(Simulator(DEMO_SEED, subdomain=f"bench{n + 1}"))
                for n in range(count)
            ]
            runner = make_runner(multi_account_config(sims))
            outputs = expect_completed(
                run_create(
                    runner,
                    workspace,
                    "multi",
                    sims[-1].demo_escalation_policy_id,
                    task_id=f"multi-{count}",
                )
            )
            runner.runtime.close()
            per_account = [sim.counts for sim in sims]
        merged = merge(*per_account)
        results[count] = {
            "requests": total(merged),
            "policy_lookups": merged.get("GET /escalation_policies/{id}", 0),
            "requests_per_account": [total(c) for c in per_account],
            "account": outputs["account"],
            "counts": merged,
        }
    return results


def several_accounts_verdict(multi: dict[int, Any]) -> dict[str, Any]:
    """Compare each account count with the one before it.

    ``extra_requests`` and ``extra_policy_lookups`` are the differences. The target allows at
    most one more request, and it must be a policy lookup.
    """
    steps = []
    counts = sorted(multi)
    for before, after in itertools.pairwise(counts):
        extra = multi[after]["requests"] - multi[before]["requests"]
        extra_lookups = multi[after]["policy_lookups"] - multi[before]["policy_lookups"]
        steps.append(
            {
                "from": before,
                "to": after,
                "extra_requests": extra,
                "extra_policy_lookups": extra_lookups,
                "pass": extra <= 1 and extra == extra_lookups,
            }
        )
    return {"steps": steps, "pass": all(step["pass"] for step in steps)}


# Scenario 3: reruns


def reruns(workspace: Path) -> dict[str, Any]:
    with Simulator(DEMO_SEED) as sim:
        runner = make_runner({"pagerDuty": account_section(sim)})
        policy = sim.demo_escalation_policy_id
        checkpoints = MemoryCheckpoints()
        runs: dict[str, Any] = {}
        plan: list[tuple[str, str, MemoryCheckpoints]] = [
            ("first run", "rerun-task", checkpoints),
            ("same checkpoints", "rerun-task", checkpoints),
            ("fresh checkpoints", "rerun-task-2", MemoryCheckpoints()),
        ]
        for label, task_id, store in plan:
            sim.reset_counts()
            outputs = expect_completed(
                run_create(runner, workspace, "rerun", policy, task_id=task_id, checkpoints=store)
            )
            counts = sim.counts
            runs[label] = {
                "requests": total(counts),
                "writes": writes(counts),
                "created": outputs["created"],
                "service_id": outputs["serviceId"],
                "counts": counts,
            }
        with sim.state.lock:
            same_name = [s for s in sim.state.services.values() if s["name"] == "rerun"]
        runner.runtime.close()
    runs["services named 'rerun'"] = len(same_name)
    return runs


def reruns_verdict(rerun: dict[str, Any]) -> dict[str, bool]:
    first = rerun["first run"]["service_id"]
    return {
        "same_checkpoints": rerun["same checkpoints"]["writes"] == 0
        and rerun["same checkpoints"]["service_id"] == first,
        "fresh_checkpoints": rerun["fresh checkpoints"]["writes"] == 0
        and rerun["fresh checkpoints"]["service_id"] == first
        and rerun["services named 'rerun'"] == 1,
    }


# Scenario 4: concurrent creates with rate limits


@dataclass
class Exchange:
    """One HTTP request and its response, as the httpx transport saw them."""

    thread: int
    method: str
    path: str
    sent: float
    received: float
    status: int
    reset: float | None


class WireRecorder:
    """Records every exchange of every httpx client in the process while installed."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[WireRecorder]:
        original = httpx.HTTPTransport.handle_request
        recorder = self

        def handle_request(
            transport: httpx.HTTPTransport, request: httpx.Request
        ) -> httpx.Response:
            sent = time.monotonic()
            response = original(transport, request)
            reset = response.headers.get("ratelimit-reset")
            exchange = Exchange(
                thread=threading.get_ident(),
                method=request.method,
                path=request.url.path,
                sent=sent,
                received=time.monotonic(),
                status=response.status_code,
                reset=float(reset) if reset is not None else None,
            )
            with recorder._lock:
                recorder.exchanges.append(exchange)
            return response

        with mock.patch.object(httpx.HTTPTransport, "handle_request", handle_request):
            yield self


def check_retry_waits(exchanges: list[Exchange]) -> dict[str, Any]:
    """Check that every request after a 429, on the same thread, waited ``ratelimit-reset``.

    The gap is measured from the moment the 429 was received to the moment the retry was
    handed to the transport.
    """
    by_thread: dict[int, list[Exchange]] = {}
    for exchange in exchanges:
        by_thread.setdefault(exchange.thread, []).append(exchange)

    gaps: list[float] = []
    early: list[dict[str, Any]] = []
    not_retried = 0
    for sequence in by_thread.values():
        sequence.sort(key=lambda exchange: exchange.sent)
        for limited, retry in zip(sequence, [*sequence[1:], None], strict=True):
            if limited.status != 429:
                continue
            if retry is None or (retry.method, retry.path) != (limited.method, limited.path):
                not_retried += 1
                continue
            gap = retry.sent - limited.received
            gaps.append(gap)
            if limited.reset is None or gap < limited.reset:
                early.append(
                    {
                        "request": f"{limited.method} {limited.path}",
                        "gap": round(gap, 3),
                        "ratelimit_reset": limited.reset,
                    }
                )
    return {
        "retries_checked": len(gaps),
        "min_gap_seconds": round(min(gaps), 3) if gaps else None,
        "max_gap_seconds": round(max(gaps), 3) if gaps else None,
        "early_retries": early,
        "429_not_retried": not_retried,
    }


class RetryLogCounter(logging.Handler):
    """Counts the client's DEBUG "retrying PagerDuty ..." lines and the waits they state."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.waits: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.getMessage().startswith("retrying PagerDuty"):
            return
        wait = record.args[3] if isinstance(record.args, tuple) else None
        if isinstance(wait, int | float):
            self.waits.append(float(wait))


def concurrent_creates(
    workspace: Path, services: int, probability: float, reset_after: int
) -> dict[str, Any]:
    with Simulator(DEMO_SEED) as sim:
        runner = make_runner({"pagerDuty": account_section(sim)})
        policy = sim.demo_escalation_policy_id
        sim.inject("*", "429", probability=probability, reset_after=reset_after)
        names = [f"concurrent-{n:02d}" for n in range(services)]
        results: dict[str, TaskResult] = {}

        def create(name: str) -> None:
            results[name] = run_create(runner, workspace, name, policy, task_id=f"task-{name}")

        log_counter = RetryLogCounter()
        client_logger = logging.getLogger("scaffolder.pagerduty")
        client_logger.addHandler(log_counter)
        level = client_logger.level
        client_logger.setLevel(logging.DEBUG)
        recorder = WireRecorder()
        try:
            with recorder.installed():
                started = time.perf_counter()
                threads = [threading.Thread(target=create, args=(name,)) for name in names]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - started
        finally:
            client_logger.removeHandler(log_counter)
            client_logger.setLevel(level)
        sim.clear_faults()
        counts = sim.counts
        state = inspect_services(sim, names)
        runner.runtime.close()

    exchanges = recorder.exchanges
    failed = {
        name: result.error.message if result.error else result.status
        for name, result in results.items()
        if result.status != "completed"
    }
    return {
        "services": services,
        "probability": probability,
        "ratelimit_reset": reset_after,
        "seconds": round(elapsed, 2),
        "requests": total(counts),
        "served_429": sum(1 for exchange in exchanges if exchange.status == 429),
        "retry_log_lines": len(log_counter.waits),
        "retry_log_min_wait": min(log_counter.waits) if log_counter.waits else None,
        "retry_waits": check_retry_waits(exchanges),
        "failed_tasks": failed,
        **state,
        "counts": counts,
    }


def inspect_services(sim: Simulator, names: list[str]) -> dict[str, Any]:
    """Count the services of each name and their Backstage integrations in the simulator."""
    with sim.state.lock:
        services = list(sim.state.services.values())
        per_name = {name: [s for s in services if s["name"] == name] for name in names}
        integrations = {
            name: [
                i
                for s in found
                for i in sim.state.integrations_of(s["id"])
                if i.get("vendor_id") == BACKSTAGE_VENDOR_ID
            ]
            for name, found in per_name.items()
        }
    return {
        "names_missing": sorted(name for name, found in per_name.items() if not found),
        "names_duplicated": sorted(name for name, found in per_name.items() if len(found) > 1),
        "integration_counts_not_one": {
            name: len(found) for name, found in integrations.items() if len(found) != 1
        },
    }


def concurrent_verdict(run: dict[str, Any]) -> dict[str, bool]:
    waits = run["retry_waits"]
    return {
        "all_exist_once": not run["failed_tasks"]
        and not run["names_missing"]
        and not run["names_duplicated"],
        "one_backstage_integration_each": not run["integration_counts_not_one"],
        "waits_respected": not waits["early_retries"] and waits["429_not_retried"] == 0,
    }


# Report


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--services", type=int, default=50, help="number of concurrent creates (threads)"
    )
    parser.add_argument(
        "--probability",
        type=float,
        default=0.2,
        help="probability (0 to 1) that a request gets a 429 response",
    )
    parser.add_argument(
        "--reset", type=int, default=1, help="ratelimit-reset of each 429, in seconds"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        single = single_account(workspace)
        multi = several_accounts(workspace, (1, 2, 3))
        rerun = reruns(workspace)
        concurrent = concurrent_creates(workspace, args.services, args.probability, args.reset)

    report = {
        "machine": machine(),
        "single_account": single,
        "several_accounts": {str(count): data for count, data in multi.items()},
        "reruns": rerun,
        "concurrent": concurrent,
        "verdicts": {
            "single_account": single_account_verdict(single),
            "several_accounts": several_accounts_verdict(multi),
            "reruns": reruns_verdict(rerun),
            "concurrent": concurrent_verdict(concurrent),
        },
    }
    print(table(report))
    print(json.dumps(report, indent=2))
    RESULTS.write_text(markdown(report), encoding="utf-8")


def mark(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def table(report: dict[str, Any]) -> str:
    verdicts = report["verdicts"]
    single = report["single_account"]
    lines = [f"{'measurement':<58}{'value':>10}  result"]

    def row(label: str, value: Any, passed: bool | None = None) -> None:
        result = "" if passed is None else mark(passed)
        lines.append(f"{label:<58}{value!s:>10}  {result}")

    for auth in ("api_token", "oauth"):
        for n, create in enumerate(single[auth]["creates"], start=1):
            row(f"1 account, {auth}, create {n}: requests", create["requests"])
            row(f"1 account, {auth}, create {n}: token requests", create["token_requests"])
        row(f"1 account, {auth}: target", "", verdicts["single_account"][auth])
    for count, data in report["several_accounts"].items():
        row(f"{count} account(s): requests", data["requests"])
        row(f"{count} account(s): GET /escalation_policies/{{id}}", data["policy_lookups"])
    for step in verdicts["several_accounts"]["steps"]:
        row(
            f"{step['from']} -> {step['to']} accounts: extra requests",
            step["extra_requests"],
            step["pass"],
        )
    for label in ("first run", "same checkpoints", "fresh checkpoints"):
        data = report["reruns"][label]
        row(f"rerun, {label}: requests / writes", f"{data['requests']} / {data['writes']}")
    row("rerun, same checkpoints: target", "", verdicts["reruns"]["same_checkpoints"])
    row("rerun, fresh checkpoints: target", "", verdicts["reruns"]["fresh_checkpoints"])

    concurrent = report["concurrent"]
    waits = concurrent["retry_waits"]
    row(f"{concurrent['services']} concurrent: wall seconds", concurrent["seconds"])
    row(f"{concurrent['services']} concurrent: requests", concurrent["requests"])
    row(f"{concurrent['services']} concurrent: 429s served", concurrent["served_429"])
    row(f"{concurrent['services']} concurrent: min retry gap (s)", waits["min_gap_seconds"])
    for check, passed in verdicts["concurrent"].items():
        row(f"{concurrent['services']} concurrent: {check}", "", passed)
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    info = report["machine"]
    verdicts = report["verdicts"]
    single = report["single_account"]
    token_creates = single["api_token"]["creates"]
    oauth_creates = single["oauth"]["creates"]
    multi = report["several_accounts"]
    rerun = report["reruns"]
    concurrent = report["concurrent"]
    waits = concurrent["retry_waits"]
    services = concurrent["services"]

    multi_rows = "\n".join(
        f"| {count} | {data['requests']} | {data['policy_lookups']} | "
        f"{', '.join(map(str, data['requests_per_account']))} |"
        for count, data in multi.items()
    )
    step_rows = "\n".join(
        f"| {step['from']} -> {step['to']} | {step['extra_requests']} | "
        f"{step['extra_policy_lookups']} | {mark(step['pass'])} |"
        for step in verdicts["several_accounts"]["steps"]
    )
    rerun_rows = "\n".join(
        f"| {label} | {rerun[label]['requests']} | {rerun[label]['writes']} | "
        f"{rerun[label]['created']} |"
        for label in ("first run", "same checkpoints", "fresh checkpoints")
    )
    concurrent_checks = verdicts["concurrent"]
    first_counts = ", ".join(f"`{key}` {n}" for key, n in token_creates[0]["counts"].items())
    return f"""## PagerDuty: `pagerduty:service:create` requests, reruns and rate limits

Command: `{COMMAND}`.
It runs a one-step template through the in-process `Runner` against PagerDuty simulators on
127.0.0.1.
Machine: {info["nproc"]} CPUs (nproc), {info["cpu"]}, {info["python"]}, {info["platform"]}.

### One account

| authentication | create 1 requests | create 2 requests | token requests (1, 2) | target |
| --- | ---: | ---: | --- | --- |
| API token | {token_creates[0]["requests"]} | {token_creates[1]["requests"]} | 0, 0 | \
{mark(verdicts["single_account"]["api_token"])} |
| OAuth | {oauth_creates[0]["requests"]} | {oauth_creates[1]["requests"]} | \
{oauth_creates[0]["token_requests"]}, {oauth_creates[1]["token_requests"]} | \
{mark(verdicts["single_account"]["oauth"])} |

Target: at most {SINGLE_CREATE_LIMIT} REST requests per create, and with OAuth one token
request per process. The two creates of each row run in the same process, on different
service names.
Requests of the first API-token create: {first_counts}.
Tokens the OAuth client fetched for its two creates: {single["oauth"]["client_token_fetches"]}.

### Several accounts (escalation policy in the last account)

| accounts | requests | `GET /escalation_policies/{{id}}` | requests per account |
| ---: | ---: | ---: | --- |
{multi_rows}

| accounts | extra requests | extra policy lookups | target: at most one more request |
| --- | ---: | ---: | --- |
{step_rows}

With one account the action takes that account as the owner of the escalation policy, with no
lookup. With two or more it looks the policy up in every account (`find_owner` in
`scaffolder.pagerduty.services`), so it also detects a policy id that several accounts
contain. The second account therefore adds two lookups, the first account's and its own, and
each later account adds one.

### Reruns

| run | requests | writes (POST/PUT/DELETE) | `created` output |
| --- | ---: | ---: | --- |
{rerun_rows}

A rerun with the same checkpoints replays the saved outputs, `created` included.

- Same checkpoints: {mark(verdicts["reruns"]["same_checkpoints"])}.
- Fresh checkpoints (a new task, same name): {mark(verdicts["reruns"]["fresh_checkpoints"])}.
- Services named `rerun` in the account afterwards: {rerun["services named 'rerun'"]}.

### {services} concurrent creates, 429 on {concurrent["probability"]:.0%} of requests

{services} threads each run their own task with their own checkpoints. They share one `Runtime`
and so one PagerDuty client, as the bridge does. The simulator answers each request on every
route with 429 at probability {concurrent["probability"]}, with `ratelimit-reset` set to
{concurrent["ratelimit_reset"]} s. The simulator sends whole seconds only, so 1 s is the
smallest wait above zero.

- Wall time: {concurrent["seconds"]} s.
- Requests: {concurrent["requests"]}, of which 429s served: {concurrent["served_429"]}.
- Failed tasks: {len(concurrent["failed_tasks"])}.
- Retries after a 429 checked: {waits["retries_checked"]}.
- Gap from receiving the 429 to sending the retry: min {waits["min_gap_seconds"]} s,
  max {waits["max_gap_seconds"]} s. Both times come from the httpx transport.
- Retries sent before `ratelimit-reset` elapsed: {len(waits["early_retries"])}.
- 429s never retried: {waits["429_not_retried"]}.
- Every service exists exactly once: {mark(concurrent_checks["all_exist_once"])}.
- One Backstage integration (vendor {BACKSTAGE_VENDOR_ID}) per service: \
{mark(concurrent_checks["one_backstage_integration_each"])}.
- Waits respected: {mark(concurrent_checks["waits_respected"])}.
"""


if __name__ == "__main__":
    main_bench()
