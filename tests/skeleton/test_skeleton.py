"""render_skeleton on real folders: names, contents, binaries, modes, symlinks and options."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from scaffolder.pathsafety import UnsafePathError
from scaffolder.skeleton import (
    SkeletonError,
    SkeletonOptions,
    copy_tree,
    normalize_extension,
    render_file,
    render_skeleton,
)
from scaffolder.templating import RenderError

VALUES = {"name": "billing", "owner": "team-a", "empty": "", "package": "com/acme"}


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, contents in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(contents, bytes):
            path.write_bytes(contents)
        else:
            path.write_text(contents, encoding="utf-8")
    return root


def render(tmp_path: Path, files: dict[str, str | bytes], **options: object) -> Path:
    source = write(tmp_path / "skeleton", files)
    target = tmp_path / "out"
    values = options.pop("values", VALUES)
    render_skeleton(source, target, SkeletonOptions(values=values, **options))  # type: ignore[arg-type]
    return target


def test_render_names_and_contents(tmp_path: Path) -> None:
    out = render(tmp_path, {"${{ values.name }}/README.md": "# ${{ values.name }}\n"})
    assert (out / "billing" / "README.md").read_text() == "# billing\n"


def test_render_name_with_slash_creates_folders(tmp_path: Path) -> None:
    out = render(tmp_path, {"src/${{ values.package }}/App.java": "class App {}\n"})
    assert (out / "src" / "com" / "acme" / "App.java").is_file()


def test_render_empty_file_name_skips_file(tmp_path: Path) -> None:
    out = render(tmp_path, {"${{ values.empty }}": "x", "kept.txt": "y"})
    assert sorted(os.listdir(out)) == ["kept.txt"]


def test_render_empty_folder_name_skips_folder(tmp_path: Path) -> None:
    out = render(tmp_path, {"${{ values.empty }}/inner/file.txt": "x", "kept.txt": "y"})
    assert sorted(os.listdir(out)) == ["kept.txt"]


def test_render_conditional_name_skips(tmp_path: Path) -> None:
    files = {"{% if values.owner == 'nobody' %}docs{% endif %}/index.md": "x"}
    out = render(tmp_path, files)
    assert os.listdir(out) == []


def test_render_binary_byte_for_byte(tmp_path: Path) -> None:
    data = bytes(random.Random(7).randrange(256) for _ in range(20000)) + b"\0${{ values.name }}"
    out = render(tmp_path, {"logo.png": data})
    assert (out / "logo.png").read_bytes() == data


def test_render_non_utf8_copied_as_is(tmp_path: Path) -> None:
    data = "caf\xe9 ${{ values.name }}".encode("latin-1")
    out = render(tmp_path, {"latin1.txt": data})
    assert (out / "latin1.txt").read_bytes() == data


def test_render_text_without_syntax_unchanged(tmp_path: Path) -> None:
    text = "a {{ not ours }} and ${ plain } \r\n"
    out = render(tmp_path, {"plain.txt": text})
    assert (out / "plain.txt").read_bytes() == text.encode()


def test_render_keeps_file_mode(tmp_path: Path) -> None:
    source = write(tmp_path / "skeleton", {"run.sh": "#!/bin/sh\necho ${{ values.name }}\n",
                                           "plain.sh": "#!/bin/sh\n"})
    (source / "run.sh").chmod(0o755)
    (source / "plain.sh").chmod(0o750)
    render_skeleton(source, tmp_path / "out", SkeletonOptions(values=VALUES))
    assert (tmp_path / "out" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "plain.sh").stat().st_mode & 0o777 == 0o750


def test_render_symlink_inside_kept(tmp_path: Path) -> None:
    source = write(tmp_path / "skeleton", {"docs/index.md": "hi"})
    (source / "current").symlink_to("docs/index.md")
    render_skeleton(source, tmp_path / "out", SkeletonOptions(values=VALUES))
    link = tmp_path / "out" / "current"
    assert link.is_symlink()
    assert os.readlink(link) == "docs/index.md"
    assert link.read_text() == "hi"


@pytest.mark.parametrize("link_target", ["../secret.txt", "/etc/hostname"])
def test_render_symlink_outside_rejected(tmp_path: Path, link_target: str) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    source = write(tmp_path / "skeleton", {"a.txt": "a"})
    (source / "leak").symlink_to(link_target)
    with pytest.raises(SkeletonError, match="symlink 'leak'"):
        render_skeleton(source, tmp_path / "out", SkeletonOptions(values=VALUES))


@pytest.mark.parametrize("value", ["../../etc", "a/../../b", "/etc/x", ".."])
def test_render_name_leaving_target_rejected(tmp_path: Path, value: str) -> None:
    with pytest.raises(SkeletonError, match=r"'\$\{\{ values.dir \}\}' renders to"):
        render(tmp_path, {"${{ values.dir }}/f.txt": "x"}, values={"dir": value})
    assert not (tmp_path / "etc").exists()


def test_render_target_symlink_outside_rejected(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "sub").symlink_to(tmp_path)
    source = write(tmp_path / "skeleton", {"sub/escaped.txt": "x"})
    with pytest.raises(UnsafePathError, match="'sub'"):
        render_skeleton(source, target, SkeletonOptions(values=VALUES))
    assert not (tmp_path / "escaped.txt").exists()


def test_render_existing_file_kept_without_replace(tmp_path: Path) -> None:
    write(tmp_path / "out", {"README.md": "mine"})
    source = write(tmp_path / "skeleton", {"README.md": "${{ values.name }}", "new.md": "n"})
    result = render_skeleton(source, tmp_path / "out", SkeletonOptions(values=VALUES))
    assert (tmp_path / "out" / "README.md").read_text() == "mine"
    assert result.skipped_existing == ["README.md"]
    assert (tmp_path / "out" / "new.md").read_text() == "n"


def test_render_existing_file_replaced(tmp_path: Path) -> None:
    write(tmp_path / "out", {"README.md": "mine"})
    source = write(tmp_path / "skeleton", {"README.md": "${{ values.name }}"})
    render_skeleton(source, tmp_path / "out", SkeletonOptions(values=VALUES, replace=True))
    assert (tmp_path / "out" / "README.md").read_text() == "billing"


def test_render_replace_does_not_write_through_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "README.md").symlink_to(outside)
    source = write(tmp_path / "skeleton", {"README.md": "${{ values.name }}"})
    render_skeleton(source, tmp_path / "out", SkeletonOptions(values=VALUES, replace=True))
    assert outside.read_text() == "untouched"
    assert (tmp_path / "out" / "README.md").read_text() == "billing"


def test_render_copy_without_templating(tmp_path: Path) -> None:
    files = {
        ".github/workflows/ci.yml": "run: ${{ github.sha }}",
        "${{ values.name }}.md": "${{ values.name }}",
        "static/${{ values.name }}/page.html": "${{ raw }}",
    }
    out = render(tmp_path, files, copy_without_templating=(".github/workflows/*", "static"))
    assert (out / ".github/workflows/ci.yml").read_text() == "run: ${{ github.sha }}"
    assert (out / "billing.md").read_text() == "billing"
    assert (out / "static/billing/page.html").read_text() == "${{ raw }}"


def test_render_copy_without_render_keeps_name(tmp_path: Path) -> None:
    out = render(tmp_path, {"${{ values.name }}.md": "${{ x }}"},
                 copy_without_render=("*.md",))
    assert (out / "${{ values.name }}.md").read_text() == "${{ x }}"


@pytest.mark.parametrize("extension", [True, ".njk", "njk"])
def test_render_template_file_extension(tmp_path: Path, extension: str | bool) -> None:
    files = {"${{ values.name }}.txt.njk": "${{ values.owner }}", "raw.txt": "${{ values.x }}"}
    out = render(tmp_path, files, template_file_extension=normalize_extension(extension))
    assert (out / "billing.txt").read_text() == "team-a"
    assert (out / "raw.txt").read_text() == "${{ values.x }}"


def test_normalize_extension_off_values() -> None:
    assert normalize_extension(False) is None
    assert normalize_extension(None) is None
    assert normalize_extension("") is None


def test_render_cookiecutter_compat(tmp_path: Path) -> None:
    files = {"{{ cookiecutter.name }}/x.json": "{{ cookiecutter.name }} {{ values.owner }} "
             "{{ cookiecutter | jsonify(0) }}"}
    out = render(tmp_path, files, cookiecutter_compat=True, values={"name": "n", "owner": "o"})
    text = (out / "n" / "x.json").read_text()
    assert text.startswith("n o {")
    assert '"name": "n"' in text


def test_render_trim_and_lstrip_blocks(tmp_path: Path) -> None:
    text = "a\n    {% if values.name %}\nb\n    {% endif %}\nc\n"
    plain = render(tmp_path / "1", {"f.txt": text})
    trimmed = render(tmp_path / "2", {"f.txt": text}, trim_blocks=True, lstrip_blocks=True)
    assert (plain / "f.txt").read_text() == "a\n    \nb\n    \nc\n"
    assert (trimmed / "f.txt").read_text() == "a\nb\nc\n"


def test_render_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(RenderError) as caught:
        render(tmp_path, {"docs/index.md": "ok\nok\n{% if %}\n"})
    assert caught.value.origin == "file docs/index.md"
    assert caught.value.line == 3


def test_render_unknown_variable_is_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="valeus"):
        render(tmp_path, {"f.txt": "${{ valeus.name }}"})


def test_render_sandbox_blocks_escape(tmp_path: Path) -> None:
    text = "${{ values.name.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(RenderError, match=r"file f\.txt"):
        render(tmp_path, {"f.txt": text})


def test_render_fast_path_matches_jinja(tmp_path: Path) -> None:
    values = {"name": "x", "n": 3, "flag": True, "none": None, "nested": {"items": 1, "k": "v"}}
    text = ("${{ values.name }} ${{values.n}} ${{ values.flag }} ${{ values.none }} "
            "${{ values.nested.k }} ${{ values.nested.items }} $${{ values.name }}")
    fast = render(tmp_path / "1", {"f.txt": text}, values=values)
    jinja = render(tmp_path / "2", {"f.txt": text + "{# force Jinja #}"}, values=values)
    assert (fast / "f.txt").read_text() == (jinja / "f.txt").read_text()


def test_render_target_inside_skeleton_rejected(tmp_path: Path) -> None:
    source = write(tmp_path / "skeleton", {"a.txt": "a"})
    with pytest.raises(SkeletonError, match="inside the skeleton"):
        render_skeleton(source, source / "out", SkeletonOptions())


def test_render_file_single(tmp_path: Path) -> None:
    source = write(tmp_path / "t", {"f.txt": "${{ values.name }}"}) / "f.txt"
    assert render_file(source, tmp_path / "w" / "a" / "g.txt", SkeletonOptions(values=VALUES))
    assert (tmp_path / "w" / "a" / "g.txt").read_text() == "billing"
    assert not render_file(source, tmp_path / "w" / "a" / "g.txt", SkeletonOptions())


def test_copy_tree_no_templating(tmp_path: Path) -> None:
    source = write(tmp_path / "s", {"${{ values.name }}/f.txt": "${{ values.name }}"})
    write(tmp_path / "out", {"${{ values.name }}/f.txt": "old"})
    copy_tree(source, tmp_path / "out")
    assert (tmp_path / "out" / "${{ values.name }}" / "f.txt").read_text() == "${{ values.name }}"
