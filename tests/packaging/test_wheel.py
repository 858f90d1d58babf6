"""A wheel installed outside the checkout carries its manifests, schemas and templates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(dist), str(ROOT)], check=True)
    wheels = list(dist.glob("scaffolder-*.whl"))
    assert len(wheels) == 1
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheels[0])], check=True)
    return target


def _scaffold(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = (f"import sys; sys.path.insert(0, {str(site)!r}); import scaffolder; "
            f"assert scaffolder.__file__.startswith({str(site)!r}), scaffolder.__file__; "
            "from scaffolder.cli import main; main()")
    env = {**os.environ, "SCAFFOLDER_STATE_DIR": str(cwd / "state")}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


def test_wheel_carries_data_folders(installed: Path) -> None:
    data = installed / "scaffolder" / "_data"
    assert (data / "actions" / "fetch" / "template.yaml").is_file()
    assert (data / "schemas" / "template.v1beta3.schema.json").is_file()
    assert (data / "templates" / "service-with-pagerduty" / "template.yaml").is_file()


def test_wheel_runs_every_command(installed: Path, tmp_path: Path) -> None:
    for args in (["--version"], ["templates", "list"], ["templates", "validate"],
                 ["actions", "list", "--json"], ["templates", "show", "service-with-pagerduty"]):
        result = _scaffold(installed, tmp_path, *args)
        assert result.returncode == 0, (args, result.stderr)
    actions = json.loads(_scaffold(installed, tmp_path, "actions", "list", "--json").stdout)
    assert len(actions) >= 20


def test_wheel_creates_service_on_simulator(installed: Path, tmp_path: Path) -> None:
    result = _scaffold(installed, tmp_path, "new", "-t", "service-with-pagerduty",
                       "--simulate-pagerduty", "--no-input", "--values",
                       str(ROOT / "examples" / "payments.yaml"), "--output", "payments")
    assert result.returncode == 0, result.stderr
    catalog = (tmp_path / "payments" / "catalog-info.yaml").read_text(encoding="utf-8")
    assert "pagerduty.com/integration-key" in catalog
