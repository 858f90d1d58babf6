"""resolve_template_url: relative url inputs stay inside the template folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaffolder.errors import TemplateError
from scaffolder.templates import resolve_template_url


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "template"
    (folder / "skeleton" / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (folder / "to-outside").symlink_to(tmp_path / "outside")
    (folder / "to-skeleton").symlink_to(folder / "skeleton")
    return folder


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("./skeleton", "skeleton"),
        ("skeleton/sub", "skeleton/sub"),
        ("./skeleton/../skeleton/sub/", "skeleton/sub"),
        (".", "."),
        ("./to-skeleton", "skeleton"),
        ("./not-yet-there", "not-yet-there"),
    ],
)
def test_relative_urls_resolve(template_dir: Path, url: str, expected: str) -> None:
    assert resolve_template_url(template_dir, url) == (template_dir / expected).resolve()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("../outside", "outside the template folder"),
        ("./skeleton/../../outside", "outside the template folder"),
        ("./to-outside", "outside the template folder"),
        ("./to-outside/file.txt", "outside the template folder"),
        ("/etc", "is not a path relative to the template folder"),
        ("~/x", "is not a path relative to the template folder"),
        ("https://example.com/skeleton", "is not a path relative to the template folder"),
        ("", "url input is empty"),
    ],
)
def test_escaping_urls_rejected(template_dir: Path, url: str, expected: str) -> None:
    with pytest.raises(TemplateError, match=expected) as caught:
        resolve_template_url(template_dir, url)
    assert caught.value.exit_code == 2
    assert caught.value.hint


SEGMENTS = st.sampled_from(["..", ".", "skeleton", "sub", "to-outside", "to-skeleton", "x", ""])


@given(parts=st.lists(SEGMENTS, min_size=1, max_size=8), leading=st.sampled_from(["", "./", "/"]))
def test_resolved_url_never_leaves(parts: list[str], leading: str) -> None:
    with tempfile.TemporaryDirectory() as root_name:
        root = Path(root_name).resolve()
        folder = root / "template"
        (folder / "skeleton" / "sub").mkdir(parents=True)
        (root / "outside").mkdir()
        (folder / "to-outside").symlink_to(root / "outside")
        (folder / "skeleton" / "sub" / "to-skeleton").symlink_to(folder / "skeleton")
        (folder / "to-skeleton").symlink_to(folder / "skeleton")
        url = leading + "/".join(parts)

        try:
            resolved = resolve_template_url(folder, url)
        except TemplateError:
            return
        assert resolved.is_relative_to(folder)
        assert resolved.resolve() == resolved
