from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from scaffolder import git as scaffolder_git
from scaffolder.errors import GitError
from scaffolder.git import (
    clean_head_sha,
    init_and_commit,
    push,
    redact_url,
    remote_branch_sha,
)

TOKEN = "ghp-test-token-5f1c2a"

# The type of the git_http fixture from conftest.py: serve_git_http(root, username=, password=).
ServeGitHttp = Callable[..., AbstractContextManager[Any]]


def git_output(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def remote_refs(remote: Path) -> str:
    return git_output(remote, "for-each-ref", "--format=%(refname) %(objectname)")


def commit(path: Path, message: str = "Initial commit", branch: str = "main") -> str:
    return init_and_commit(
        path,
        branch=branch,
        author_name="Scaffolder",
        author_email="scaffolder@localhost",
        message=message,
    )


def install_hook(repo: Path, name: str, script: str) -> None:
    hook = repo / "hooks" / name
    hook.write_text(script, encoding="utf-8")
    hook.chmod(stat.S_IRWXU)


def install_pre_receive(remote: Path, script: str) -> None:
    install_hook(remote, "pre-receive", script)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:secret@git.example.com/a.git", "https://git.example.com/a.git"),
        ("https://TOKEN@git.example.com/a.git", "https://git.example.com/a.git"),
        ("https://git.example.com/a.git", "https://git.example.com/a.git"),
        ("ssh://git:pw@git.example.com/a.git", "ssh://git@git.example.com/a.git"),
        ("ssh://git@git.example.com:2222/a.git", "ssh://git@git.example.com:2222/a.git"),
        ("git@git.example.com:team/a.git", "git@git.example.com:team/a.git"),
        ("/srv/git/a.git", "/srv/git/a.git"),
        ("file:///srv/git/a.git", "file:///srv/git/a.git"),
    ],
)
def test_redact_url_cases(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_commit_without_identity(workspace: Path) -> None:
    sha = commit(workspace)

    assert git_output(workspace, "rev-parse", "HEAD") == sha
    assert git_output(workspace, "log", "-1", "--format=%an <%ae>") == (
        "Scaffolder <scaffolder@localhost>"
    )
    assert git_output(workspace, "log", "-1", "--format=%cn <%ce>") == (
        "Scaffolder <scaffolder@localhost>"
    )
    assert git_output(workspace, "branch", "--show-current") == "main"
    assert git_output(workspace, "ls-files").splitlines() == ["README.md", "src/app.py"]
    assert git_output(workspace, "status", "--porcelain") == ""


def test_commit_ignores_gpgsign(workspace: Path, no_git_identity: Path) -> None:
    no_git_identity.write_text(
        "[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n", encoding="utf-8"
    )

    sha = commit(workspace)

    assert git_output(workspace, "rev-parse", "HEAD") == sha


def test_commit_skips_hooks(workspace: Path, tmp_path: Path) -> None:
    commit(workspace)
    marker = tmp_path / "post-commit-ran"
    install_hook(workspace / ".git", "pre-commit", "#!/bin/sh\nexit 1\n")
    install_hook(workspace / ".git", "post-commit", f"#!/bin/sh\ntouch {marker}\n")
    (workspace / "NEW.md").write_text("new\n", encoding="utf-8")

    sha = commit(workspace, message="Second")

    assert git_output(workspace, "rev-parse", "HEAD") == sha
    assert git_output(workspace, "log", "--format=%s") == "Second\nInitial commit"
    assert not marker.exists()


def test_push_skips_local_hooks(workspace: Path, bare_remote: Path) -> None:
    sha = commit(workspace)
    install_hook(workspace / ".git", "pre-push", "#!/bin/sh\nexit 1\n")

    push(workspace, str(bare_remote), branch="main", token_env=None, force=False)

    assert remote_refs(bare_remote) == f"refs/heads/main {sha}"


def test_commit_custom_branch(workspace: Path) -> None:
    commit(workspace, branch="release/v1")

    assert git_output(workspace, "branch", "--show-current") == "release/v1"


def test_commit_existing_repo_switches_branch(workspace: Path) -> None:
    first = commit(workspace)
    (workspace / "NEW.md").write_text("new\n", encoding="utf-8")

    second = commit(workspace, branch="develop", message="Add NEW.md")

    assert git_output(workspace, "branch", "--show-current") == "develop"
    assert git_output(workspace, "rev-parse", "HEAD~1") == first
    assert git_output(workspace, "rev-parse", "HEAD") == second


def test_commit_invalid_branch(workspace: Path) -> None:
    with pytest.raises(GitError, match=re.escape("invalid branch name 'bad..name'")):
        commit(workspace, branch="bad..name")

    assert not (workspace / ".git").exists()


def test_commit_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="does not exist"):
        commit(tmp_path / "missing")


def test_commit_not_inside_parent_repo(tmp_path: Path, workspace: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)

    commit(workspace)

    assert (workspace / ".git").is_dir()
    assert git_output(tmp_path, "status", "--porcelain") == "?? workspace/"


