"""Benchmark of ``scaffold serve`` against the PagerDuty simulator.

Run it as ``python benchmarks/bridge_bench.py``. It starts a simulator in this process and the
bridge as a subprocess (default settings: 2 workers, SQLite in a temporary folder), then
measures:

1. burst: 100 tasks submitted at once (each creates a PagerDuty service): all must complete,
   none lost or run twice;
2. ``GET /v2/actions`` latency with 50 concurrent clients (target: p99 under 20 ms);
3. SSE delivery delay, from the ``createdAt`` the store gives an event to the moment a
   subscriber reads it (target: p99 under 100 ms);
4. memory: the bridge's RSS after 1,000 completed tasks against its RSS after the first
   (target: within 50 MB).

It prints a table and the same numbers as JSON on the last line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import yaml

from scaffolder.pagerduty.simulator import Simulator

TOKEN = "benchmark-token-8c2f51d07a"
PREFIX = "/api/scaffolder"
BURST_TASKS = 100
TOTAL_TASKS = 1000
ACTION_CLIENTS = 50
ACTION_REQUESTS_PER_CLIENT = 40
ACTION_RATE_PER_CLIENT = 5.0
SSE_TASKS = 20

PAGERDUTY_TEMPLATE = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "bench-pagerduty", "title": "bench", "description": "bench"},
    "spec": {
        "type": "service",
        "parameters": [{"required": ["name", "policy"],
                        "properties": {"name": {"type": "string"},
                                       "policy": {"type": "string"}}}],
        "steps": [
            {"id": "pagerduty", "name": "PagerDuty", "action": "pagerduty:service:create",
             "input": {"name": "${{ parameters.name }}",
                       "escalationPolicyId": "${{ parameters.policy }}"}},
            {"id": "log", "name": "Log", "action": "debug:log",
             "input": {"message": "created ${{ steps.pagerduty.output.serviceId }}"}},
        ],
    },
}

EVENTS_TEMPLATE = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "bench-events", "title": "bench", "description": "bench"},
    "spec": {
        "type": "service",
        "steps": [
            # The first wait lets the subscriber connect before the events it times.
            {"id": "start", "name": "Start", "action": "debug:wait",
             "input": {"milliseconds": 500}},
            *(step
              for number in range(5)
            for step in (
                {"id": f"log{number}", "name": f"Log {number}", "action": "debug:log",
                 "input": {"message": f"line {number}"}},
                {"id": f"wait{number}", "name": f"Wait {number}", "action": "debug:wait",
                 "input": {"milliseconds": 30}},
            )),
        ],
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def write_setup(folder: Path, sim: Simulator) -> Path:
    for template in (PAGERDUTY_TEMPLATE, EVENTS_TEMPLATE):
        target = folder / "templates" / template["metadata"]["name"]  # type: ignore[index]
        target.mkdir(parents=True)
        (target / "template.yaml").write_text(yaml.safe_dump(template), encoding="utf-8")
    config = {
        "pagerDuty": sim.app_config(),
        "scaffolder": {
            "templates": [str(folder / "templates")],
            "auth": {"tokens": [{"token": TOKEN, "principal": "user:default/bench"}]},
            "workingDirectory": str(folder / "work"),
        },
    }
    path = folder / "app-config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextlib.contextmanager
def bridge_process(config: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    command = [sys.executable, "-c", "from scaffolder.cli import main; main()", "serve",
               "--config", str(config), "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"bridge did not start: {log.read_text()}")
                time.sleep(0.1)
            yield url, process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


class Bench:
    def __init__(self, url: str, process: subprocess.Popen[bytes], sim: Simulator) -> None:
        self.url = url
        self.sim = sim
        self.process = psutil.Process(process.pid)
        self.headers = {"Authorization": f"Bearer {TOKEN}"}
        self.submitted = 0

    def api(self, path: str) -> str:
        return f"{self.url}{PREFIX}{path}"

    async def submit(self, client: httpx.AsyncClient, template: str,
                     values: dict[str, Any]) -> str:
        response = await client.post(self.api("/v2/tasks"), json={
            "templateRef": f"template:default/{template}", "values": values,
        })
        response.raise_for_status()
        self.submitted += 1
        return str(response.json()["id"])

    async def submit_pagerduty_tasks(self, count: int) -> list[str]:
        limits = httpx.Limits(max_connections=count)
        async with httpx.AsyncClient(headers=self.headers, limits=limits, timeout=60) as client:
            policy = self.sim.demo_escalation_policy_id
            start = self.submitted
            return list(await asyncio.gather(*(
                self.submit(client, "bench-pagerduty",
                            {"name": f"bench-{start + number}", "policy": policy})
                for number in range(count)
            )))

    def wait_completed(self, task_ids: list[str], timeout: float = 600) -> dict[str, str]:
        pending = set(task_ids)
        statuses: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        with httpx.Client(headers=self.headers, timeout=30) as client:
            while pending and time.monotonic() < deadline:
                for status in ("completed", "failed", "cancelled"):
                    response = client.get(self.api("/v2/tasks"),
                                          params={"status": status, "limit": 1000})
                    for task in response.json()["tasks"]:
                        if task["id"] in pending:
                            statuses[task["id"]] = status
                            pending.discard(task["id"])
                if pending:
                    time.sleep(0.2)
        if pending:
            raise RuntimeError(f"{len(pending)} task(s) did not finish in {timeout}s")
        return statuses

    def completion_counts(self, task_ids: list[str]) -> list[int]:
        with httpx.Client(headers=self.headers, timeout=30) as client:
            counts = []
            for task_id in task_ids:
                events = client.get(self.api(f"/v2/tasks/{task_id}/events")).json()
                counts.append(sum(1 for event in events if event["type"] == "completion"))
        return counts

    def rss_mb(self) -> float:
        return float(self.process.memory_info().rss) / 1024 / 1024

    # --- phases -----------------------------------------------------------------------------

    def burst(self) -> dict[str, Any]:
        posts_before = self.sim.counts.get("POST /services", 0)
        started = time.monotonic()
        task_ids = asyncio.run(self.submit_pagerduty_tasks(BURST_TASKS))
        statuses = self.wait_completed(task_ids)
        elapsed = time.monotonic() - started
        completions = self.completion_counts(task_ids)
        return {
            "tasks": len(task_ids),
            "unique_ids": len(set(task_ids)),
            "completed": sum(1 for status in statuses.values() if status == "completed"),
            "tasks_with_one_completion_event": sum(1 for count in completions if count == 1),
            "pagerduty_services_created": self.sim.counts.get("POST /services", 0) - posts_before,
            "seconds": round(elapsed, 2),
            "tasks_per_second": round(len(task_ids) / elapsed, 1),
        }

    def actions_latency(self, rate_per_client: float | None) -> dict[str, Any]:
        """Time ``GET /v2/actions`` from 50 concurrent clients, each a thread with its own
        connection (httpx's async client was the bottleneck at about 250 requests/s).

        With ``rate_per_client`` each client sends that many requests per second (an open
        load). With ``None`` each sends its next request as soon as the last one returns, so
        the run measures saturation, where latency is 50 queued requests over the throughput.
        """
        samples: list[float] = []
        lock = threading.Lock()
        interval = 1 / rate_per_client if rate_per_client else 0.0
        barrier = threading.Barrier(ACTION_CLIENTS)

        def client_loop(offset: float) -> None:
            with httpx.Client(headers=self.headers, timeout=30) as client:
                client.get(self.api("/v2/actions")).raise_for_status()
                barrier.wait()
                next_send = time.perf_counter() + offset * interval
                for _ in range(ACTION_REQUESTS_PER_CLIENT):
                    delay = next_send - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    started = time.perf_counter()
                    client.get(self.api("/v2/actions")).raise_for_status()
                    with lock:
                        samples.append((time.perf_counter() - started) * 1000)
                    next_send += interval

        threads = [threading.Thread(target=client_loop, args=(number / ACTION_CLIENTS,))
                   for number in range(ACTION_CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        return {"clients": ACTION_CLIENTS,
                "offered_per_second": (ACTION_CLIENTS * rate_per_client
                                       if rate_per_client else "as fast as possible"),
                "requests": len(samples),
                "throughput_per_second": round(len(samples) / elapsed, 1),
                "p50_ms": round(percentile(samples, 0.5), 2),
                "p99_ms": round(percentile(samples, 0.99), 2)}

    def actions_latency_wrk(self) -> dict[str, Any] | None:
        """Saturate ``GET /v2/actions`` with wrk (50 connections, 10 s), when wrk is installed.

        wrk is a C load generator, so unlike the Python clients above it does not take the
        CPU the server needs on a two-core machine.
        """
        wrk = shutil.which("wrk")
        if wrk is None:
            return None
        output = subprocess.run(
            [wrk, "-t2", f"-c{ACTION_CLIENTS}", "-d10s", "--latency",
             "-H", f"Authorization: {self.headers['Authorization']}", self.api("/v2/actions")],
            capture_output=True, text=True, check=True,
        ).stdout
        pattern = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", re.M)
        percentiles = {label: _to_ms(value, unit) for label, value, unit in pattern.findall(output)}
        throughput = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
        return {"clients": ACTION_CLIENTS, "tool": "wrk -t2 -c50 -d10s",
                "throughput_per_second": float(throughput.group(1)) if throughput else None,
                "p50_ms": percentiles.get("50"), "p99_ms": percentiles.get("99")}

    def sse_delay(self) -> dict[str, Any]:
        async def submit_all() -> list[str]:
            async with httpx.AsyncClient(headers=self.headers, timeout=30) as client:
                return [await self.submit(client, "bench-events", {}) for _ in range(SSE_TASKS)]

        delays: list[float] = []
        lock = threading.Lock()

        def subscribe(task_id: str) -> None:
            with httpx.Client(headers=self.headers, timeout=60) as client, client.stream(
                "GET", self.api(f"/v2/tasks/{task_id}/eventstream")
            ) as response:
                connected = time.time()
                for line in response.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    received = time.time()
                    event = json.loads(line.removeprefix("data: "))
                    created = datetime.fromisoformat(event["createdAt"]).timestamp()
                    # Events recorded before the stream opened are catch-up, not delivery.
                    if created >= connected:
                        with lock:
                            delays.append((received - created) * 1000)

        task_ids = asyncio.run(submit_all())
        threads = [threading.Thread(target=subscribe, args=(task_id,)) for task_id in task_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        return {"subscribers": len(task_ids), "live_events": len(delays),
                "p50_ms": round(percentile(delays, 0.5), 2),
                "p99_ms": round(percentile(delays, 0.99), 2),
                "max_ms": round(max(delays), 2)}

    def run_until(self, total: int) -> int:
        completed = 0
        while self.submitted < total:
            batch = min(BURST_TASKS, total - self.submitted)
            task_ids = asyncio.run(self.submit_pagerduty_tasks(batch))
            statuses = self.wait_completed(task_ids)
            completed += sum(1 for status in statuses.values() if status == "completed")
        return completed


def _to_ms(value: str, unit: str) -> float:
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bridge-bench-") as temporary, Simulator() as sim:
        folder = Path(temporary)
        config = write_setup(folder, sim)
        with bridge_process(config, folder / "serve.log") as (url, process):
            bench = Bench(url, process, sim)
            first = asyncio.run(bench.submit_pagerduty_tasks(1))
            bench.wait_completed(first)
            rss_first = bench.rss_mb()

            burst = bench.burst()
            actions = bench.actions_latency(ACTION_RATE_PER_CLIENT)
            actions_saturated = bench.actions_latency(None)
            actions_wrk = bench.actions_latency_wrk()
            sse = bench.sse_delay()
            bench.run_until(TOTAL_TASKS)
            rss_last = bench.rss_mb()

    results = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "burst": burst,
        "actions_latency": actions,
        "actions_latency_saturated": actions_saturated,
        "actions_latency_wrk": actions_wrk,
        "sse_delay": sse,
        "memory": {"rss_after_first_task_mb": round(rss_first, 1),
                   f"rss_after_{TOTAL_TASKS}_tasks_mb": round(rss_last, 1),
                   "growth_mb": round(rss_last - rss_first, 1)},
    }
    print_table(results)
    print(json.dumps(results))


def print_table(results: dict[str, Any]) -> None:
    burst, actions = results["burst"], results["actions_latency"]
    saturated = results["actions_latency_saturated"]
    sse, memory = results["sse_delay"], results["memory"]
    rows = [
        ("burst of 100 tasks: completed", f"{burst['completed']}/{burst['tasks']}", "100/100"),
        ("burst: PagerDuty services created", str(burst["pagerduty_services_created"]), "100"),
        ("burst: tasks with one completion event",
         str(burst["tasks_with_one_completion_event"]), "100"),
        ("burst: wall time", f"{burst['seconds']} s ({burst['tasks_per_second']}/s)", ""),
        (f"GET /v2/actions p50 / p99, 50 clients at {actions['offered_per_second']}/s",
         f"{actions['p50_ms']} / {actions['p99_ms']} ms", "p99 < 20 ms"),
        ("GET /v2/actions p50 / p99, 50 clients saturating",
         f"{saturated['p50_ms']} / {saturated['p99_ms']} ms "
         f"({saturated['throughput_per_second']}/s)", ""),
        *([("GET /v2/actions p50 / p99, 50 connections, wrk saturating",
            f"{results['actions_latency_wrk']['p50_ms']} / "
            f"{results['actions_latency_wrk']['p99_ms']} ms "
            f"({results['actions_latency_wrk']['throughput_per_second']}/s)", "p99 < 20 ms")]
          if results.get("actions_latency_wrk") else []),
        ("SSE delivery delay p50 / p99", f"{sse['p50_ms']} / {sse['p99_ms']} ms",
         "p99 < 100 ms"),
        ("RSS after first task / after 1,000",
         f"{memory['rss_after_first_task_mb']} / "
         f"{memory[f'rss_after_{TOTAL_TASKS}_tasks_mb']} MB", ""),
        ("RSS growth", f"{memory['growth_mb']} MB", "< 50 MB"),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)}  {'result':<34} target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:<34} {target}")


if __name__ == "__main__":
    main()
