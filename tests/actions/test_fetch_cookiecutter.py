"""fetch:cookiecutter with small cookiecutter templates made on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scaffolder.context import Runtime
from scaffolder.runner import Runner, TaskResult, TaskSpec


def run_step(tmp_path: Path, step_input: dict[str, Any], *, trust: bool = True) -> TaskResult:
    steps = [{"id": "cc", "action": "fetch:cookiecutter", "input": step_input}]
    spec = TaskSpec(template={"spec": {"steps": steps}}, parameters={},
                    template_dir=tmp_path / "template")
    runner = Runner(runtime=Runtime(trust_templates=trust))
    return runner.run(spec, task_id="task-1", workspace=tmp_path / "workspace")


def test_cookiecutter_refused_without_trust(tmp_path: Path) -> None:
    make_template(tmp_path / "template")
    result = run_step(tmp_path, {"url": "."}, trust=False)
    assert result.status == "failed"
    assert result.error is not None
    assert "outside the sandbox" in result.error.message
    assert not (tmp_path / "workspace").exists() or not any((tmp_path / "workspace").iterdir())


def make_template(root: Path, *, hooks: bool = False) -> None:
    root.mkdir(parents=True)
    (root / "cookiecutter.json").write_text(json.dumps({"project_slug": "demo", "owner": "x"}))
    project = root / "{{cookiecutter.project_slug}}"
    (project / "src").mkdir(parents=True)
    readme = "# {{ cookiecutter.project_slug }} by {{ cookiecutter.owner }}\n"
    (project / "README.md").write_text(readme)
    module = project / "src" / "{{cookiecutter.project_slug}}.py"
    module.write_text("NAME = '{{ cookiecutter.project_slug }}'\n")
    if hooks:
        (root / "hooks").mkdir()
        (root / "hooks" / "post_gen_project.py").write_text(
            "open('HOOK_RAN', 'w').write('yes')\n")


def test_cookiecutter_full_template(tmp_path: Path) -> None:
    make_template(tmp_path / "template" / "cc")
    result = run_step(tmp_path, {"url": "./cc", "targetPath": "out",
                                 "values": {"project_slug": "billing"}})
    assert result.status == "completed", result.error
    out = tmp_path / "workspace" / "out"
    assert (out / "README.md").read_text() == "# billing by x\n"
    assert (out / "src" / "billing.py").read_text() == "NAME = 'billing'\n"


def test_cookiecutter_bare_skeleton(tmp_path: Path) -> None:
    skeleton = tmp_path / "template" / "skeleton"
    skeleton.mkdir(parents=True)
    (skeleton / "{{cookiecutter.name}}.txt").write_text("{{ cookiecutter.name | upper }}")
    result = run_step(tmp_path, {"url": "./skeleton", "values": {"name": "svc"}})
    assert result.status == "completed", result.error
    assert (tmp_path / "workspace" / "svc.txt").read_text() == "SVC"


def test_cookiecutter_hooks_rejected(tmp_path: Path) -> None:
    make_template(tmp_path / "template" / "cc", hooks=True)
    result = run_step(tmp_path, {"url": "./cc"})
    assert result.status == "failed"
    assert result.error is not None
    assert "hooks" in result.error.message
    assert not (tmp_path / "workspace" / "README.md").exists()


def test_cookiecutter_hooks_allowed(tmp_path: Path) -> None:
    make_template(tmp_path / "template" / "cc", hooks=True)
    result = run_step(tmp_path, {"url": "./cc", "allowHooks": True})
    assert result.status == "completed", result.error
    assert (tmp_path / "workspace" / "HOOK_RAN").read_text() == "yes"


def test_cookiecutter_unsafe_extension_rejected(tmp_path: Path) -> None:
    make_template(tmp_path / "template" / "cc")
    result = run_step(tmp_path, {"url": "./cc", "extensions": ["os.system"]})
    assert result.status == "failed"
    assert result.error is not None
    assert "'os.system' is not allowed" in result.error.message


def test_cookiecutter_copy_without_render(tmp_path: Path) -> None:
    make_template(tmp_path / "template" / "cc")
    result = run_step(tmp_path, {"url": "./cc", "copyWithoutRender": ["README.md"],
                                 "extensions": ["jinja2.ext.do", "jinja2_time.TimeExtension"],
                                 "imageName": "spotify/backstage-cookiecutter"})
    assert result.status == "completed", result.error
    readme = (tmp_path / "workspace" / "README.md").read_text()
    assert readme == "# {{ cookiecutter.project_slug }} by {{ cookiecutter.owner }}\n"


def test_cookiecutter_undefined_variable_fails(tmp_path: Path) -> None:
    make_template(tmp_path / "template" / "cc")
    readme = tmp_path / "template" / "cc" / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text("{{ cookiecutter.missing.deeper }}")
    result = run_step(tmp_path, {"url": "./cc"})
    assert result.status == "failed"
    assert result.error is not None
    assert "cookiecutter failed on './cc'" in result.error.message
