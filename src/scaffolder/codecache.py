"""A disk cache of compiled template code, so running a template again skips Jinja's compiler.

Parsing and generating code is most of the time a skeleton with ``{% %}`` blocks takes to
render. The cache keeps Python code objects (``marshal``), keyed by the text, the environment's
options and the versions of Python, Jinja2 and scaffolder, in ``$SCAFFOLDER_CACHE_DIR``, else
``$XDG_CACHE_HOME/scaffolder/templates``, else ``~/.cache/scaffolder/templates``. An empty
``SCAFFOLDER_CACHE_DIR`` turns it off. Like ``__pycache__``, the files are trusted: the folder
is created private (0700) to the user.
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import os
import sys
import tempfile
from pathlib import Path
from types import CodeType

import jinja2

from scaffolder import __version__

logger = logging.getLogger("scaffolder.codecache")

_FORMAT = b"scaffolder-code-1\n"


def cache_dir() -> Path | None:
    configured = os.environ.get("SCAFFOLDER_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scaffolder" / "templates"


def cache_key(options: str, source: str) -> str:
    """Return the key of ``source`` compiled by an environment described by ``options``."""
    digest = hashlib.sha256()
    for part in (sys.implementation.cache_tag or "", jinja2.__version__, __version__, options,
                 source):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def load(key: str) -> tuple[CodeType, frozenset[str]] | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        data = (folder / key[:2] / key).read_bytes()
    except OSError:
        return None
    try:
        header, roots_line, payload = data.split(b"\n", 2)
        if header + b"\n" != _FORMAT:
            return None
        code = marshal.loads(payload)
        roots = frozenset(json.loads(roots_line))
    except (ValueError, EOFError, TypeError):
        return None
    return (code, roots) if isinstance(code, CodeType) else None


def store(key: str, code: CodeType, roots: frozenset[str]) -> None:
    folder = cache_dir()
    if folder is None:
        return
    target = folder / key[:2] / key
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = _FORMAT + json.dumps(sorted(roots)).encode() + b"\n" + marshal.dumps(code)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(body)
        os.replace(temporary, target)
    except OSError as error:
        logger.debug("template code cache not written to %s: %s", folder, error)
