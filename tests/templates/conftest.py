"""Fixtures for template loading and parameter tests: template files and real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from template_helpers import TemplateRepo, WriteTemplate, minimal_document, run_git


@pytest.fixture
def document() -> dict[str, Any]:
    return minimal_document()


@pytest.fixture
def write_template() -> WriteTemplate:
    """Return a function that writes a template document (or raw text) into a folder."""

    def write(folder: Path, content: dict[str, Any] | str, name: str = "template.yaml") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        file = folder / name
        file.write_text(text, encoding="utf-8")
        return file

    return write


@pytest.fixture(autouse=True)
def isolated_git_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run git with an empty global configuration: no credential helper, no URL rewrites."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def template_repo(tmp_path: Path, write_template: WriteTemplate) -> TemplateRepo:
    """Build ``repo`` (a working copy) and ``remote.git`` (its bare clone) under tmp_path.

    ``template.yaml`` at the root is named ``root-template``. ``templates/svc`` is named
    ``svc-v1`` at tag ``v1``, ``svc-feature`` on branch ``feature`` and ``svc-v2`` on ``main``.
    """
    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(repo, "init", "-q", "--initial-branch=main")
    write_template(repo, minimal_document("root-template"))
    write_template(repo / "templates" / "svc", minimal_document("svc-v1"))
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "v1")
    run_git(repo, "tag", "v1")
    v1_commit = run_git(repo, "rev-parse", "HEAD")

    run_git(repo, "checkout", "-q", "-b", "feature")
    write_template(repo / "templates" / "svc", minimal_document("svc-feature"))
    run_git(repo, "commit", "-q", "-am", "feature")
    run_git(repo, "checkout", "-q", "main")

    write_template(repo / "templates" / "svc", minimal_document("svc-v2"))
    run_git(repo, "commit", "-q", "-am", "v2")

    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    return TemplateRepo(path=repo, bare=bare, v1_commit=v1_commit)
