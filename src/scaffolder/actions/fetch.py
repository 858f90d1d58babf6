"""Handlers of ``fetch:plain``, ``fetch:plain:file``, ``fetch:template``, ``fetch:template:file``
and ``fetch:cookiecutter``.

Every ``url`` is a path relative to the template's folder, and it may not leave that folder.
Remote URLs are not supported, unlike Backstage, whose URL readers fetch from source control
hosts. Every ``targetPath`` is relative to the workspace and may not leave it either.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from scaffolder.context import ActionContext
from scaffolder.errors import ActionError
from scaffolder.pathsafety import safe_join
from scaffolder.skeleton import (
    SkeletonOptions,
    SkeletonResult,
    copy_tree,
    normalize_extension,
    render_file,
    render_skeleton,
)
from scaffolder.templates import resolve_template_url

__all__ = [
    "fetch_cookiecutter",
    "fetch_plain",
    "fetch_plain_file",
    "fetch_template",
    "fetch_template_file",
]

_REMOTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/]+@[^/]+:")
_SHOWN_SKIPPED = 5


def resolve_source(ctx: ActionContext, url: str) -> Path:
    """Resolve the ``url`` input against the template's folder; remote URLs are rejected."""
    if _REMOTE_URL.match(url):
        raise ActionError(
            f"url {url!r} is a remote URL, but only relative paths inside the template folder "
            "are supported",
            action=ctx.action_id,
            hint="put the files in the template folder and use a path such as './skeleton'",
        )
    if ctx.template_dir is None:
        raise ActionError(
            f"url {url!r} is relative to the template folder, but this run has no template folder",
            action=ctx.action_id,
            hint="run the template from its folder, or pass template_dir in the task spec",
        )
    return resolve_template_url(ctx.template_dir, url)


def resolve_target(ctx: ActionContext, default: str | None = "./") -> Path:
    """Return the ``targetPath`` input joined to the workspace, refusing paths outside it."""
    target_path = ctx.input.get("targetPath", default)
    if target_path is None:
        raise ActionError("targetPath is required", action=ctx.action_id)
    return safe_join(ctx.workspace, str(target_path), what="targetPath")


# fetch:plain and fetch:plain:file -----------------------------------------------------------


def fetch_plain(ctx: ActionContext) -> None:
    """Copy a folder of the template into the workspace without templating."""
    source = resolve_source(ctx, str(ctx.input["url"]))
    target = resolve_target(ctx)
    if not source.is_dir():
        raise ActionError(
            f"url {ctx.input['url']!r} is not a folder of the template",
            action=ctx.action_id,
            hint="use fetch:plain:file to copy a single file",
        )
    result = copy_tree(source, target, check_cancelled=ctx.check_cancelled)
    ctx.logger.info(
        "Copied %d files and %d folders from %s into %s",
        len(result.files),
        len(result.folders),
        ctx.input["url"],
        _shown_target(ctx),
    )


def fetch_plain_file(ctx: ActionContext) -> None:
    """Copy one file of the template to ``targetPath`` in the workspace."""
    source = resolve_source(ctx, str(ctx.input["url"]))
    target = resolve_target(ctx, default=None)
    options = SkeletonOptions(render=False, replace=True)
    render_file(source, target, options)
    ctx.logger.info("Copied %s to %s", ctx.input["url"], ctx.input["targetPath"])


# fetch:template and fetch:template:file -----------------------------------------------------


def _template_options(ctx: ActionContext) -> SkeletonOptions:
    """Build the render options from the input, rejecting combinations Backstage rejects."""
    data = ctx.input
    copy_without_render = tuple(data.get("copyWithoutRender") or ())
    copy_without_templating = tuple(data.get("copyWithoutTemplating") or ())
    extension = normalize_extension(data.get("templateFileExtension"))
    cookiecutter_compat = bool(data.get("cookiecutterCompat", False))
    if copy_without_render and copy_without_templating:
        raise ActionError(
            "copyWithoutRender and copyWithoutTemplating cannot be used together",
            action=ctx.action_id,
            hint="keep copyWithoutTemplating; copyWithoutRender is deprecated",
        )
    if copy_without_render:
        ctx.logger.warning("copyWithoutRender is deprecated: use copyWithoutTemplating instead")
    if extension and (copy_without_render or copy_without_templating or cookiecutter_compat):
        raise ActionError(
            "templateFileExtension cannot be combined with copyWithoutRender, "
            "copyWithoutTemplating or cookiecutterCompat",
            action=ctx.action_id,
            hint="with templateFileExtension, only files with that extension are rendered",
        )
    return SkeletonOptions(
        values=dict(data.get("values") or {}),
        cookiecutter_compat=cookiecutter_compat,
        copy_without_templating=copy_without_templating,
        copy_without_render=copy_without_render,
        template_file_extension=extension,
        replace=bool(data.get("replace", False)),
        trim_blocks=bool(data.get("trimBlocks", False)),
        lstrip_blocks=bool(data.get("lstripBlocks", False)),
    )


