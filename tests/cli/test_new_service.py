"""``scaffold new --template service-with-pagerduty`` end to end, on the simulator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from tests.cli.conftest import run_cli, service_args

from scaffolder.pagerduty.simulator import Simulator


def _catalog(output: Path) -> dict[str, object]:
    return yaml.safe_load((output / "catalog-info.yaml").read_text(encoding="utf-8"))


def _commits(repo: Path, ref: str = "HEAD") -> list[str]:
    result = subprocess.run(["git", "-C", str(repo), "log", "--format=%H", ref],
                            capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_new_writes_local_repository(tmp_path: Path, simulator: Simulator,
                                     pd_config: Path) -> None:
    output = tmp_path / "payments"
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"),
                     "--output", str(output), *service_args(simulator))
    assert result.exit_code == 0, result.output
    annotations = _catalog(output)["metadata"]["annotations"]  # type: ignore[index]
    service = next(iter(simulator.state.services.values()))
    assert annotations["pagerduty.com/service-id"] == service["id"]
    assert annotations["pagerduty.com/account"] == "default"
    assert len(annotations["pagerduty.com/integration-key"]) == 32
    assert len(_commits(output)) == 1


def test_new_pushes_to_bare_remote(tmp_path: Path, simulator: Simulator, pd_config: Path,
                                   bare_remote: Path) -> None:
    output = tmp_path / "payments"
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                     str(output), *service_args(simulator, repoUrl=str(bare_remote)))
    assert result.exit_code == 0, result.output
    assert len(_commits(bare_remote, "main")) == 1
    shown = subprocess.run(["git", "-C", str(bare_remote), "show", "main:catalog-info.yaml"],
                           capture_output=True, text=True, check=True).stdout
    assert "pagerduty.com/service-id" in shown


def test_rerun_creates_nothing_new(tmp_path: Path, simulator: Simulator,
                                   pd_config: Path) -> None:
    ids = []
    for attempt in range(2):
        output = tmp_path / f"run{attempt}"
        result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                         "--no-input", "--state-dir", str(tmp_path / "state"),
                         "--output", str(output), *service_args(simulator))
        assert result.exit_code == 0, result.output
        ids.append(_catalog(output)["metadata"]["annotations"])  # type: ignore[index]
    assert ids[0] == ids[1]
    assert simulator.counts.get("POST /services") == 1
    assert simulator.counts.get("POST /services/{id}/integrations") == 1


def test_resume_does_not_repeat_pagerduty_writes(tmp_path: Path, simulator: Simulator,
                                                 pd_config: Path, bare_remote: Path) -> None:
    hook = bare_remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    output = tmp_path / "payments"
    args = ["--config", str(pd_config), "new", "-t", "service-with-pagerduty", "--no-input",
            "--state-dir", str(tmp_path / "state"), "--output", str(output), "--json",
            *service_args(simulator, repoUrl=str(bare_remote))]

    failed = run_cli(*args)
    assert failed.exit_code == 1
    report = json.loads(failed.stdout)
    assert report["status"] == "failed"
    assert "pushes are frozen" in report["error"]["message"]
    assert not output.exists()
    assert _commits_or_none(bare_remote) is None

    hook.unlink()
    resumed = run_cli("--config", str(pd_config), "new", "--no-input", "--state-dir",
                      str(tmp_path / "state"), "--resume", report["taskId"], "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["status"] == "completed"
    assert simulator.counts.get("POST /services") == 1
    assert simulator.counts.get("POST /services/{id}/integrations") == 1
    assert len(_commits(bare_remote, "main")) == 1


def _commits_or_none(repo: Path) -> list[str] | None:
    result = subprocess.run(["git", "-C", str(repo), "log", "--format=%H", "main"],
                            capture_output=True, text=True)
    return result.stdout.split() if result.returncode == 0 else None


def test_simulate_flag_says_nothing_reached_pagerduty(tmp_path: Path) -> None:
    output = tmp_path / "payments"
    with Simulator() as probe:
        policy = probe.demo_escalation_policy_id
    result = run_cli("new", "-t", "service-with-pagerduty", "--simulate-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                     str(output), "--set", "name=payments", "--set", "description=Pays",
                     "--set", "owner=platform", "--set", f"escalationPolicyId={policy}")
    assert result.exit_code == 0, result.output
    assert "nothing reaches PagerDuty" in result.stderr
    assert "pagerduty.com/service-id" in (output / "catalog-info.yaml").read_text()


def test_dry_run_writes_and_creates_nothing(tmp_path: Path, simulator: Simulator,
                                            pd_config: Path, bare_remote: Path) -> None:
    output = tmp_path / "payments"
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--dry-run", "--state-dir", str(tmp_path / "state"),
                     "--output", str(output), *service_args(simulator, repoUrl=str(bare_remote)))
    assert result.exit_code == 0, result.output
    assert not output.exists()
    assert not [name for name in simulator.counts if not name.startswith("GET ")]
    assert _commits_or_none(bare_remote) is None
    assert list(tmp_path.glob(".payments.scaffold-*")) == []


def test_json_result_has_outputs(tmp_path: Path, simulator: Simulator, pd_config: Path) -> None:
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--json", "--state-dir", str(tmp_path / "state"),
                     "--output", str(tmp_path / "out"), *service_args(simulator))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "completed"
    assert report["steps"]["pagerduty"]["output"]["created"] is True
    assert report["steps"]["publish"]["status"] == "skipped"
    assert simulator.api_token not in result.output


def test_no_color_has_no_escape_codes(tmp_path: Path, simulator: Simulator,
                                      pd_config: Path) -> None:
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                     str(tmp_path / "out"), *service_args(simulator),
                     env={"NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "\x1b[" not in result.output


def test_resume_of_completed_task_is_refused(tmp_path: Path, simulator: Simulator,
                                             pd_config: Path) -> None:
    output = tmp_path / "payments"
    first = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                    "--no-input", "--json", "--state-dir", str(tmp_path / "state"),
                    "--output", str(output), *service_args(simulator))
    task_id = json.loads(first.stdout)["taskId"]
    again = run_cli("--config", str(pd_config), "new", "--resume", task_id, "--state-dir",
                    str(tmp_path / "state"))
    assert again.exit_code == 2
    assert "already completed" in again.stderr


def test_existing_service_is_checked_and_annotated(tmp_path: Path, simulator: Simulator,
                                                   pd_config: Path) -> None:
    first = tmp_path / "first"
    run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty", "--no-input",
            "--state-dir", str(tmp_path / "state"), "--output", str(first),
            *service_args(simulator))
    created = _catalog(first)["metadata"]["annotations"]  # type: ignore[index]

    second = tmp_path / "second"
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                     str(second), *service_args(simulator, name="payments-web",
                                                serviceId=created["pagerduty.com/service-id"]))
    assert result.exit_code == 0, result.output
    assert _catalog(second)["metadata"]["annotations"] == created  # type: ignore[index]
    assert simulator.counts.get("POST /services") == 1


def test_existing_service_that_does_not_exist(tmp_path: Path, simulator: Simulator,
                                              pd_config: Path) -> None:
    output = tmp_path / "out"
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                     str(output), *service_args(simulator, serviceId="PNOTEXIST"))
    assert result.exit_code == 1
    assert "PNOTEXIST" in result.stderr
    assert not output.exists()


def test_saved_task_holds_no_url_credentials(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "template.yaml").write_text(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: t}\n"
        "spec:\n  type: service\n  parameters: {properties: {repoUrl: {type: string}}}\n"
        "  steps: [{id: log, action: debug:log, input: {message: hi}}]\n", encoding="utf-8")
    result = run_cli("new", "-t", str(folder), "--no-input", "--output", str(tmp_path / "out"),
                     "--state-dir", str(tmp_path / "state"),
                     "--set", "repoUrl=https://bot:hunter2-secret@git.example.com/r.git")
    assert result.exit_code == 0, result.output
    saved = "".join(path.read_text() for path in (tmp_path / "state").rglob("*.json"))
    assert "hunter2-secret" not in saved
    assert "git.example.com/r.git" in saved


def test_missing_remote_fails_before_pagerduty(tmp_path: Path, simulator: Simulator,
                                               pd_config: Path) -> None:
    output = tmp_path / "out"
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                     str(output), *service_args(simulator, repoUrl=str(tmp_path / "nope.git")))
    assert result.exit_code == 2
    assert "step publish cannot publish" in result.stderr
    assert not [name for name in simulator.counts if name.startswith("POST")]
    assert not output.exists()


def test_taken_branch_fails_before_pagerduty(tmp_path: Path, simulator: Simulator,
                                             pd_config: Path, bare_remote: Path) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "a.txt").write_text("a", encoding="utf-8")
    for command in (["init", "-q", "-b", "main"], ["add", "-A"],
                    ["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "x"],
                    ["push", "-q", str(bare_remote), "main"]):
        subprocess.run(["git", "-C", str(seed), *command], check=True)
    result = run_cli("--config", str(pd_config), "new", "-t", "service-with-pagerduty",
                     "--no-input", "--state-dir", str(tmp_path / "state"), "--output",
                     str(tmp_path / "out"), *service_args(simulator, repoUrl=str(bare_remote)))
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert not [name for name in simulator.counts if name.startswith("POST")]
