"""Rendering a skeleton folder into the workspace: the algorithm of Backstage's ``fetch:template``.

Every entry of the skeleton is visited in name order. Each segment of its name is rendered
with the same sandboxed environment as its contents. A segment that renders empty skips the
file, or the whole folder with everything below it. A rendered segment may contain ``/`` (a
Java package such as ``com/example``), but never ``..`` and never an absolute path.

File contents are rendered when they decode as UTF-8 and contain template syntax. Binary files
(a NUL byte in the first 8 KiB, or not UTF-8) and files without template syntax are written
byte for byte. File modes are kept. A symlink is recreated with the same relative target when
that target stays inside the skeleton, and rejected otherwise.

As in Backstage, a file that already exists in the target is skipped unless ``replace`` is set,
and ``copyWithoutTemplating`` copies matching files as they are while still rendering their
names. Unlike Backstage, a pattern that matches a folder also covers everything below it.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from scaffolder.errors import ActionError
from scaffolder.pathsafety import UnsafePathError, is_inside, split_relative
from scaffolder.templating import create_environment, has_template_syntax, render_text

__all__ = [
    "SkeletonError",
    "SkeletonOptions",
    "SkeletonResult",
    "copy_tree",
    "normalize_extension",
    "render_file",
    "render_skeleton",
]

logger = logging.getLogger("scaffolder.skeleton")

_BINARY_PROBE_BYTES = 8192
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED_PATH = rf"\s*({_IDENTIFIER}(?:\.{_IDENTIFIER})*)\s*\}}\}}"
_SIMPLE_EXPRESSIONS = {
    "${{": re.compile(r"\$\{\{" + _DOTTED_PATH),
    "{{": re.compile(r"\{\{" + _DOTTED_PATH),
}
_UNRESOLVED = object()
DEFAULT_TEMPLATE_EXTENSION = ".njk"


class SkeletonError(ActionError):
    """A skeleton entry that cannot be rendered or written; ``path`` is its skeleton path."""

    def __init__(self, message: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


@dataclass(frozen=True)
class SkeletonOptions:
    """How to render a skeleton; the fields mirror the inputs of ``fetch:template``.

    ``render`` false copies names and contents as they are (``fetch:plain``). Glob patterns
    are relative to the skeleton and use :mod:`glob` syntax (``*``, ``?``, ``[...]``, ``**``).
    ``copy_without_render`` is Backstage's deprecated form: matching entries keep their names
    unrendered too.
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    render: bool = True
    cookiecutter_compat: bool = False
    copy_without_templating: tuple[str, ...] = ()
    copy_without_render: tuple[str, ...] = ()
    template_file_extension: str | None = None
    replace: bool = False
    trim_blocks: bool = False
    lstrip_blocks: bool = False

    def context(self) -> dict[str, Any]:
        """Return the variables that files see: ``values``, and ``cookiecutter`` in compat mode."""
        context: dict[str, Any] = {"values": dict(self.values)}
        if self.cookiecutter_compat:
            context["cookiecutter"] = context["values"]
        return context


@dataclass
class SkeletonResult:
    """Record of one render: target-relative paths written, and existing files kept."""

    files: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    symlinks: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    rendered: int = 0


def normalize_extension(value: str | bool | None) -> str | None:
    """Turn the ``templateFileExtension`` input into an extension with its dot, or None.

    ``true`` means ``.njk``, as in Backstage; ``false``, None and ``""`` turn the option off.
    """
    if value is None or value is False or value == "":
        return None
    if value is True:
        return DEFAULT_TEMPLATE_EXTENSION
    return value if value.startswith(".") else f".{value}"