@pytest.mark.parametrize("form", ["path", "file-url"])
def test_push_new_branch(workspace: Path, bare_remote: Path, form: str) -> None:
    url = str(bare_remote) if form == "path" else bare_remote.as_uri()
    sha = commit(workspace)

    push(workspace, url, branch="main", token_env=None, force=False)

    assert remote_refs(bare_remote) == f"refs/heads/main {sha}"
    assert git_output(workspace, "remote", "get-url", "origin") == url
    assert git_output(workspace, "rev-parse", "--abbrev-ref", "main@{upstream}") == "origin/main"


def test_push_relative_path(
    workspace: Path, bare_remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(bare_remote.parent)
    sha = commit(workspace)

    push(workspace, "remote.git", branch="main", token_env=None, force=False)

    assert remote_refs(bare_remote) == f"refs/heads/main {sha}"


def test_push_existing_branch_rejected(workspace: Path, bare_remote: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "OTHER.md").write_text("other\n", encoding="utf-8")
    first = commit(other)
    push(other, str(bare_remote), branch="main", token_env=None, force=False)
    commit(workspace)

    with pytest.raises(GitError, match="branch 'main' already exists") as caught:
        push(workspace, str(bare_remote), branch="main", token_env=None, force=False)

    assert caught.value.hint is not None
    assert "force" in caught.value.hint
    assert remote_refs(bare_remote) == f"refs/heads/main {first}"


def test_push_force_overwrites(workspace: Path, bare_remote: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "OTHER.md").write_text("other\n", encoding="utf-8")
    commit(other)
    push(other, str(bare_remote), branch="main", token_env=None, force=True)
    sha = commit(workspace)

    push(workspace, str(bare_remote), branch="main", token_env=None, force=True)

    assert remote_refs(bare_remote) == f"refs/heads/main {sha}"


def test_push_other_branch_allowed(workspace: Path, bare_remote: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "OTHER.md").write_text("other\n", encoding="utf-8")
    first = commit(other)
    push(other, str(bare_remote), branch="main", token_env=None, force=False)
    sha = commit(workspace, branch="service")

    push(workspace, str(bare_remote), branch="service", token_env=None, force=False)

    assert remote_refs(bare_remote).splitlines() == [
        f"refs/heads/main {first}",
        f"refs/heads/service {sha}",
    ]


def test_push_hook_rejection(workspace: Path, bare_remote: Path) -> None:
    install_pre_receive(bare_remote, "#!/bin/sh\necho 'policy: pushes are frozen' >&2\nexit 1\n")
    commit(workspace)

    with pytest.raises(GitError, match="policy: pushes are frozen") as caught:
        push(workspace, str(bare_remote), branch="main", token_env=None, force=False)

    assert caught.value.remote == str(bare_remote)
    assert remote_refs(bare_remote) == ""
    assert "origin" not in git_output(workspace, "remote")


def test_push_missing_remote(workspace: Path, tmp_path: Path) -> None:
    commit(workspace)
    missing = tmp_path / "missing.git"

    with pytest.raises(GitError, match=r"git ls-remote '.*missing\.git' failed"):
        push(workspace, str(missing), branch="main", token_env=None, force=False)


@pytest.mark.parametrize(
    "url",
    ["ext::sh -c touch% /tmp/pwned", "-uhack", "", "ftp://example.com/a.git"],
)
def test_push_unsupported_url(workspace: Path, url: str) -> None:
    commit(workspace)

    with pytest.raises(GitError, match="remote URL"):
        push(workspace, url, branch="main", token_env=None, force=False)


def test_push_ssh_password_rejected(workspace: Path) -> None:
    commit(workspace)

    with pytest.raises(GitError, match="contains a password") as caught:
        push(
            workspace,
            "ssh://git:hunter22@127.0.0.1/a.git",
            branch="main",
            token_env=None,
            force=False,
        )

    assert "hunter22" not in str(caught.value)


def test_push_missing_token_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCAFFOLDER_TEST_TOKEN", raising=False)
    commit(workspace)

    with pytest.raises(GitError, match="'SCAFFOLDER_TEST_TOKEN' is not set"):
        push(
            workspace,
            "https://127.0.0.1:9/a.git",
            branch="main",
            token_env="SCAFFOLDER_TEST_TOKEN",
            force=False,
        )


def test_push_token_over_http_rejected(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAFFOLDER_TEST_TOKEN", TOKEN)
    commit(workspace)

    with pytest.raises(GitError, match="plain http") as caught:
        push(
            workspace,
            "http://git.example.com/a.git",
            branch="main",
            token_env="SCAFFOLDER_TEST_TOKEN",
            force=False,
        )

    assert TOKEN not in str(caught.value)


def test_push_token_ignored_for_file_remote(
    workspace: Path,
    bare_remote: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SCAFFOLDER_TEST_TOKEN", TOKEN)
    commit(workspace)

    with caplog.at_level(logging.WARNING, logger="scaffolder.git"):
        push(
            workspace,
            bare_remote.as_uri(),
            branch="main",
            token_env="SCAFFOLDER_TEST_TOKEN",
            force=False,
        )

    assert "SCAFFOLDER_TEST_TOKEN not used" in caplog.text
    assert TOKEN not in (workspace / ".git" / "config").read_text(encoding="utf-8")


def test_askpass_script_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAFFOLDER_TEST_TOKEN", TOKEN)
    remote = scaffolder_git._parse_remote("https://git.example.com/a.git", "SCAFFOLDER_TEST_TOKEN")

    with scaffolder_git._remote_env(remote) as env:
        script = Path(env["GIT_ASKPASS"])
        script_text = script.read_text(encoding="utf-8")
        child_env = {**os.environ, **env}
        username = subprocess.run(
            [str(script), "Username for 'https://git.example.com': "],
            env=child_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        password = subprocess.run(
            [str(script), "Password for 'https://x-access-token@git.example.com': "],
            env=child_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert TOKEN not in script_text
    assert username == "x-access-token\n"
    assert password == f"{TOKEN}\n"
    assert not script.exists()
    assert remote.url == "https://git.example.com/a.git"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    helper_keys = [k for k, v in env.items() if v == "credential.helper"]
    assert len(helper_keys) == 1
    assert env[helper_keys[0].replace("KEY", "VALUE")] == ""


def test_push_http_token(
    workspace: Path, bare_remote: Path, monkeypatch: pytest.MonkeyPatch, git_http: ServeGitHttp
) -> None:
    monkeypatch.setenv("SCAFFOLDER_TEST_TOKEN", TOKEN)
    sha = commit(workspace)

    with git_http(bare_remote.parent, username="x-access-token", password=TOKEN) as server:
        url = f"{server.url}/remote.git"
        push(workspace, url, branch="main", token_env="SCAFFOLDER_TEST_TOKEN", force=False)

    assert server.authorizations
    assert remote_refs(bare_remote) == f"refs/heads/main {sha}"
    config = (workspace / ".git" / "config").read_text(encoding="utf-8")
    assert TOKEN not in config
    assert f"url = {url}" in config


def test_push_http_userinfo_kept_out(
    workspace: Path, bare_remote: Path, git_http: ServeGitHttp
) -> None:
    sha = commit(workspace)

    with git_http(bare_remote.parent, username="deploy", password=TOKEN) as server:
        host = server.url.removeprefix("http://")
        push(
            workspace,
            f"http://deploy:{TOKEN}@{host}/remote.git",
            branch="main",
            token_env=None,
            force=False,
        )

    assert remote_refs(bare_remote) == f"refs/heads/main {sha}"
    config = (workspace / ".git" / "config").read_text(encoding="utf-8")
    assert TOKEN not in config
    assert "deploy" not in config


def test_push_http_wrong_token(
    workspace: Path, bare_remote: Path, monkeypatch: pytest.MonkeyPatch, git_http: ServeGitHttp
) -> None:
    monkeypatch.setenv("SCAFFOLDER_TEST_TOKEN", TOKEN)
    commit(workspace)

    with (
        git_http(bare_remote.parent, username="x-access-token", password="other") as server,
        pytest.raises(GitError, match="Authentication failed") as caught,
    ):
        push(
            workspace,
            f"{server.url}/remote.git",
            branch="main",
            token_env="SCAFFOLDER_TEST_TOKEN",
            force=False,
        )

    assert TOKEN not in str(caught.value)
    assert remote_refs(bare_remote) == ""


def test_push_http_no_prompt(workspace: Path, bare_remote: Path, git_http: ServeGitHttp) -> None:
    commit(workspace)

    with (
        git_http(bare_remote.parent, username="x-access-token", password=TOKEN) as server,
        pytest.raises(GitError, match="terminal prompts disabled"),
    ):
        push(workspace, f"{server.url}/remote.git", branch="main", token_env=None, force=False)


def test_remote_branch_sha(workspace: Path, bare_remote: Path) -> None:
    assert remote_branch_sha(str(bare_remote), branch="main") is None
    sha = commit(workspace)
    push(workspace, str(bare_remote), branch="main", token_env=None, force=False)

    assert remote_branch_sha(str(bare_remote), branch="main") == sha
    assert remote_branch_sha(str(bare_remote), branch="other") is None


def test_clean_head_sha(workspace: Path) -> None:
    assert clean_head_sha(workspace) is None
    sha = commit(workspace)

    assert clean_head_sha(workspace) == sha
    (workspace / "NEW.md").write_text("new\n", encoding="utf-8")
    assert clean_head_sha(workspace) is None


def test_commit_on_file_path(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x\n", encoding="utf-8")

    with pytest.raises(GitError, match="does not exist"):
        commit(target)


def test_push_without_repository(workspace: Path, bare_remote: Path) -> None:
    with pytest.raises(GitError, match="is not a git repository"):
        push(workspace, str(bare_remote), branch="main", token_env=None, force=False)
