"""safe_join and split_relative: nothing they return may leave the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaffolder.pathsafety import UnsafePathError, is_inside, safe_join, split_relative


def test_safe_join_plain_relative(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt"


@pytest.mark.parametrize("relative", ["", ".", "./", "./."])
def test_safe_join_dot_is_root(tmp_path: Path, relative: str) -> None:
    assert safe_join(tmp_path, relative) == tmp_path


@pytest.mark.parametrize("relative", ["../x", "a/../../x", "a/..", "..", "a/..\\b"])
def test_safe_join_rejects_dotdot(tmp_path: Path, relative: str) -> None:
    with pytest.raises(UnsafePathError, match=r"'\.\.'"):
        safe_join(tmp_path, relative)


@pytest.mark.parametrize("relative", ["/etc/passwd", "\\x", "//server/share"])
def test_safe_join_rejects_absolute(tmp_path: Path, relative: str) -> None:
    with pytest.raises(UnsafePathError, match="absolute"):
        safe_join(tmp_path, relative)


def test_safe_join_rejects_nul(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="NUL"):
        safe_join(tmp_path, "a\0b")


def test_safe_join_rejects_symlink_outside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="symlink") as caught:
        safe_join(root, "escape/file.txt")
    assert caught.value.path == "escape/file.txt"


def test_safe_join_keeps_symlink_inside(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    assert safe_join(tmp_path, "link/x") == tmp_path / "link" / "x"


def test_split_relative_drops_empty_segments(tmp_path: Path) -> None:
    assert split_relative("a//b/./c/", root=tmp_path) == ("a", "b", "c")


def test_is_inside_sibling_with_common_prefix(tmp_path: Path) -> None:
    assert not is_inside(tmp_path / "root", tmp_path / "root2" / "x")


_SEGMENTS = st.sampled_from(["a", "b", "..", ".", "", "link", "out", "c.txt", "\\..", "~"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(_SEGMENTS, max_size=6), leading_slash=st.booleans())
def test_safe_join_never_leaves_root(
    tmp_path: Path, segments: list[str], leading_slash: bool
) -> None:
    root = tmp_path / "root"
    if not root.exists():
        (root / "a").mkdir(parents=True)
        (root / "link").symlink_to("a")
        (root / "out").symlink_to(tmp_path)
    relative = ("/" if leading_slash else "") + "/".join(segments)
    try:
        joined = safe_join(root, relative)
    except UnsafePathError:
        return
    real_root = os.path.realpath(root)
    real = os.path.realpath(joined)
    assert real == real_root or real.startswith(real_root + os.sep)


@settings(max_examples=200)
@given(text=st.text(max_size=30))
def test_split_relative_never_yields_dotdot(text: str) -> None:
    try:
        parts = split_relative(text, root=Path("/r"))
    except UnsafePathError:
        return
    assert ".." not in parts
    assert all(part and "/" not in part for part in parts)
