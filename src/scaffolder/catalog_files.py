"""Round-trip reading and editing of catalog YAML files with ruamel.yaml.

A file is split into its documents at ``---`` lines, and each document is loaded on its own.
Only the documents that an edit touched are dumped again; every other byte of the file is
written back as it was read. ruamel.yaml keeps the comments, key order, quotes and anchors of
an edited document, and the dump uses the indentation detected in that document. A dumped
document gets the file's line ending (CRLF when the file contains one), and the file keeps
its byte order mark and its missing final newline.

NOTE: an edited document still loses what ruamel.yaml's round trip does not keep, e.g. a
``null`` or ``~`` value is dumped as an empty value, without its anchor.
"""

from __future__ import annotations

import difflib
import io
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from scaffolder.errors import InputError

logger = logging.getLogger("scaffolder.catalog")

DUMP_WIDTH = 4096
"""Line width of dumped documents: wide enough that ruamel.yaml never folds a long value."""

DEFAULT_INDENT = (2, 4, 2)
"""Mapping indent, sequence indent and dash offset when a document shows none: the layout of
most Backstage catalog files (``tags:`` then ``    - python``)."""

_BOM = "\ufeff"
_SEPARATOR = re.compile(r"^---[ \t]*(#.*)?$")
_BLOCK_KEY = re.compile(r"^[^#]*?:[ \t]*(#.*)?$")


class InvalidYAMLError(InputError):
    """A catalog file that is not valid YAML.

    ``line`` is the 1-based line of the error in the file, or None when ruamel.yaml gives no
    position; ``problem`` is ruamel.yaml's description of the error.
    """

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f" at line {line}" if line is not None else ""
        super().__init__(
            f"catalog file {str(path)!r} is not valid YAML{where}: {problem}",
            hint="fix the YAML syntax, then run the command again",
        )
        self.path = path
        self.line = line
        self.problem = problem


@dataclass
class Chunk:
    """One document of a file: the separator line before it (or "") and its text."""

    separator: str
    body: str
    first_line: int
    data: Any = None
    changed: bool = False
    indent: tuple[int, int, int] = DEFAULT_INDENT


@dataclass
class CatalogFile:
    """The documents of one YAML file, loaded for round-trip editing.

    ``text`` is the file's content exactly as read, byte order mark and CRLF line endings
    included; ``newline`` is the line ending that dumped documents get.
    """

    path: Path
    text: str
    chunks: list[Chunk] = field(default_factory=list)
    bom: str = ""
    newline: str = "\n"

    @classmethod
    def read(cls, path: Path) -> CatalogFile:
        """Read and parse ``path``; raise :class:`InputError` for unreadable or invalid YAML."""
        return cls.parse(path, read_text(path))

    @classmethod
    def parse(cls, path: Path, text: str) -> CatalogFile:
        """Parse ``text``, the exact content of ``path``.

        Raises :class:`InvalidYAMLError` when a document is not valid YAML.
        """
        bom = _BOM if text.startswith(_BOM) else ""
        newline = "\r\n" if "\r\n" in text else "\n"
        catalog_file = cls(path, text, split_documents(text[len(bom) :]), bom, newline)
        for chunk in catalog_file.chunks:
            chunk.data = _load(chunk, path)
            chunk.indent = detect_indent(chunk.body)
        return catalog_file

    def mark_changed(self, index: int) -> None:
        self.chunks[index].changed = True

    @property
    def changed(self) -> bool:
        return self.render() != self.text

    def render(self) -> str:
        """Return the text that :meth:`write` writes: every changed document dumped again."""
        parts = [self.bom]
        for chunk in self.chunks:
            parts.append(chunk.separator)
            parts.append(_dump(chunk, self.newline) if chunk.changed else chunk.body)
        return "".join(parts)

    def diff(self, label: str | None = None) -> str:
        """Return a unified diff from the text as read to the rendered text ("" if equal).

        A line without a final newline is followed by ``\\ No newline at end of file``, as
        ``diff`` and ``git diff`` print it.
        """
        name = label or str(self.path)
        lines = difflib.unified_diff(
            self.text.splitlines(keepends=True),
            self.render().splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines
        )

    def write(self) -> bool:
        """Write the rendered text atomically when it differs; return whether it did."""
        rendered = self.render()
        if rendered == self.text:
            return False
        write_atomically(self.path, rendered)
        self.text = rendered
        self.chunks = CatalogFile.parse(self.path, rendered).chunks
        return True


def read_text(path: Path) -> str:
    """Return the content of ``path`` decoded as UTF-8, with its line endings unchanged.

    Raises :class:`InputError` when the file cannot be read or is not UTF-8.
    """
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"cannot read catalog file {str(path)!r}: {reason}") from error


def split_documents(text: str) -> list[Chunk]:
    """Split ``text`` at ``---`` lines; a separator with content after it stays in the body."""
    chunks = [Chunk("", "", 1)]
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if _SEPARATOR.match(line.rstrip("\r\n")):
            if chunks[-1].separator or chunks[-1].body.strip():
                chunks.append(Chunk(line, "", number + 1))
            else:
                chunks[-1].separator += chunks[-1].body + line
                chunks[-1].body = ""
                chunks[-1].first_line = number + 1
            continue
        chunks[-1].body += line
    return chunks


