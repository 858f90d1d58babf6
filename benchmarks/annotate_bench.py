"""Benchmark of ``scaffold catalog annotate`` on a large catalog and three PagerDuty accounts.

Generates 2,000 catalog-info.yaml files that carry only an integration key, and three
simulated accounts of 1,000 services each. Runs the command in-process twice (the second run
has nothing to change) and reports the PagerDuty requests each account received, the wall
time, and the writes of the second run. Prints a table and JSON, and writes a markdown section
to /tmp/annotate-bench-results.md.

    python benchmarks/annotate_bench.py [--entities N] [--services N]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from scaffolder.cli import main
from scaffolder.pagerduty.simulator import Simulator

ACCOUNTS = ("main", "eu", "spare")
UNKNOWN_KEYS = 10
RESULTS = Path("/tmp/annotate-bench-results.md")


def key_of(account: int, service: int) -> str:
    return f"{account:02x}{service:030x}"


def account_seed(account_id: str, number: int, services: int) -> dict[str, Any]:
    return {
        "account": {"subdomain": account_id},
        "users": [{"name": "Ada", "email": "ada@example.com"}],
        "escalation_policies": [{"name": "Primary", "escalation_rules": [{"targets": ["Ada"]}]}],
        "services": [
            {
                "name": f"{account_id}-service-{n}",
                "escalation_policy": "Primary",
                "integrations": [
                    {
                        "type": "generic_events_api_inbound_integration",
                        "name": "Backstage",
                        "vendor": "PRO19CT",
                        "integration_key": key_of(number, n),
                    }
                ],
            }
            for n in range(services)
        ],
    }


def write_catalog(folder: Path, entities: int, services: int) -> None:
    """Write ``entities`` files; keys spread over the accounts, the last few unknown."""
    for n in range(entities):
        if n >= entities - UNKNOWN_KEYS:
            key = f"{n:032x}"[:-2] + "ff"
        else:
            key = key_of(n % len(ACCOUNTS), (n // len(ACCOUNTS)) % services)
        path = folder / f"entity-{n:05d}" / "catalog-info.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(
            "apiVersion: backstage.io/v1alpha1\n"
            "kind: Component\n"
            "metadata:\n"
            f"  name: entity-{n}\n"
            "  annotations:\n"
            f'    pagerduty.com/integration-key: "{key}"\n'
            "spec:\n"
            "  type: service\n"
            "  owner: team-a\n"
            "  lifecycle: production\n",
            encoding="utf-8",
        )


def run_once(config: Path, catalog: Path, sims: dict[str, Simulator]) -> dict[str, Any]:
    for sim in sims.values():
        sim.reset_counts()
    started = time.perf_counter()
    result = CliRunner().invoke(
        main, ["--config", str(config), "catalog", "annotate", str(catalog), "--json"]
    )
    elapsed = time.perf_counter() - started
    body = json.loads(result.stdout)
    counts = {account: sim.counts for account, sim in sims.items()}
    return {
        "exit_code": result.exit_code,
        "seconds": round(elapsed, 2),
        "summary": body["summary"],
        "files_changed": len(body["files"]),
        "requests": {account: sum(c.values()) for account, c in counts.items()},
        "listing_pages": {account: c.get("GET /services", 0) for account, c in counts.items()},
        "writes": {
            account: sum(v for k, v in c.items() if not k.startswith("GET "))
            for account, c in counts.items()
        },
    }


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--services", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        started = time.perf_counter()
        sims = {
            account: stack.enter_context(Simulator(account_seed(account, n, args.services)))
            for n, account in enumerate(ACCOUNTS)
        }
        seeding = time.perf_counter() - started
        accounts = [
            {"id": account, "isDefault": n == 0, **sim.app_config()}
            for n, (account, sim) in enumerate(sims.items())
        ]
        config = folder / "app-config.yaml"
        config.write_text(yaml.safe_dump({"pagerDuty": {"accounts": accounts}}))
        write_catalog(folder / "catalog", args.entities, args.services)

        first = run_once(config, folder / "catalog", sims)
        second = run_once(config, folder / "catalog", sims)

    report = {
        "entities": args.entities,
        "services_per_account": args.services,
        "unknown_keys": UNKNOWN_KEYS,
        "seeding_seconds": round(seeding, 2),
        "first_run": first,
        "rerun": second,
        "machine": f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}",
    }
    print(table(report))
    print(json.dumps(report, indent=2))
    RESULTS.write_text(markdown(report), encoding="utf-8")


def table(report: dict[str, Any]) -> str:
    lines = [f"{'run':<10}{'account':<8}{'requests':>10}{'pages':>7}{'writes':>8}{'seconds':>9}"]
    for run in ("first_run", "rerun"):
        data = report[run]
        for account in ACCOUNTS:
            lines.append(
                f"{run:<10}{account:<8}{data['requests'][account]:>10}"
                f"{data['listing_pages'][account]:>7}{data['writes'][account]:>8}"
                f"{data['seconds']:>9}"
            )
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    first, rerun = report["first_run"], report["rerun"]
    rows = "\n".join(
        f"| {account} | {first['requests'][account]} | {first['listing_pages'][account]} | "
        f"{first['writes'][account]} | {rerun['requests'][account]} | {rerun['writes'][account]} |"
        for account in ACCOUNTS
    )
    return f"""## `scaffold catalog annotate`: {report["entities"]} entities, 3 accounts

Workload: `benchmarks/annotate_bench.py`; {report["entities"]} catalog-info.yaml files with only
an integration key ({report["unknown_keys"]} of them unknown to every account), three simulated
accounts of {report["services_per_account"]} services each, in-process CLI run, {report["machine"]}.

| account | requests | listing pages | writes | rerun requests | rerun writes |
| --- | ---: | ---: | ---: | ---: | ---: |
{rows}

First run: {first["seconds"]} s, exit {first["exit_code"]} (the unknown keys are problems),
summary {first["summary"]}, {first["files_changed"]} files changed.
Rerun: {rerun["seconds"]} s, exit {rerun["exit_code"]}, {rerun["files_changed"]} files changed.
Unknown keys cost no request of their own: the listing is the only API that returns keys.
"""


if __name__ == "__main__":
    main_bench()