def render_skeleton(
    source: Path,
    target: Path,
    options: SkeletonOptions,
    *,
    check_cancelled: Callable[[], None] | None = None,
) -> SkeletonResult:
    """Render the skeleton folder ``source`` into the folder ``target`` and return what it wrote.

    Raises :class:`SkeletonError` (or :class:`~scaffolder.pathsafety.UnsafePathError`) for an
    entry that would land outside ``target`` or a symlink that leaves the skeleton, and
    :class:`~scaffolder.templating.RenderError` naming the file for a template error. Files
    written before the error stay in ``target``.
    """
    if not source.is_dir():
        raise SkeletonError(
            f"skeleton folder {str(source)!r} does not exist or is not a folder", path="."
        )
    if is_inside(source, target):
        raise SkeletonError(
            f"target folder {str(target)!r} is inside the skeleton {str(source)!r}",
            path=".",
            hint="choose a targetPath in the workspace, outside the template folder",
        )
    walker = _Walker(source, target, options, check_cancelled or _never_cancelled)
    walker.run()
    return walker.result


def copy_tree(
    source: Path,
    target: Path,
    *,
    check_cancelled: Callable[[], None] | None = None,
) -> SkeletonResult:
    """Copy ``source`` into ``target`` without templating, replacing existing files.

    Modes and in-skeleton symlinks are kept; symlinks that leave ``source`` are rejected.
    """
    options = SkeletonOptions(render=False, replace=True)
    return render_skeleton(source, target, options, check_cancelled=check_cancelled)


def render_file(source: Path, target: Path, options: SkeletonOptions) -> bool:
    """Render the single file ``source`` to the path ``target``; return False if it was skipped.

    The target's name is used as given (it is not rendered). An existing target is kept
    unless ``options.replace`` is set. A binary file is copied byte for byte.
    """
    if not source.is_file():
        raise SkeletonError(f"template file {str(source)!r} does not exist", path=source.name)
    if os.path.lexists(target) and not options.replace:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    walker = _Walker(source.parent, target.parent, options, _never_cancelled)
    walker.write_file(str(source), target, source.name, render_contents=options.render)
    return True


def _never_cancelled() -> None:
    return None


@lru_cache(maxsize=8)
def _environment(
    cookiecutter_compat: bool, trim_blocks: bool, lstrip_blocks: bool
) -> SandboxedEnvironment:
    """Return the shared environment, plus cookiecutter's ``jsonify`` filter in compat mode."""
    env = create_environment(
        cookiecutter_compat=cookiecutter_compat,
        trim_blocks=trim_blocks,
        lstrip_blocks=lstrip_blocks,
    )
    if not cookiecutter_compat:
        return env
    overlay = env.overlay()
    overlay.filters["jsonify"] = _jsonify
    return overlay


def _jsonify(value: Any, indent: int = 4) -> str:
    return json.dumps(value, sort_keys=True, indent=indent, default=str)


def _glob_matches(root: Path, patterns: Iterable[str]) -> frozenset[str]:
    """Return the root-relative POSIX paths that ``patterns`` match, hidden files included.

    NOTE: :mod:`glob` has no brace expansion, so a Backstage pattern such as ``*.{png,jpg}``
    matches nothing here; list the patterns separately.
    """
    matched: set[str] = set()
    for pattern in patterns:
        cleaned = pattern.removeprefix("./").rstrip("/")
        split_relative(cleaned, root=root, what="glob pattern")
        for path in glob.glob(cleaned, root_dir=root, recursive=True, include_hidden=True):
            matched.add(Path(path).as_posix())
    return frozenset(matched)