def fetch_template(ctx: ActionContext) -> None:
    """Render a skeleton folder of the template into the workspace."""
    options = _template_options(ctx)
    source = resolve_source(ctx, str(ctx.input["url"]))
    target = resolve_target(ctx)
    result = render_skeleton(source, target, options, check_cancelled=ctx.check_cancelled)
    _log_result(ctx, result)


def fetch_template_file(ctx: ActionContext) -> None:
    """Render one file of the template to ``targetPath`` in the workspace."""
    data = ctx.input
    options = SkeletonOptions(
        values=dict(data.get("values") or {}),
        cookiecutter_compat=bool(data.get("cookiecutterCompat", False)),
        replace=bool(data.get("replace", False)),
        trim_blocks=bool(data.get("trimBlocks", False)),
        lstrip_blocks=bool(data.get("lstripBlocks", False)),
    )
    source = resolve_source(ctx, str(data["url"]))
    target = resolve_target(ctx, default=None)
    if render_file(source, target, options):
        ctx.logger.info("Rendered %s to %s", data["url"], data["targetPath"])
    else:
        ctx.logger.info(
            "%s already exists in the workspace and replace is false: kept it", data["targetPath"]
        )


def _shown_target(ctx: ActionContext) -> str:
    return str(ctx.input.get("targetPath") or "./")


def _log_result(ctx: ActionContext, result: SkeletonResult) -> None:
    ctx.logger.info(
        "Wrote %d files (%d rendered, the others copied as they are), %d folders and "
        "%d symlinks from %s into %s",
        len(result.files),
        result.rendered,
        len(result.folders),
        len(result.symlinks),
        ctx.input["url"],
        _shown_target(ctx),
    )
    skipped = result.skipped_existing
    if skipped:
        shown = ", ".join(skipped[:_SHOWN_SKIPPED])
        more = f" and {len(skipped) - _SHOWN_SKIPPED} more" if len(skipped) > _SHOWN_SKIPPED else ""
        ctx.logger.info(
            "Kept %d existing files because replace is false: %s%s", len(skipped), shown, more
        )


# fetch:cookiecutter ---------------------------------------------------------------------------

# Cookiecutter imports every name in `_extensions`, and an import runs code, so only extensions
# from Jinja2 and cookiecutter itself are accepted.
SAFE_EXTENSIONS = frozenset(
    {
        "jinja2.ext.do",
        "jinja2.ext.i18n",
        "jinja2.ext.loopcontrols",
        "cookiecutter.extensions.JsonifyExtension",
        "cookiecutter.extensions.RandomStringExtension",
        "cookiecutter.extensions.SlugifyExtension",
        "cookiecutter.extensions.TimeExtension",
        "cookiecutter.extensions.UUIDExtension",
    }
)
# Old templates list jinja2-time's extension; cookiecutter 2 has the same `now` tag built in.
_BUILT_IN_EXTENSIONS = frozenset({"jinja2_time.TimeExtension"})
_CONTENTS_FOLDER = "{{cookiecutter and 'contents'}}"


def fetch_cookiecutter(ctx: ActionContext) -> None:
    """Render a cookiecutter template with the cookiecutter library and copy the result.

    ``url`` is either a full cookiecutter template (``cookiecutter.json`` beside one
    ``{{cookiecutter.x}}`` folder) or, as in Backstage, the bare skeleton whose files use
    ``{{ cookiecutter.x }}``. In both cases the contents of the generated folder land in
    ``targetPath``.

    NOTE: cookiecutter renders with an unsandboxed Jinja environment, so a hostile template can
    run code even without hooks. Use it for trusted templates only; ``fetch:template`` with
    ``cookiecutterCompat`` renders the same syntax in the sandbox.
    """
    source = resolve_source(ctx, str(ctx.input["url"]))
    target = resolve_target(ctx)
    if not source.is_dir():
        raise ActionError(
            f"url {ctx.input['url']!r} is not a folder of the template", action=ctx.action_id
        )
    if ctx.input.get("imageName"):
        ctx.logger.warning(
            "imageName %r is ignored: cookiecutter runs in this process, never in Docker",
            ctx.input["imageName"],
        )
    allow_hooks = bool(ctx.input.get("allowHooks", False))
    _check_hooks(ctx, source, allow_hooks)

    with tempfile.TemporaryDirectory(prefix="scaffolder-cookiecutter-") as scratch:
        scratch_dir = Path(scratch)
        template = _stage_template(ctx, source, scratch_dir / "template")
        generated = _run_cookiecutter(ctx, template, scratch_dir, allow_hooks)
        ctx.check_cancelled()
        result = copy_tree(generated, target, check_cancelled=ctx.check_cancelled)
    ctx.logger.info(
        "Cookiecutter wrote %d files and %d folders into %s",
        len(result.files),
        len(result.folders),
        _shown_target(ctx),
    )


