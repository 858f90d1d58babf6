"""Loading templates from git repositories: URL forms, refs, subfolders and clone failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from template_helpers import TemplateRepo, WriteTemplate, minimal_document, run_git

from scaffolder.errors import TemplateError
from scaffolder.templates import (
    GitSource,
    load_template,
    parse_git_source,
    strip_userinfo,
)


def load_error(ref: str, **options: object) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        load_template(ref, **options)  # type: ignore[arg-type]
    assert "\n" not in caught.value.message
    return caught.value


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "url", "subfolder", "git_ref"),
    [
        ("https://git.example/org/repo.git", "https://git.example/org/repo.git", "", None),
        (
            "https://git.example/org/repo.git//a/b?ref=v1.2",
            "https://git.example/org/repo.git",
            "a/b",
            "v1.2",
        ),
        (
            "ssh://git@git.example/org/repo.git//t?ref=main",
            "ssh://git@git.example/org/repo.git",
            "t",
            "main",
        ),
        ("git@git.example:org/repo.git//t/", "git@git.example:org/repo.git", "t", None),
        (
            "git@git.example:org/repo.git?ref=release/1.0",
            "git@git.example:org/repo.git",
            "",
            "release/1.0",
        ),
        (
            "file:///srv/repo.git//templates/svc?ref=abc1234",
            "file:///srv/repo.git",
            "templates/svc",
            "abc1234",
        ),
    ],
)
def test_parse_remote_sources(ref: str, url: str, subfolder: str, git_ref: str | None) -> None:
    assert parse_git_source(ref) == GitSource(url=url, subfolder=subfolder, ref=git_ref)


def test_parse_local_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path)

    source = parse_git_source("./repo//sub?ref=v1")

    assert source == GitSource(url=str(tmp_path / "repo"), subfolder="sub", ref="v1")


@pytest.mark.parametrize("ref", ["service", "./folder", "/abs/folder", "folder/template.yaml"])
def test_parse_plain_paths(ref: str) -> None:
    assert parse_git_source(ref) is None


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("https://h/r.git?depth=1", "unsupported option 'depth'"),
        ("https://h/r.git?ref=", "invalid git ref ''"),
        ("https://h/r.git?ref=-upload-pack", "invalid git ref '-upload-pack'"),
        ("https://h/r.git?ref=a..b", "invalid git ref 'a..b'"),
        ("https://h/r.git?ref=a&ref=b", "invalid git ref 'a,b'"),
        ("https://h/r.git?ref=a b", "invalid git ref 'a b'"),
        ("https:////sub", "names no repository before '//'"),
        ("//sub?ref=v1", "names no repository before '//'"),
    ],
)
def test_parse_rejects_bad_sources(ref: str, expected: str) -> None:
    with pytest.raises(TemplateError, match=expected):
        parse_git_source(ref)


def test_parse_missing_local_repository(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"git repository folder .* not found"):
        parse_git_source(f"{tmp_path}/absent//sub")


def test_strip_userinfo_removes_credentials() -> None:
    text = "failed https://user:tok3n@h/r.git and ssh://me@h/r"

    assert strip_userinfo(text) == "failed https://h/r.git and ssh://h/r"


# --- cloning ------------------------------------------------------------------------------------


def test_file_url_root(template_repo: TemplateRepo, tmp_path: Path) -> None:
    template = load_template(template_repo.bare.as_uri(), work_dir=tmp_path / "work")

    assert template.name == "root-template"
    assert template.source == template_repo.bare.as_uri()
    assert template.directory.is_relative_to((tmp_path / "work").resolve())


def test_file_url_subfolder_default_branch(template_repo: TemplateRepo, tmp_path: Path) -> None:
    ref = f"{template_repo.bare.as_uri()}//templates/svc"

    assert load_template(ref, work_dir=tmp_path).name == "svc-v2"


@pytest.mark.parametrize(("git_ref", "name"), [("v1", "svc-v1"), ("feature", "svc-feature")])
def test_file_url_tag_and_branch(
    template_repo: TemplateRepo, tmp_path: Path, git_ref: str, name: str
) -> None:
    ref = f"{template_repo.bare.as_uri()}//templates/svc?ref={git_ref}"

    assert load_template(ref, work_dir=tmp_path).name == name


def test_file_url_commit(template_repo: TemplateRepo, tmp_path: Path) -> None:
    ref = f"{template_repo.bare.as_uri()}//templates/svc?ref={template_repo.v1_commit[:10]}"

    assert load_template(ref, work_dir=tmp_path).name == "svc-v1"


def test_subfolder_template_file(template_repo: TemplateRepo, tmp_path: Path) -> None:
    ref = f"{template_repo.bare.as_uri()}//templates/svc/template.yaml?ref=v1"

    template = load_template(ref, work_dir=tmp_path)

    assert template.name == "svc-v1"
    assert template.path.name == "template.yaml"


def test_local_repository_path(template_repo: TemplateRepo, tmp_path: Path) -> None:
    ref = f"{template_repo.path}//templates/svc?ref=v1"

    assert load_template(ref, work_dir=tmp_path / "work").name == "svc-v1"


def test_local_repository_ref_only(template_repo: TemplateRepo, tmp_path: Path) -> None:
    assert load_template(f"{template_repo.path}?ref=main", work_dir=tmp_path).name == (
        "root-template"
    )


def test_local_folder_without_markers_not_cloned(template_repo: TemplateRepo) -> None:
    template = load_template(str(template_repo.path / "templates" / "svc"))

    assert template.directory == (template_repo.path / "templates" / "svc").resolve()


def test_clone_without_work_dir_kept(template_repo: TemplateRepo) -> None:
    template = load_template(f"{template_repo.bare.as_uri()}?ref=v1")

    assert template.path.is_file()
    assert not template.directory.is_relative_to(template_repo.path)


def test_temporary_clone_removed_at_exit(template_repo: TemplateRepo) -> None:
    script = (
        "import sys\n"
        "from scaffolder.templates import load_template\n"
        "print(load_template(sys.argv[1]).directory)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, template_repo.bare.as_uri()],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    clone = Path(result.stdout.strip())

    assert clone.name == "repo"
    assert not clone.exists()
    assert not clone.parent.exists()


# --- clone errors -------------------------------------------------------------------------------


def test_missing_repository(tmp_path: Path) -> None:
    url = (tmp_path / "absent.git").as_uri()

    error = load_error(url, work_dir=tmp_path / "work")

    assert f"cannot clone template repository {url!r}" in error.message
    assert "does not appear to be a git repository" in error.message
    assert error.exit_code == 2
    assert error.hint


def test_missing_ref(template_repo: TemplateRepo, tmp_path: Path) -> None:
    error = load_error(f"{template_repo.bare.as_uri()}?ref=v9", work_dir=tmp_path)

    assert "at ref 'v9'" in error.message
    assert "Remote branch v9 not found" in error.message


def test_missing_commit(template_repo: TemplateRepo, tmp_path: Path) -> None:
    error = load_error(f"{template_repo.bare.as_uri()}?ref=deadbeef00", work_dir=tmp_path)

    assert "at ref 'deadbeef00'" in error.message


def test_credentials_never_shown(tmp_path: Path) -> None:
    url = f"file://user:s3cret@localhost{tmp_path}/absent.git"

    error = load_error(f"{url}//sub?ref=main", work_dir=tmp_path / "work")

    assert "s3cret" not in error.message
    assert "user" not in error.message
    assert error.template is not None
    assert "s3cret" not in error.template
    assert f"file://localhost{tmp_path}/absent.git" in error.message


def test_subfolder_escaping_clone(template_repo: TemplateRepo, tmp_path: Path) -> None:
    error = load_error(f"{template_repo.bare.as_uri()}//../..?ref=v1", work_dir=tmp_path)

    assert "subfolder '../..' leaves the repository" in error.message


def test_symlink_escaping_clone(
    template_repo: TemplateRepo, tmp_path: Path, write_template: WriteTemplate
) -> None:
    write_template(tmp_path / "outside", minimal_document("outside"))
    (template_repo.path / "escape").symlink_to(tmp_path / "outside")
    run_git(template_repo.path, "add", "escape")
    run_git(template_repo.path, "commit", "-q", "-m", "link")

    error = load_error(f"{template_repo.path}//escape", work_dir=tmp_path / "work")

    assert "subfolder 'escape' leaves the repository" in error.message


def test_missing_subfolder(template_repo: TemplateRepo, tmp_path: Path) -> None:
    error = load_error(f"{template_repo.bare.as_uri()}//nope", work_dir=tmp_path)

    assert "subfolder 'nope' not found" in error.message


def test_invalid_template_in_clone_names_source(
    template_repo: TemplateRepo, tmp_path: Path, write_template: WriteTemplate
) -> None:
    document = minimal_document("broken")
    document["apiVersion"] = "scaffolder.backstage.io/v1beta2"
    write_template(template_repo.path / "broken", document)
    run_git(template_repo.path, "add", "-A")
    run_git(template_repo.path, "commit", "-q", "-m", "broken")
    ref = f"{template_repo.path}//broken"

    error = load_error(ref, work_dir=tmp_path / "work")

    assert f"template '{ref} (broken/template.yaml)' has apiVersion" in error.message
    assert str(tmp_path / "work") not in error.message