class _Walker:
    """One render of a skeleton: options resolved once, then a walk of the folder tree."""

    def __init__(
        self,
        source: Path,
        target: Path,
        options: SkeletonOptions,
        check_cancelled: Callable[[], None],
    ) -> None:
        self.source = source
        self.source_real = os.path.realpath(source)
        self.target = target
        self.target_real = os.path.realpath(target)
        self.options = options
        self.check_cancelled = check_cancelled
        self.extension = options.template_file_extension
        self.context = options.context()
        self.env = _environment(
            options.cookiecutter_compat, options.trim_blocks, options.lstrip_blocks
        )
        self.simple_expression = _SIMPLE_EXPRESSIONS[self.env.variable_start_string]
        self.resolved_paths: dict[str, object] = {}
        self.rendered_names: dict[str, str] = {}
        self.verbatim = _glob_matches(source, options.copy_without_templating)
        self.unrendered = _glob_matches(source, options.copy_without_render)
        self.result = SkeletonResult()

    def run(self) -> None:
        self.target.mkdir(parents=True, exist_ok=True)
        self.target_real = os.path.realpath(self.target)
        self._check_folder(self.target, ".")
        self._walk(str(self.source), "", self.target, "", inherited=None)

    # Walking ----------------------------------------------------------------------------

    def _walk(
        self,
        folder: str,
        relative: str,
        out_folder: Path,
        out_relative: str,
        inherited: str | None,
    ) -> None:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            self.check_cancelled()
            entry_relative = f"{relative}{entry.name}"
            mode = inherited or self._mode(entry_relative)
            is_dir = entry.is_dir(follow_symlinks=False)
            name = entry.name
            render_contents = self.options.render and mode is None
            if self.extension and not is_dir and not entry.is_symlink() and mode is None:
                render_contents = name.endswith(self.extension)
                if render_contents:
                    name = name[: -len(self.extension)]
            parts = self._output_parts(name, entry_relative, render_name=mode != "unrendered")
            if parts is None:
                continue
            out_path = out_folder.joinpath(*parts)
            out_entry_relative = "/".join((*filter(None, [out_relative]), *parts))
            if len(parts) > 1:
                self._make_folder(out_path.parent, out_entry_relative.rpartition("/")[0])
            if entry.is_symlink():
                self._copy_symlink(entry.path, out_path, entry_relative, out_entry_relative)
            elif is_dir:
                self._make_folder(out_path, out_entry_relative)
                self._walk(
                    entry.path, entry_relative + "/", out_path, out_entry_relative, inherited=mode
                )
            else:
                self._write_entry(
                    entry, out_path, entry_relative, out_entry_relative, render_contents
                )

    def _mode(self, relative: str) -> str | None:
        """Return ``verbatim``, ``unrendered`` (name and contents as is) or None (render all)."""
        if relative in self.unrendered:
            return "unrendered"
        if relative in self.verbatim:
            return "verbatim"
        return None

    def _output_parts(
        self, name: str, relative: str, *, render_name: bool
    ) -> tuple[str, ...] | None:
        """Render one name; None means it rendered empty and the entry is skipped."""
        if not name:
            return None
        if not (self.options.render and render_name and has_template_syntax(name, self.env)):
            return (name,)
        rendered = self.rendered_names.get(name)
        if rendered is None:
            rendered = self.render(name, origin=f"file name {relative}")
            self.rendered_names[name] = rendered
        if rendered == "" or "//" in rendered:
            return None
        try:
            parts = split_relative(
                rendered, root=self.target, what=f"rendered name of {relative!r}"
            )
        except UnsafePathError:
            raise SkeletonError(
                f"{relative!r} renders to {rendered!r}, which would leave the target folder "
                "(absolute paths and '..' are not allowed in rendered names)",
                path=relative,
                hint="check the values used in this file or folder name",
            ) from None
        return parts or None

    # Writing ----------------------------------------------------------------------------

    def _make_folder(self, path: Path, out_relative: str) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise SkeletonError(
                f"cannot create folder {out_relative!r}: a file with that name already exists",
                path=out_relative,
            ) from None
        self._check_folder(path, out_relative)
        self.result.folders.append(out_relative)

    def _check_folder(self, path: Path, out_relative: str) -> None:
        real = os.path.realpath(path)
        if real != self.target_real and not real.startswith(self.target_real + os.sep):
            raise UnsafePathError(
                f"folder {out_relative!r} resolves to {os.path.realpath(path)!r}, outside the "
                f"target folder {str(self.target)!r}",
                path=out_relative,
                root=self.target,
                hint="remove the symlink from the workspace or choose another targetPath",
            )

    def _claim(self, out_path: Path, out_relative: str) -> bool:
        """Return whether ``out_path`` may be written, removing an existing file if replacing."""
        if not os.path.lexists(out_path):
            return True
        if not self.options.replace:
            self.result.skipped_existing.append(out_relative)
            logger.debug("%s exists and replace is false: skipped", out_relative)
            return False
        if out_path.is_dir() and not out_path.is_symlink():
            raise SkeletonError(
                f"cannot replace {out_relative!r}: it is a folder in the target",
                path=out_relative,
            )
        out_path.unlink()
        return True

    def _write_entry(
        self,
        entry: os.DirEntry[str],
        out_path: Path,
        relative: str,
        out_relative: str,
        render_contents: bool,
    ) -> None:
        if not self._claim(out_path, out_relative):
            return
        self.write_file(
            entry.path,
            out_path,
            relative,
            render_contents=render_contents,
            mode=stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode),
        )
        self.result.files.append(out_relative)

    def write_file(
        self,
        source: str,
        out_path: Path,
        relative: str,
        *,
        render_contents: bool,
        mode: int | None = None,
    ) -> None:
        """Write one file: rendered when it is UTF-8 text with template syntax, else copied."""
        if mode is None:
            mode = stat.S_IMODE(os.stat(source).st_mode)
        if not render_contents:
            shutil.copyfile(source, out_path)
            os.chmod(out_path, mode)
            return
        with open(source, "rb") as handle:
            head = handle.read(_BINARY_PROBE_BYTES)
            data = None if b"\0" in head else head + handle.read()
        if data is None:
            shutil.copyfile(source, out_path)
        else:
            out_path.write_bytes(self._render_bytes(data, relative))
        os.chmod(out_path, mode)

    def _render_bytes(self, data: bytes, relative: str) -> bytes:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data
        if not has_template_syntax(text, self.env):
            return data
        self.result.rendered += 1
        return self.render(text, origin=f"file {relative}").encode("utf-8")

    # Rendering ----------------------------------------------------------------------------

    def render(self, text: str, *, origin: str) -> str:
        """Render ``text``, substituting plain ``${{ values.a.b }}`` without Jinja when possible."""
        substituted = self._substitute(text)
        if substituted is not None:
            return substituted
        return render_text(text, self.context, origin=origin, env=self.env)

    def _substitute(self, text: str) -> str | None:
        """Return ``text`` with its expressions replaced, or None when Jinja must render it.

        The fast path accepts texts without blocks, comments or carriage returns (Jinja turns
        those into newlines). Each expression must be a dotted path through dicts to a string,
        number, boolean or null, which Jinja outputs with ``str()``, so the result is the same.
        Anything else, including a missing key, goes to Jinja.
        """
        if "{%" in text or "{#" in text or "\r" in text:
            return None
        pieces = self.simple_expression.split(text)
        start = self.env.variable_start_string
        for literal in pieces[0::2]:
            if start in literal or literal.endswith("{"):
                return None
        for index in range(1, len(pieces), 2):
            value = self._resolve(pieces[index])
            if value is _UNRESOLVED:
                return None
            pieces[index] = str(value)
        return "".join(pieces)

    def _resolve(self, path: str) -> object:
        if path in self.resolved_paths:
            return self.resolved_paths[path]
        root, *keys = path.split(".")
        value: object = self.context.get(root, _UNRESOLVED)
        for key in keys:
            # Jinja prefers an attribute to an item, so `values.items` is dict.items.
            if type(value) is not dict or hasattr(dict, key) or key not in value:
                value = _UNRESOLVED
                break
            value = value[key]
        if value is not _UNRESOLVED and not isinstance(value, str | int | float | bool | None):
            value = _UNRESOLVED
        self.resolved_paths[path] = value
        return value

    def _copy_symlink(self, link: str, out_path: Path, relative: str, out_relative: str) -> None:
        link_target = os.readlink(link)
        resolved = os.path.realpath(os.path.join(os.path.dirname(link), link_target))
        inside = resolved == self.source_real or resolved.startswith(self.source_real + os.sep)
        if os.path.isabs(link_target) or not inside:
            raise SkeletonError(
                f"symlink {relative!r} points to {link_target!r}, outside the skeleton",
                path=relative,
                hint="make the link relative and keep its target inside the skeleton folder",
            )
        if not self._claim(out_path, out_relative):
            return
        os.symlink(link_target, out_path)
        if not is_inside(self.target, out_path):
            out_path.unlink()
            raise SkeletonError(
                f"symlink {relative!r} would point outside the target folder once written as "
                f"{out_relative!r}",
                path=relative,
            )
        self.result.symlinks.append(out_relative)
