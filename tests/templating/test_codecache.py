"""The disk cache of compiled template code."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaffolder import codecache
from scaffolder.templating import _compile, create_environment, render_text

CONTEXT = {"values": {"name": "svc", "flag": True}}
TEXT = "{% if values.flag %}on {{ values.name }}{% endif %}"


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_second_render_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAFFOLDER_CACHE_DIR", str(tmp_path))
    env = create_environment(cookiecutter_compat=True)
    _compile.cache_clear()
    assert render_text(TEXT, CONTEXT, origin="f", env=env) == "on svc"
    assert len(_files(tmp_path)) == 1

    _compile.cache_clear()
    written = _files(tmp_path)[0].stat().st_mtime_ns
    assert render_text(TEXT, CONTEXT, origin="f", env=env) == "on svc"
    assert [path.stat().st_mtime_ns for path in _files(tmp_path)] == [written]


def test_corrupt_cache_file_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAFFOLDER_CACHE_DIR", str(tmp_path))
    env = create_environment(cookiecutter_compat=True)
    _compile.cache_clear()
    render_text(TEXT, CONTEXT, origin="f", env=env)
    for path in _files(tmp_path):
        path.write_bytes(b"scaffolder-code-1\n[]\nnot marshal data")
    _compile.cache_clear()
    assert render_text(TEXT, CONTEXT, origin="f", env=env) == "on svc"


def test_cached_roots_still_catch_unknown_variables(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAFFOLDER_CACHE_DIR", str(tmp_path))
    env = create_environment(cookiecutter_compat=True)
    text = "{{ valuez.name }}"
    for _ in range(2):
        _compile.cache_clear()
        with pytest.raises(Exception, match="unknown variable 'valuez'"):
            render_text(text, CONTEXT, origin="f", env=env)


def test_empty_setting_turns_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCAFFOLDER_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _compile.cache_clear()
    render_text(TEXT, CONTEXT, origin="f", env=create_environment(cookiecutter_compat=True))
    assert codecache.cache_dir() is None
    assert _files(tmp_path) == []
