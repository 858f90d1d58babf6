from __future__ import annotations

import importlib
import logging
import stat
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from scaffolder.actions.publish import DEFAULTS, publish_git
from scaffolder.context import ActionContext, MemoryCheckpoints, Runtime
from scaffolder.errors import ActionError, GitError, TaskCancelled
from scaffolder.paths import actions_dir
from scaffolder.pathsafety import UnsafePathError

TOKEN = "ghp-action-token-9e7d"


@pytest.fixture(autouse=True)
def no_git_identity(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    folder = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "-q", str(folder)], check=True)
    return folder


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    (folder / "service").mkdir(parents=True)
    (folder / "NOTES.md").write_text("notes\n", encoding="utf-8")
    (folder / "service" / "README.md").write_text("# service\n", encoding="utf-8")
    return folder


def make_context(
    workspace: Path,
    action_input: dict[str, Any],
    *,
    dry_run: bool = False,
    checkpoints: MemoryCheckpoints | None = None,
) -> ActionContext:
    return ActionContext(
        action_id="publish:git",
        input=action_input,
        workspace=workspace,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
        task_id="task-1",
        step_id="publish",
        dry_run=dry_run,
        checkpoints=checkpoints or MemoryCheckpoints(),
        runtime=Runtime(),
    )


def remote_refs(remote: Path) -> str:
    result = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname)"],
        cwd=remote,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def tracked_files(remote: Path, branch: str = "main") -> list[str]:
    result = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", branch],
        cwd=remote,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def reject_all_pushes(remote: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(stat.S_IRWXU)


def test_manifest_valid() -> None:
    manifest = yaml.safe_load((actions_dir() / "publish" / "git.yaml").read_text("utf-8"))

    jsonschema.Draft202012Validator.check_schema(manifest["input"])
    jsonschema.Draft202012Validator.check_schema(manifest["output"])
    module_name, _, function_name = manifest["handler"].partition(":")
    assert getattr(importlib.import_module(module_name), function_name) is publish_git
    defaults = {
        name: spec["default"]
        for name, spec in manifest["input"]["properties"].items()
        if "default" in spec
    }
    assert defaults == DEFAULTS


def test_publish_workspace(workspace: Path, remote: Path) -> None:
    ctx = make_context(workspace, {"remoteUrl": str(remote)})

    publish_git(ctx)

    commit_hash = ctx.outputs["commitHash"]
    assert ctx.outputs == {"commitHash": commit_hash, "remoteUrl": str(remote), "branch": "main"}
    assert remote_refs(remote) == f"refs/heads/main {commit_hash}"
    assert tracked_files(remote) == ["NOTES.md", "service/README.md"]
    assert (workspace / ".git").is_dir()


def test_publish_output_valid(workspace: Path, remote: Path) -> None:
    manifest = yaml.safe_load((actions_dir() / "publish" / "git.yaml").read_text("utf-8"))
    ctx = make_context(workspace, {"remoteUrl": str(remote)})

    publish_git(ctx)

    jsonschema.Draft202012Validator(manifest["output"]).validate(ctx.outputs)


def test_publish_source_path(workspace: Path, remote: Path) -> None:
    ctx = make_context(
        workspace,
        {
            "remoteUrl": remote.as_uri(),
            "sourcePath": "service",
            "branch": "trunk",
            "gitAuthorName": "Platform Bot",
            "gitAuthorEmail": "bot@example.com",
            "gitCommitMessage": "Create service",
        },
    )

    publish_git(ctx)

    assert tracked_files(remote, "trunk") == ["README.md"]
    log = subprocess.run(
        ["git", "log", "-1", "--format=%an <%ae> %s", "trunk"],
        cwd=remote,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert log == "Platform Bot <bot@example.com> Create service"
    assert not (workspace / ".git").exists()
    assert (workspace / "service" / ".git").is_dir()


@pytest.mark.parametrize("source_path", ["..", "../workspace-other", "/tmp"])
def test_publish_rejects_outside_source(workspace: Path, remote: Path, source_path: str) -> None:
    ctx = make_context(workspace, {"remoteUrl": str(remote), "sourcePath": source_path})

    with pytest.raises(UnsafePathError, match="sourcePath"):
        publish_git(ctx)

    assert remote_refs(remote) == ""


def test_publish_rejects_symlinked_source(workspace: Path, remote: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (workspace / "link").symlink_to(outside, target_is_directory=True)
    ctx = make_context(workspace, {"remoteUrl": str(remote), "sourcePath": "link"})

    with pytest.raises(UnsafePathError, match="resolves through a symlink"):
        publish_git(ctx)

    assert not (outside / ".git").exists()


def test_publish_missing_source(workspace: Path, remote: Path) -> None:
    ctx = make_context(workspace, {"remoteUrl": str(remote), "sourcePath": "nothing"})

    with pytest.raises(ActionError, match="'nothing' is not a folder"):
        publish_git(ctx)


def test_publish_existing_branch(workspace: Path, remote: Path, tmp_path: Path) -> None:
    first = make_context(workspace, {"remoteUrl": str(remote), "sourcePath": "service"})
    publish_git(first)
    before = remote_refs(remote)

    with pytest.raises(GitError, match="already exists"):
        publish_git(make_context(workspace, {"remoteUrl": str(remote)}))

    assert remote_refs(remote) == before


def test_publish_force(workspace: Path, remote: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "old").mkdir(parents=True)
    (other / "old" / "OLD.md").write_text("old\n", encoding="utf-8")
    publish_git(make_context(other, {"remoteUrl": str(remote)}))
    ctx = make_context(workspace, {"remoteUrl": str(remote), "force": True})

    publish_git(ctx)

    assert remote_refs(remote) == f"refs/heads/main {ctx.outputs['commitHash']}"
    assert tracked_files(remote) == ["NOTES.md", "service/README.md"]


def test_publish_rejected_by_hook(workspace: Path, remote: Path) -> None:
    reject_all_pushes(remote)

    with pytest.raises(GitError, match="pushes are frozen"):
        publish_git(make_context(workspace, {"remoteUrl": str(remote)}))

    assert remote_refs(remote) == ""


def test_publish_resume_skips_push(workspace: Path, remote: Path) -> None:
    checkpoints = MemoryCheckpoints()
    first = make_context(workspace, {"remoteUrl": str(remote)}, checkpoints=checkpoints)
    publish_git(first)
    reject_all_pushes(remote)
    second = make_context(workspace, {"remoteUrl": str(remote)}, checkpoints=checkpoints)

    publish_git(second)

    assert second.outputs == first.outputs
    assert list(checkpoints.as_dict()) == ["publish:push"]


def test_publish_rerun_after_lost_checkpoint(workspace: Path, remote: Path) -> None:
    first = make_context(workspace, {"remoteUrl": str(remote)})
    publish_git(first)
    second = make_context(workspace, {"remoteUrl": str(remote)})

    publish_git(second)

    assert second.outputs == first.outputs
    assert remote_refs(remote) == f"refs/heads/main {first.outputs['commitHash']}"


def test_publish_rerun_with_changes_rejected(workspace: Path, remote: Path) -> None:
    publish_git(make_context(workspace, {"remoteUrl": str(remote)}))
    before = remote_refs(remote)
    (workspace / "NEW.md").write_text("new\n", encoding="utf-8")

    with pytest.raises(GitError, match="already exists"):
        publish_git(make_context(workspace, {"remoteUrl": str(remote)}))

    assert remote_refs(remote) == before


def test_publish_cancelled_before_push(workspace: Path, remote: Path) -> None:
    ctx = make_context(workspace, {"remoteUrl": str(remote)})
    ctx.cancelled.set()

    with pytest.raises(TaskCancelled):
        publish_git(ctx)

    assert remote_refs(remote) == ""
    assert ctx.checkpoints.get_checkpoint("publish:push") == (False, None)


def test_dry_run_pushes_nothing(workspace: Path, remote: Path) -> None:
    ctx = make_context(workspace, {"remoteUrl": str(remote)}, dry_run=True)

    publish_git(ctx)

    assert ctx.outputs == {"remoteUrl": str(remote), "branch": "main"}
    assert remote_refs(remote) == ""
    assert not (workspace / ".git").exists()


def test_dry_run_existing_branch(workspace: Path, remote: Path) -> None:
    publish_git(make_context(workspace, {"remoteUrl": str(remote), "sourcePath": "service"}))

    with pytest.raises(GitError, match="already exists"):
        publish_git(make_context(workspace, {"remoteUrl": str(remote)}, dry_run=True))

    forced = make_context(workspace, {"remoteUrl": str(remote), "force": True}, dry_run=True)
    publish_git(forced)
    assert forced.outputs["branch"] == "main"


def test_dry_run_missing_remote(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(workspace, {"remoteUrl": str(tmp_path / "missing.git")}, dry_run=True)

    with pytest.raises(GitError, match="does not appear to be a git repository"):
        publish_git(ctx)


def test_publish_redacts_url_output(workspace: Path) -> None:
    ctx = make_context(
        workspace, {"remoteUrl": f"https://deploy-bot:{TOKEN}@127.0.0.1:9/team/a.git"}, dry_run=True
    )

    with pytest.raises(GitError) as caught:
        publish_git(ctx)

    assert TOKEN not in str(caught.value)
    assert "https://127.0.0.1:9/team/a.git" in str(caught.value)
    assert ctx.runtime.redactor.redact(f"https://deploy-bot:{TOKEN}@x") == "https://***:***@x"


def test_publish_registers_token(
    workspace: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCAFFOLDER_TEST_TOKEN", TOKEN)
    ctx = make_context(workspace, {"remoteUrl": str(remote), "tokenEnv": "SCAFFOLDER_TEST_TOKEN"})

    publish_git(ctx)

    assert ctx.runtime.redactor.redact(f"token={TOKEN}") == "token=***"
    assert TOKEN not in (workspace / ".git" / "config").read_text(encoding="utf-8")