def _check_hooks(ctx: ActionContext, source: Path, allow_hooks: bool) -> None:
    """Reject a template with hooks unless ``allowHooks``: hooks are scripts that run here."""
    if not (source / "cookiecutter.json").is_file() or not (source / "hooks").is_dir():
        return
    if not allow_hooks:
        raise ActionError(
            f"cookiecutter template {ctx.input['url']!r} has a hooks/ folder, and hooks run "
            "arbitrary code on this machine",
            action=ctx.action_id,
            hint="set allowHooks: true only if you trust the template's authors",
        )
    ctx.logger.warning(
        "Running the hooks of cookiecutter template %s (allowHooks is true)", ctx.input["url"]
    )


def _stage_template(ctx: ActionContext, source: Path, staged: Path) -> Path:
    """Copy the template to ``staged`` and write its ``cookiecutter.json`` with the values."""
    values = dict(ctx.input.get("values") or {})
    if (source / "cookiecutter.json").is_file():
        copy_tree(source, staged)
        context = _read_cookiecutter_json(ctx, staged / "cookiecutter.json")
    else:
        copy_tree(source, staged / _CONTENTS_FOLDER)
        context = {}
    context.update(values)
    if ctx.input.get("copyWithoutRender"):
        context["_copy_without_render"] = list(ctx.input["copyWithoutRender"])
    if ctx.input.get("extensions"):
        context["_extensions"] = list(ctx.input["extensions"])
    if "_extensions" in context:
        context["_extensions"] = _checked_extensions(ctx, context["_extensions"])
    (staged / "cookiecutter.json").write_text(json.dumps(context, indent=2), encoding="utf-8")
    return staged


def _read_cookiecutter_json(ctx: ActionContext, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ActionError(
            f"cookiecutter.json of {ctx.input['url']!r} is not valid JSON: {error}",
            action=ctx.action_id,
        ) from None
    if not isinstance(data, Mapping):
        raise ActionError(
            f"cookiecutter.json of {ctx.input['url']!r} must be a JSON object", action=ctx.action_id
        )
    return dict(data)


def _checked_extensions(ctx: ActionContext, extensions: Any) -> list[str]:
    if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
        raise ActionError(
            f"extensions must be a list of names, got {extensions!r}", action=ctx.action_id
        )
    unsafe = [
        name
        for name in extensions
        if name not in SAFE_EXTENSIONS and name not in _BUILT_IN_EXTENSIONS
    ]
    if unsafe:
        raise ActionError(
            f"Jinja extension {unsafe[0]!r} is not allowed: loading an extension imports and "
            "runs its code",
            action=ctx.action_id,
            hint="allowed extensions: " + ", ".join(sorted(SAFE_EXTENSIONS)),
        )
    return [name for name in extensions if name not in _BUILT_IN_EXTENSIONS]


def _run_cookiecutter(ctx: ActionContext, template: Path, scratch: Path, allow_hooks: bool) -> Path:
    """Run cookiecutter on ``template`` and return the one folder it generated."""
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.main import cookiecutter
    from jinja2 import TemplateError as JinjaTemplateError

    # A config file of our own keeps cookiecutter away from ~/.cookiecutterrc and stops it
    # writing replay files into the home folder.
    config_file = scratch / "cookiecutter-config.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "cookiecutters_dir": str(scratch / "cookiecutters"),
                "replay_dir": str(scratch / "replay"),
            }
        ),
        encoding="utf-8",
    )
    output = scratch / "output"
    output.mkdir()
    try:
        generated = cookiecutter(
            str(template),
            no_input=True,
            output_dir=str(output),
            config_file=str(config_file),
            accept_hooks=allow_hooks,
        )
    except (CookiecutterException, JinjaTemplateError, ValueError, OSError) as error:
        raise ActionError(
            f"cookiecutter failed on {ctx.input['url']!r}: {type(error).__name__}: {error}",
            action=ctx.action_id,
        ) from None
    return Path(generated)