def _yaml(indent: tuple[int, int, int] = DEFAULT_INDENT) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = DUMP_WIDTH
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _load(chunk: Chunk, path: Path) -> Any:
    # Comments loaded from CRLF text keep their "\r", so the text is loaded with LF endings
    # and _dump puts the file's line ending back.
    try:
        data = _yaml().load(chunk.body.replace("\r\n", "\n"))
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + chunk.first_line if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InvalidYAMLError(path, line, problem) from error
    keep_anchors(data)
    return data


def _dump(chunk: Chunk, newline: str) -> str:
    stream = io.StringIO()
    yaml = _yaml(chunk.indent)
    if chunk.body.lstrip().startswith("---"):
        yaml.explicit_start = True
    yaml.dump(chunk.data, stream)
    text = stream.getvalue()
    if not chunk.body.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text.replace("\n", newline) if newline != "\n" else text


def keep_anchors(node: Any) -> None:
    """Mark every anchor under ``node`` to be dumped, whether an alias refers to it or not.

    ruamel.yaml loads anchored scalars with ``always_dump`` set, but dumps the anchor of a
    mapping, a sequence or a tagged scalar only when an alias refers to it.
    """
    pending = [node]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        anchor = getattr(current, "anchor", None) if hasattr(current, "yaml_set_anchor") else None
        if anchor is not None and anchor.value is not None:
            current.yaml_set_anchor(anchor.value, always_dump=True)
        if isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)


def detect_indent(text: str) -> tuple[int, int, int]:
    """Return ``(mapping, sequence, offset)`` as the first nested blocks of ``text`` use them."""
    mapping: int | None = None
    offset: int | None = None
    parent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        column = len(line) - len(line.lstrip(" "))
        dash = stripped == "-" or stripped.startswith("- ")
        if parent is not None and dash and offset is None:
            offset = column - parent
        elif parent is not None and not dash and column > parent and mapping is None:
            mapping = column - parent
        if mapping is not None and offset is not None:
            break

        content = stripped[1:].lstrip() if dash else stripped
        key_column = column + len(stripped) - len(content)
        parent = key_column if _BLOCK_KEY.match(content) else None

    mapping = mapping or DEFAULT_INDENT[0]
    if offset is None or offset < 0:
        return mapping, DEFAULT_INDENT[1], DEFAULT_INDENT[2]
    return mapping, offset + 2, offset


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` through a temporary file in the same folder."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# Editing helpers that keep comments in place


def quoted(value: str) -> str:
    """Return ``value`` as a double-quoted scalar, so that hex keys never load as numbers."""
    scalar: str = DoubleQuotedScalarString(value)
    return scalar


def append_key(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add ``key: value`` at the end of ``mapping``, keeping the comments that followed it.

    ruamel.yaml attaches the comment lines and blank lines after a block to its deepest last
    item; they move to the new item so that they still follow the block.
    """
    trailing = detach_trailing_comment(mapping)
    mapping[key] = value
    if trailing:
        attach_trailing_comment(mapping, trailing)


def append_item(sequence: CommentedSeq, value: Any) -> None:
    """Add ``value`` at the end of ``sequence``, keeping the comments that followed it."""
    trailing = detach_trailing_comment(sequence)
    sequence.append(value)
    if trailing:
        attach_trailing_comment(sequence, trailing)


def detach_trailing_comment(node: Any) -> str | None:
    """Remove and return the full-line comments after the deepest last item of ``node``.

    The end-of-line comment of that item stays where it is.
    """
    if isinstance(node, CommentedMap) and len(node):
        last: Any = list(node.keys())[-1]
        slot = 2
    elif isinstance(node, CommentedSeq) and len(node):
        last, slot = len(node) - 1, 0
    else:
        return None

    inner = detach_trailing_comment(node[last])
    if inner:
        return inner
    entry = node.ca.items.get(last)
    token = entry[slot] if entry and len(entry) > slot else None
    if not isinstance(token, CommentToken):
        return None
    value = str(token.value)
    newline = value.find("\n")
    if newline < 0 or newline == len(value) - 1:
        return None
    token.value = value[: newline + 1]
    return value[newline + 1 :]


def attach_trailing_comment(node: Any, text: str) -> None:
    """Put the comment ``text`` after the deepest last item of ``node``."""
    if isinstance(node, CommentedMap) and len(node):
        last: Any = list(node.keys())[-1]
        slot = 2
    elif isinstance(node, CommentedSeq) and len(node):
        last, slot = len(node) - 1, 0
    else:
        return
    if isinstance(node[last], CommentedMap | CommentedSeq) and len(node[last]):
        attach_trailing_comment(node[last], text)
        return
    entry = node.ca.items.setdefault(last, [None, None, None, None])
    existing = entry[slot]
    if isinstance(existing, CommentToken):
        existing.value = str(existing.value) + text
    else:
        entry[slot] = CommentToken("\n" + text, CommentMark(0), None)


def new_mapping() -> CommentedMap:
    return CommentedMap()


def new_sequence(items: list[Any]) -> CommentedSeq:
    return CommentedSeq(items)
