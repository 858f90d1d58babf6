"""The ``publish:git`` action: commit a folder of the workspace and push it to a git remote.

The commit is made in place, so the folder keeps its ``.git``, with ``origin`` set to the remote
URL without credentials and the branch tracking it. A workspace copied to an output folder is
then a working copy of the pushed repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scaffolder import git
from scaffolder.context import ActionContext
from scaffolder.errors import ActionError
from scaffolder.pathsafety import safe_join

DEFAULTS: dict[str, Any] = {
    "branch": "main",
    "sourcePath": ".",
    "gitAuthorName": "Scaffolder",
    "gitAuthorEmail": "scaffolder@localhost",
    "gitCommitMessage": "Initial commit",
    "force": False,
}


def _setting(ctx: ActionContext, name: str) -> Any:
    value = ctx.input.get(name)
    return DEFAULTS[name] if value is None or value == "" else value


def _source_folder(ctx: ActionContext) -> Path:
    source_path: str = _setting(ctx, "sourcePath")
    folder = safe_join(ctx.workspace, source_path, what="sourcePath")
    if not folder.is_dir():
        raise ActionError(
            f"sourcePath {source_path!r} is not a folder in the workspace",
            action=ctx.action_id,
            hint="give the folder to publish relative to the workspace, or leave it empty",
        )
    return folder


def _register_secrets(ctx: ActionContext, remote_url: str, token_env: str | None) -> None:
    """Add the token and any password in the URL to the task's redactor.

    Later log lines and events of the task then show ``***`` in their place.
    """
    if token_env and os.environ.get(token_env):
        ctx.runtime.redactor.add(os.environ[token_env])
    parts = urlsplit(remote_url)
    if parts.scheme.lower() in ("http", "https"):
        ctx.runtime.redactor.add(parts.username, parts.password)
    else:
        ctx.runtime.redactor.add(parts.password)


def _already_pushed(
    folder: Path, remote_url: str, branch: str, token_env: str | None
) -> str | None:
    """Return the commit if a run that stopped before saving its checkpoint already pushed it."""
    head = git.clean_head_sha(folder)
    if head is None:
        return None
    remote_head = git.remote_branch_sha(remote_url, branch=branch, token_env=token_env)
    return head if remote_head == head else None


def _commit_and_push(ctx: ActionContext, folder: Path, remote_url: str) -> dict[str, str]:
    branch: str = _setting(ctx, "branch")
    token_env: str | None = ctx.input.get("tokenEnv") or None
    pushed = _already_pushed(folder, remote_url, branch, token_env)
    if pushed:
        ctx.logger.info("commit %s is already on branch %s, not pushing again", pushed[:12], branch)
        return {"commitHash": pushed}

    commit_hash = git.init_and_commit(
        folder,
        branch=branch,
        author_name=_setting(ctx, "gitAuthorName"),
        author_email=_setting(ctx, "gitAuthorEmail"),
        message=_setting(ctx, "gitCommitMessage"),
    )
    ctx.check_cancelled()
    git.push(
        folder,
        remote_url,
        branch=branch,
        token_env=token_env,
        force=bool(_setting(ctx, "force")),
    )
    return {"commitHash": commit_hash}


def publish_git(ctx: ActionContext) -> None:
    """Commit ``sourcePath`` of the workspace and push it to ``branch`` of ``remoteUrl``."""
    remote_url: str = ctx.input["remoteUrl"]
    branch: str = _setting(ctx, "branch")
    token_env: str | None = ctx.input.get("tokenEnv") or None
    label = git.redact_url(remote_url)
    _register_secrets(ctx, remote_url, token_env)
    folder = _source_folder(ctx)

    if ctx.dry_run:
        git.check_push(remote_url, branch=branch, token_env=token_env, force=_setting(ctx, "force"))
        ctx.logger.info("dry run: would push branch %s to %s", branch, label)
    else:
        source = ctx.input.get("sourcePath") or "the workspace"
        ctx.logger.info("publishing %s to branch %s of %s", source, branch, label)
        result = ctx.checkpoint("push", lambda: _commit_and_push(ctx, folder, remote_url))
        ctx.output("commitHash", result["commitHash"])

    ctx.output("remoteUrl", label)
    ctx.output("branch", branch)
