"""Finding, loading and validating Backstage Software Templates (scaffolder.backstage.io/v1beta3).

:func:`load_template` accepts, in this order of precedence:

- a git source, written in Terraform's module-source style ``URL//sub/folder?ref=v1.2``: the
  part after ``//`` is a folder (or a template file) inside the repository, and ``ref`` is a
  branch, a tag or a commit. ``URL`` is ``file://...``, ``https://...``, ``http://...``,
  ``ssh://...``, ``git://...``, scp-like ``git@host:org/repo.git``, or a local repository path.
  A local path is taken as a repository only when it has ``//`` or ``?ref=``;
- a built-in name: a folder under :func:`scaffolder.paths.templates_dir`. A bare name is looked up
  there first, so write ``./name`` for a local folder of the same name;
- a folder that contains ``template.yaml`` (or ``template.yml``);
- a path to a template file.

A template is validated against ``schemas/template.v1beta3.schema.json``, and each parameter page
must be a valid draft-07 JSON Schema once its ``ui:*`` keys are removed. Every problem is raised as
one :class:`~scaffolder.errors.TemplateError`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import git.exc as git_exc
import jsonschema
import yaml
from git.repo import Repo

from scaffolder.errors import TemplateError
from scaffolder.paths import schemas_dir, templates_dir
from scaffolder.yamlfiles import safe_load

__all__ = [
    "API_VERSION",
    "KIND",
    "TEMPLATE_FILE_NAMES",
    "GitSource",
    "Template",
    "json_compatible",
    "list_builtin_templates",
    "load_template",
    "parse_git_source",
    "resolve_template_url",
    "strip_ui_keys",
    "strip_userinfo",
]

API_VERSION = "scaffolder.backstage.io/v1beta3"
KIND = "Template"
TEMPLATE_FILE_NAMES = ("template.yaml", "template.yml")
SCHEMA_FILE = "template.v1beta3.schema.json"

logger = logging.getLogger("scaffolder.templates")

_REMOTE_PREFIXES = ("file://", "https://", "http://", "ssh://", "git://")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_GIT_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
_COMMIT_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
_BUILTIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Temporary clones made without a work_dir: kept until the interpreter exits, because the
# returned Template points into them.
_CLONES: list[tempfile.TemporaryDirectory[str]] = []


@atexit.register
def _remove_clones() -> None:
    while _CLONES:
        _CLONES.pop().cleanup()


@dataclass(frozen=True)
class Template:
    """A loaded and validated template entity.

    ``directory`` is the folder of the template file, against which relative ``url`` inputs
    (such as ``./skeleton``) resolve. ``source`` is the reference the user gave, without any
    credentials it contained.
    """

    name: str
    title: str
    description: str
    directory: Path
    path: Path
    document: dict[str, Any] = field(hash=False)
    source: str

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.document["spec"]
        return spec

    @property
    def parameters(self) -> list[dict[str, Any]]:
        """Parameter pages: a single schema object becomes a one-page list."""
        parameters = self.spec.get("parameters")
        if parameters is None:
            return []
        if isinstance(parameters, dict):
            return [parameters]
        return list(parameters)

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.spec["steps"])

    @property
    def output(self) -> dict[str, Any]:
        output: dict[str, Any] = self.spec.get("output") or {}
        return output


@dataclass(frozen=True)
class GitSource:
    """A template reference that names a git repository."""

    url: str
    """Clone URL, or the absolute path of a local repository."""
    subfolder: str
    """Folder or file inside the repository, ``""`` for its root."""
    ref: str | None
    """Branch, tag or commit to check out; ``None`` for the default branch."""


# --- public functions --------------------------------------------------------------------------


def load_template(
    ref: str, *, work_dir: Path | None = None, builtin_dir: Path | None = None
) -> Template:
    """Load and validate the template that ``ref`` names (see the module docstring for forms).

    A git repository is cloned into a new folder under ``work_dir``, and the caller removes it.
    Without ``work_dir``, the clone goes to a temporary folder removed when the interpreter exits.
    ``builtin_dir`` replaces the folder of built-in templates.
    """
    if not ref or not ref.strip():
        raise TemplateError(
            "template reference is empty",
            hint="give a built-in template name, a folder, a template file or a git URL",
        )

    source = parse_git_source(ref)
    if source is not None:
        return _load_from_git(source, strip_userinfo(ref), work_dir)

    builtins = builtin_dir if builtin_dir is not None else _default_builtin_dir()
    builtin = _builtin_folder(builtins, ref)
    if builtin is not None:
        return _load_path(builtin, ref, label_root=(ref, builtin))

    path = Path(ref).expanduser()
    if path.exists():
        return _load_path(path, ref)

    available = ", ".join(_builtin_names(builtins)) or "none"
    raise TemplateError(
        f"template {ref!r} not found: it is not a built-in template (available: {available}),"
        " a file or a folder",
        template=ref,
        hint="give a built-in template name, a path to a folder or template file, or a git URL",
    )


def list_builtin_templates(directory: Path | None = None) -> list[Template]:
    """Load every built-in template (every folder of ``directory`` with a template file)."""
    builtins = directory if directory is not None else _default_builtin_dir()
    if builtins is None:
        return []
    templates = []
    for name in _builtin_names(builtins):
        folder = builtins / name
        templates.append(_load_path(folder, name, label_root=(name, folder)))
    return templates


def resolve_template_url(template_dir: Path, url: str) -> Path:
    """Resolve a relative ``url`` input (such as ``./skeleton``) against ``template_dir``.

    Symlinks are resolved first, and a result outside ``template_dir`` raises
    :class:`TemplateError`, so a template can only read its own files. Absolute paths and URLs
    with a scheme are rejected.
    """
    if not url:
        raise TemplateError(
            "url input is empty",
            hint="give a path relative to the template folder, like './skeleton'",
        )
    if "://" in url or Path(url).is_absolute() or url.startswith("~"):
        raise TemplateError(
            f"url {url!r} is not a path relative to the template folder",
            hint="give a relative path inside the template folder, like './skeleton'",
        )

    base = template_dir.resolve()
    target = (base / url).resolve()
    if not target.is_relative_to(base):
        raise TemplateError(
            f"url {url!r} resolves to {str(target)!r}, outside the template folder {str(base)!r}",
            hint="keep the files a template reads inside its own folder",
        )
    return target


def parse_git_source(ref: str) -> GitSource | None:
    """Split a git template reference into URL, subfolder and ref; ``None`` if not a git one.

    ``file:///srv/repo.git//templates/svc?ref=v1.2`` gives URL ``file:///srv/repo.git``,
    subfolder ``templates/svc`` and ref ``v1.2``.
    """
    remote = ref.startswith(_REMOTE_PREFIXES) or _SCP_LIKE.match(ref) is not None
    if not remote and "?ref=" not in ref and "//" not in ref:
        return None

    base, _, query = ref.partition("?")
    scheme_end = base.find("://")
    split_at = base.find("//", scheme_end + 3 if scheme_end >= 0 else 0)

    git_ref = _parse_query(query, ref) if query else None
    url, subfolder = (base[:split_at], base[split_at + 2 :]) if split_at >= 0 else (base, "")
    if not url or url.endswith("://"):
        raise TemplateError(
            f"template source {strip_userinfo(ref)!r} names no repository before '//'",
            hint="write it as URL//sub/folder?ref=<branch, tag or commit>",
        )
    if not remote:
        url = _local_repository(url, ref)
    return GitSource(url=url, subfolder=subfolder.strip("/"), ref=git_ref)


def strip_userinfo(text: str) -> str:
    """Remove ``user:password@`` from every URL in ``text``, so no credential is shown."""
    return _USERINFO.sub("", text)


def strip_ui_keys(value: Any) -> Any:
    """Return a copy of a JSON-like value without ``ui:*`` keys at any depth."""
    if isinstance(value, dict):
        return {
            key: strip_ui_keys(item)
            for key, item in value.items()
            if not (isinstance(key, str) and key.startswith("ui:"))
        }
    if isinstance(value, list):
        return [strip_ui_keys(item) for item in value]
    return value


# --- git sources -------------------------------------------------------------------------------


def _parse_query(query: str, ref: str) -> str:
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"ref"})
    if unknown or not options:
        raise TemplateError(
            f"unsupported option {(unknown or [query])[0]!r} in template source"
            f" {strip_userinfo(ref)!r}",
            hint="the only option is '?ref=<branch, tag or commit>'",
        )

    values = options["ref"]
    git_ref = values[0] if len(values) == 1 else ",".join(values)
    if not _GIT_REF.match(git_ref) or ".." in git_ref:
        raise TemplateError(
            f"invalid git ref {git_ref!r} in template source {strip_userinfo(ref)!r}",
            hint="give one branch, tag or commit, like '?ref=v1.2' or '?ref=main'",
        )
    return git_ref


def _local_repository(url: str, ref: str) -> str:
    path = Path(url).expanduser().resolve()
    if not path.is_dir():
        raise TemplateError(
            f"git repository folder {url!r} not found (from template source {ref!r})",
            template=ref,
            hint="check the path, or drop '//' and '?ref=' to load a plain folder",
        )
    return str(path)


def _load_from_git(source: GitSource, safe_ref: str, work_dir: Path | None) -> Template:
    checkout = _clone(source, safe_ref, _clone_destination(work_dir))
    target = (checkout / source.subfolder).resolve()
    if not target.is_relative_to(checkout.resolve()):
        raise TemplateError(
            f"subfolder {source.subfolder!r} leaves the repository of {safe_ref!r}",
            template=safe_ref,
            hint="give a folder inside the repository after '//'",
        )
    if not target.exists():
        raise TemplateError(
            f"subfolder {source.subfolder!r} not found in the repository of {safe_ref!r}",
            template=safe_ref,
            hint="check the path after '//' and the ref",
        )
    return _load_path(target, safe_ref, label_root=(safe_ref, checkout.resolve()))


def _clone_destination(work_dir: Path | None) -> Path:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="template-", dir=work_dir)) / "repo"
    holder = tempfile.TemporaryDirectory(prefix="scaffolder-template-")
    _CLONES.append(holder)
    return Path(holder.name) / "repo"


def _clone(source: GitSource, safe_ref: str, destination: Path) -> Path:
    safe_url = strip_userinfo(source.url)
    logger.info("cloning template repository %s (ref %s)", safe_url, source.ref or "default")
    # Never wait for a password or a host-key confirmation, so a clone either works or fails.
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if "GIT_SSH_COMMAND" not in os.environ:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"

    try:
        try:
            options: dict[str, Any] = {"depth": 1, "single_branch": True}
            if source.ref is not None:
                options["branch"] = source.ref
            Repo.clone_from(source.url, destination, env=env, **options)
        except git_exc.GitCommandError:
            # A commit cannot be cloned by name: clone everything and check it out.
            if source.ref is None or not _COMMIT_SHA.match(source.ref):
                raise
            shutil.rmtree(destination, ignore_errors=True)
            repo = Repo.clone_from(source.url, destination, env=env)
            repo.git.checkout(source.ref)
    except git_exc.GitError as error:
        at_ref = f" at ref {source.ref!r}" if source.ref else ""
        raise TemplateError(
            f"cannot clone template repository {safe_url!r}{at_ref}: {_git_failure(error)}",
            template=safe_ref,
            hint="check the URL, the ref after '?ref=' and your read access to the repository",
        ) from None
    return destination


def _git_failure(error: git_exc.GitError) -> str:
    stderr = str(getattr(error, "stderr", "") or "")
    lines = [line.strip().removeprefix("stderr:").strip(" '\"") for line in stderr.splitlines()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    if fatal:
        # The first line is the specific one; later ones are git's generic advice.
        detail = fatal[0].split(":", 1)[1].strip()
    elif isinstance(error, git_exc.GitCommandNotFound):
        detail = "the git command is not installed"
    elif isinstance(error, git_exc.CommandError):
        detail = f"git exited with status {error.status}"
    else:
        detail = str(error)
    return strip_userinfo(detail)


# --- files -------------------------------------------------------------------------------------


def _default_builtin_dir() -> Path | None:
    try:
        return templates_dir()
    except FileNotFoundError:
        return None


def _builtin_names(directory: Path | None) -> list[str]:
    if directory is None or not directory.is_dir():
        return []
    return sorted(
        child.name
        for child in directory.iterdir()
        if child.is_dir() and _find_template_file(child) is not None
    )


def _builtin_folder(directory: Path | None, ref: str) -> Path | None:
    if directory is None or not _BUILTIN_NAME.match(ref):
        return None
    folder = directory / ref
    return folder if _find_template_file(folder) is not None else None


def _find_template_file(folder: Path) -> Path | None:
    for name in TEMPLATE_FILE_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _load_path(path: Path, source: str, *, label_root: tuple[str, Path] | None = None) -> Template:
    """Load the template file ``path`` (or the one in folder ``path``).

    Messages name the file by its path, or as ``<prefix> (<path inside root>)`` when
    ``label_root`` is ``(prefix, root)``, so a temporary clone's path is never shown.
    """
    file = path
    if path.is_dir():
        found = _find_template_file(path)
        if found is None:
            raise TemplateError(
                f"folder {_label(path, label_root)!r} contains no"
                f" {' or '.join(TEMPLATE_FILE_NAMES)}",
                template=source,
                hint="point at the folder that holds the template file, or at the file itself",
            )
        file = found
    label = _label(file, label_root)

    document = _read_document(file, label, source)
    _check_document(document, label, source)
    metadata = document["metadata"]
    logger.debug("loaded template %s from %s", metadata["name"], file)
    return Template(
        name=metadata["name"],
        title=metadata.get("title") or metadata["name"],
        description=metadata.get("description") or "",
        directory=file.parent.resolve(),
        path=file.resolve(),
        document=document,
        source=source,
    )


def _label(path: Path, label_root: tuple[str, Path] | None) -> str:
    if label_root is None:
        return str(path)
    prefix, root = label_root
    inside = path.resolve().relative_to(root.resolve()).as_posix()
    return prefix if inside == "." else f"{prefix} ({inside})"


def _read_document(file: Path, label: str, source: str) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(
            f"cannot read template file {label!r}: {error.__class__.__name__}: {error}",
            template=source,
            hint="check that the file exists, is readable and is UTF-8 text",
        ) from None

    try:
        return json_compatible(safe_load(text))
    except yaml.YAMLError as error:
        raise TemplateError(
            f"template file {label!r} is not valid YAML: {_yaml_problem(error)}",
            template=source,
            hint="fix the YAML syntax at that line",
        ) from None
    except ValueError:
        raise TemplateError(
            f"template file {label!r} contains an alias that refers to itself",
            template=source,
            hint="replace the recursive YAML alias (*name) with the data it stands for",
        ) from None


def json_compatible(data: Any) -> Any:
    """Return parsed YAML as JSON data: dates become strings, as in YAML 1.2 parsers.

    Raises ``ValueError`` for data that contains itself (a recursive YAML alias).
    """
    return json.loads(json.dumps(data, default=str))


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "syntax error"
        if mark is not None:
            return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
        return problem
    return str(error).replace("\n", " ")


# --- validation --------------------------------------------------------------------------------


@cache
def _template_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((schemas_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _check_document(document: Any, label: str, source: str) -> None:
    if not isinstance(document, dict):
        raise TemplateError(
            f"template file {label!r} contains {_json_type(document)}, not a mapping",
            template=source,
            hint=f"a template starts with 'apiVersion: {API_VERSION}' and 'kind: {KIND}'",
        )

    kind = document.get("kind")
    if kind != KIND:
        raise TemplateError(
            f"{label!r} is not a template: its kind is {kind!r}, expected {KIND!r}",
            template=source,
            hint="point at a Template entity; catalog entities of other kinds cannot run",
        )

    api_version = document.get("apiVersion")
    if api_version != API_VERSION:
        raise TemplateError(
            f"template {label!r} has apiVersion {api_version!r}, but only {API_VERSION!r}"
            " is supported",
            template=source,
            hint=f"migrate the template to {API_VERSION} (Backstage documents the migration)",
        )

    problems = list(_schema_problems(document))
    if problems:
        raise TemplateError(
            f"template {label!r} is invalid: " + "; ".join(problems),
            template=source,
            hint="fix each listed field",
        )


def _schema_problems(document: dict[str, Any]) -> Iterator[str]:
    errors = list(_template_validator().iter_errors(document))
    for error in errors:
        yield f"{error.json_path}: {_shorten(error.message)}"
    if errors:
        return

    spec = document["spec"]
    pages = spec.get("parameters")
    page_list = [pages] if isinstance(pages, dict) else list(pages or [])
    for index, page in enumerate(page_list):
        page_path = (
            "$.spec.parameters" if isinstance(pages, dict) else f"$.spec.parameters[{index}]"
        )
        try:
            jsonschema.Draft7Validator.check_schema(strip_ui_keys(page))
        except jsonschema.SchemaError as error:
            where = "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.path
            )
            yield f"{page_path}{where}: invalid JSON Schema: {_shorten(error.message)}"

    seen: set[str] = set()
    for index, step in enumerate(spec["steps"]):
        step_id = step.get("id")
        if step_id is None:
            continue
        if step_id in seen:
            yield f"$.spec.steps[{index}].id: duplicate step id {step_id!r}"
        seen.add(step_id)


def _shorten(message: str, limit: int = 200) -> str:
    message = message.replace("\n", " ")
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "nothing (an empty document)"
    names = {str: "a string", list: "a list", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")
