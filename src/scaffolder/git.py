"""Committing a folder and pushing it to a remote, with GitPython.

Remotes may be local paths, ``file://``, ``ssh://`` or scp-like (``git@host:path``), and
``https://`` URLs. Credentials never reach a command line, ``.git/config``, a log line or an
error message. An https token, or a password written in the URL, is handed to git through a
``GIT_ASKPASS`` script that reads it from the child process environment. Credential helpers
are switched off for the push, so none of them stores it.

Requires git 2.31 or later, which reads one-off settings from ``GIT_CONFIG_COUNT``.

Every GitPython error is translated into :class:`~scaffolder.errors.GitError` in
:func:`_run`, with URLs redacted and known secrets masked.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

import git.exc

from scaffolder.errors import GitError
from scaffolder.redact import Redactor

__all__ = [
    "NETWORK_TIMEOUT_SECONDS",
    "check_push",
    "clean_head_sha",
    "init_and_commit",
    "push",
    "redact_url",
    "remote_branch_sha",
]

logger = logging.getLogger("scaffolder.git")

NETWORK_TIMEOUT_SECONDS = 120.0
"""Time after which ``ls-remote`` and ``push`` are killed and reported as failed."""

_LOCAL_TIMEOUT_SECONDS = 300.0
_HTTP_SCHEMES = ("http", "https")
_SSH_SCHEMES = ("ssh", "git+ssh", "ssh+git")
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?[^@/:\s]+:(?!//)\S+$")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_DEFAULT_TOKEN_USERNAME = "x-access-token"
_REMOTE_HINT = (
    "check that the remote exists, that it is reachable, and that the credentials may push to it"
)
_USERNAME_ENV = "SCAFFOLDER_GIT_USERNAME"
_PASSWORD_ENV = "SCAFFOLDER_GIT_PASSWORD"

# The script prints the username or the password that git requests. It contains neither.
_ASKPASS_SCRIPT = f"""#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${_USERNAME_ENV}" ;;
  *) printf '%s\\n' "${_PASSWORD_ENV}" ;;
esac
"""


def redact_url(url: str) -> str:
    """Return ``url`` without credentials, fit for messages, logs and ``.git/config``.

    http(s) URLs lose their whole userinfo, because a token is often written as the username
    (``https://TOKEN@host/repo``). Other URLs keep the username (``ssh://git@host``) and lose
    only the password. Local paths and scp-like addresses are returned unchanged.
    """
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if parts.scheme.lower() in _HTTP_SCHEMES:
        netloc = hostport
    else:
        username = userinfo.split(":", 1)[0]
        netloc = f"{username}@{hostport}" if username else hostport
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class _Remote:
    """A remote URL split into what git receives and the credentials kept apart from it."""

    url: str
    kind: str
    username: str | None = None
    password: str | None = None
    secrets: list[str] = field(default_factory=list)


def _parse_remote(remote_url: str, token_env: str | None) -> _Remote:
    url = remote_url.strip()
    if not url or url.startswith("-"):
        raise GitError(
            f"invalid remote URL {redact_url(url)!r}",
            hint="give a local path, or a file://, ssh://, git@host:path or https:// URL",
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()

    if scheme in _HTTP_SCHEMES:
        remote = _parse_http_remote(parts)
    elif scheme in _SSH_SCHEMES:
        remote = _parse_ssh_remote(parts)
    elif scheme == "file":
        remote = _Remote(url=url, kind="file")
    elif (len(scheme) > 1 and "://" in url) or "::" in url:
        raise GitError(
            f"unsupported remote URL scheme {scheme!r} in {redact_url(url)!r}",
            hint="use a local path, or a file://, ssh://, git@host:path or https:// URL",
        )
    elif _SCP_LIKE.match(url) and not Path(url).exists():
        remote = _Remote(url=url, kind="ssh")
    else:
        remote = _Remote(url=str(Path(url).expanduser().resolve()), kind="file")

    _apply_token(remote, token_env)
    return remote


def _parse_http_remote(parts: SplitResult) -> _Remote:
    host = parts.hostname or ""
    netloc = parts.netloc.rpartition("@")[2]
    clean_url = urlunsplit(parts._replace(netloc=netloc))
    remote = _Remote(url=clean_url, kind=parts.scheme.lower())
    if parts.username is not None:
        remote.username = parts.username
        remote.password = parts.password or ""
        remote.secrets += [s for s in (parts.username, parts.password) if s]
    if remote.kind == "http" and remote.password and host not in _LOOPBACK_HOSTS:
        raise GitError(
            f"credentials cannot be sent over plain http to {clean_url!r}",
            remote=clean_url,
            hint="use an https:// URL",
        )
    return remote


def _parse_ssh_remote(parts: SplitResult) -> _Remote:
    if parts.password:
        raise GitError(
            f"ssh remote URL {redact_url(urlunsplit(parts))!r} contains a password",
            hint="remove the password from the URL and authenticate with an SSH key or agent",
        )
    return _Remote(url=urlunsplit(parts), kind="ssh")


def _apply_token(remote: _Remote, token_env: str | None) -> None:
    if not token_env:
        return
    if remote.kind not in _HTTP_SCHEMES:
        logger.warning(
            "token from $%s not used: remote %s is not an http(s) URL",
            token_env,
            redact_url(remote.url),
        )
        return
    if remote.kind == "http" and urlsplit(remote.url).hostname not in _LOOPBACK_HOSTS:
        raise GitError(
            f"the token from ${token_env} cannot be sent over plain http to {remote.url!r}",
            remote=remote.url,
            hint="use an https:// URL",
        )
    token = os.environ.get(token_env)
    if not token:
        raise GitError(
            f"environment variable {token_env!r} is not set or empty",
            remote=remote.url,
            hint=f"export {token_env}=<token> before running, or drop tokenEnv",
        )
    remote.username = remote.username or _DEFAULT_TOKEN_USERNAME
    remote.password = token
    remote.secrets.append(token)


def _config_env(pairs: Mapping[str, str]) -> dict[str, str]:
    """Return ``GIT_CONFIG_COUNT``/``KEY_n``/``VALUE_n`` variables that add ``pairs``.

    Settings passed this way apply to one git process and are never written to a config file.
    Pairs already present in the environment are kept and ours are appended after them.
    """
    start = int(os.environ.get("GIT_CONFIG_COUNT", "0") or "0")
    env: dict[str, str] = {}
    for offset, (key, value) in enumerate(pairs.items()):
        env[f"GIT_CONFIG_KEY_{start + offset}"] = key
        env[f"GIT_CONFIG_VALUE_{start + offset}"] = value
    env["GIT_CONFIG_COUNT"] = str(start + len(pairs))
    return env


def _base_env() -> dict[str, str]:
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if "GIT_SSH_COMMAND" not in os.environ and "GIT_SSH" not in os.environ:
        # NOTE: this replaces a core.sshCommand set in the user's git config.
        env["GIT_SSH_COMMAND"] = (
            f"ssh -o BatchMode=yes -o ConnectTimeout={int(NETWORK_TIMEOUT_SECONDS)}"
        )
    return env


@contextmanager
def _remote_env(remote: _Remote) -> Iterator[dict[str, str]]:
    """Yield the environment for a git process that talks to ``remote``.

    With credentials, it writes the askpass script into a private temporary folder that is
    removed afterwards, and empties ``credential.helper`` so no helper stores the token.
    """
    env = _base_env()
    settings = {"protocol.ext.allow": "never", "core.hooksPath": os.devnull}
    if remote.password is None:
        env.update(_config_env(settings))
        yield env
        return

    with tempfile.TemporaryDirectory(prefix="scaffolder-askpass-") as folder:
        script = Path(folder) / "askpass.sh"
        script.write_text(_ASKPASS_SCRIPT, encoding="utf-8")
        script.chmod(stat.S_IRWXU)
        env.update(_config_env({**settings, "credential.helper": ""}))
        env["GIT_ASKPASS"] = str(script)
        env[_USERNAME_ENV] = remote.username or _DEFAULT_TOKEN_USERNAME
        env[_PASSWORD_ENV] = remote.password
        yield env


def _stderr_of(error: git.exc.CommandError) -> str:
    # GitPython stores stderr pre-formatted as "\n  stderr: '<text>'".
    text = str(error.stderr).strip()
    match = re.fullmatch(r"stderr: '(.*)'", text, flags=re.DOTALL)
    return (match.group(1) if match else text).strip()


def _clean_message(text: str, secrets: list[str]) -> str:
    text = _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
    return Redactor(secrets).redact(text)


def _run(
    repo_git: git.Git,
    command: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = _LOCAL_TIMEOUT_SECONDS,
    remote: _Remote | None = None,
) -> str:
    """Run ``git <command> <args>`` and translate any failure into :class:`GitError`."""
    secrets = remote.secrets if remote else []
    remote_label = redact_url(remote.url) if remote else None
    try:
        output: str = repo_git.execute(
            ["git", command, *args],
            env=dict(env or {}),
            kill_after_timeout=timeout,
        )
    except git.exc.GitCommandNotFound as error:
        raise GitError(
            "the git executable was not found", hint="install git and put it on PATH"
        ) from error
    except git.exc.GitCommandError as error:
        detail = _clean_message(_stderr_of(error) or f"exit status {error.status}", secrets)
        target = f" {remote_label!r}" if remote_label else ""
        hint = _REMOTE_HINT if remote_label else None
        raise GitError(
            f"git {command}{target} failed: {detail}", remote=remote_label, hint=hint
        ) from None
    return output


def _commit_env(author_name: str, author_email: str) -> dict[str, str]:
    env = {
        "GIT_AUTHOR_NAME": author_name,
        "GIT_AUTHOR_EMAIL": author_email,
        "GIT_COMMITTER_NAME": author_name,
        "GIT_COMMITTER_EMAIL": author_email,
        "GIT_TERMINAL_PROMPT": "0",
    }
    env.update(_config_env({"commit.gpgsign": "false", "core.hooksPath": os.devnull}))
    return env


def _open_repo(path: Path) -> git.Repo:
    try:
        return git.Repo(path)
    except git.exc.InvalidGitRepositoryError:
        raise GitError(
            f"{str(path)!r} is not a git repository", hint="commit it with init_and_commit first"
        ) from None
    except git.exc.NoSuchPathError:
        raise GitError(f"folder {str(path)!r} does not exist") from None


def _open_or_init(path: Path, branch: str) -> git.Repo:
    if not path.is_dir():
        raise GitError(f"folder {str(path)!r} does not exist")
    if not (path / ".git").exists():
        logger.debug("initialising a git repository in %s", path)
        _run(git.Git(), "init", "--quiet", "--", str(path))
    repo = _open_repo(path)

    if repo.bare:
        raise GitError(f"{str(path)!r} is a bare repository; it has no files to commit")
    if repo.head.is_valid():
        _run(repo.git, "checkout", "-B", branch)
    else:
        _run(repo.git, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
    return repo


def init_and_commit(
    path: Path,
    *,
    branch: str,
    author_name: str,
    author_email: str,
    message: str,
) -> str:
    """Commit every file under ``path`` on ``branch`` and return the commit's SHA.

    Initialises a repository in ``path`` when it has none. The author and committer are
    passed explicitly, so no git identity needs to be configured. Signing and hooks are
    switched off, because the files come from a template and the commit is made unattended.
    """
    _check_branch(branch)
    repo = _open_or_init(path, branch)
    env = _commit_env(author_name, author_email)

    _run(repo.git, "add", "--all", env=env)
    _run(repo.git, "commit", "--no-verify", "--allow-empty", "-m", message, env=env)

    sha = repo.head.commit.hexsha
    logger.info("committed %s on branch %s in %s", sha[:12], branch, path)
    return sha


def clean_head_sha(path: Path) -> str | None:
    """Return the commit checked out in ``path`` if the working tree has no changes, else None.

    Returns None as well when ``path`` is not a repository or has no commit yet.
    """
    if not (path / ".git").exists():
        return None
    repo = _open_repo(path)
    if not repo.head.is_valid() or _run(repo.git, "status", "--porcelain"):
        return None
    return repo.head.commit.hexsha


def _check_branch(branch: str) -> None:
    try:
        _run(git.Git(), "check-ref-format", "--branch", branch)
    except GitError:
        raise GitError(
            f"invalid branch name {branch!r}",
            hint="use a name such as 'main' or 'feature/x' (see git check-ref-format)",
        ) from None


def _ls_remote_branch(
    repo_git: git.Git, remote: _Remote, branch: str, env: dict[str, str]
) -> str | None:
    ref = f"refs/heads/{branch}"
    output = _run(
        repo_git,
        "ls-remote",
        "--heads",
        "--",
        remote.url,
        ref,
        env=env,
        timeout=NETWORK_TIMEOUT_SECONDS,
        remote=remote,
    )
    for line in output.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


def _branch_exists_error(branch: str, label: str, existing: str) -> GitError:
    return GitError(
        f"branch {branch!r} already exists on {label!r} (at commit {existing[:12]})",
        remote=label,
        hint="choose another branch or remote, or set force: true to overwrite the branch",
    )


def remote_branch_sha(remote_url: str, *, branch: str, token_env: str | None = None) -> str | None:
    """Return the commit that ``branch`` points to on the remote, or None if it has none.

    Raises :class:`GitError` when the remote cannot be reached.
    """
    _check_branch(branch)
    remote = _parse_remote(remote_url, token_env)
    with _remote_env(remote) as env:
        return _ls_remote_branch(git.Git(), remote, branch, env)


def check_push(remote_url: str, *, branch: str, token_env: str | None, force: bool) -> None:
    """Raise :class:`GitError` if :func:`push` would fail before sending anything.

    Reads the remote only: it checks the URL, the credentials and that the branch is free
    (or that ``force`` is set).
    """
    existing = remote_branch_sha(remote_url, branch=branch, token_env=token_env)
    if existing and not force:
        raise _branch_exists_error(branch, redact_url(remote_url), existing)


def push(
    path: Path,
    remote_url: str,
    *,
    branch: str,
    token_env: str | None,
    force: bool,
) -> None:
    """Push the current commit of the repository in ``path`` to ``branch`` on the remote.

    Raises :class:`GitError` when the branch already exists on the remote and ``force`` is
    false, when the remote rejects the push, or when it cannot be reached within
    :data:`NETWORK_TIMEOUT_SECONDS`. With ``force``, the branch is replaced only if it still
    points at the commit that ``ls-remote`` returned just before (``--force-with-lease``).

    Afterwards ``origin`` points at the remote URL without credentials, and ``branch``
    tracks it.
    """
    _check_branch(branch)
    remote = _parse_remote(remote_url, token_env)
    repo = _open_repo(path)
    label = redact_url(remote.url)

    with _remote_env(remote) as env:
        existing = _ls_remote_branch(repo.git, remote, branch, env)
        if existing and not force:
            raise _branch_exists_error(branch, label, existing)
        args = ["--porcelain"]
        if existing:
            logger.warning("overwriting branch %s on %s (was %s)", branch, label, existing[:12])
            args.append(f"--force-with-lease=refs/heads/{branch}:{existing}")
        args += ["--", remote.url, f"HEAD:refs/heads/{branch}"]
        _run(repo.git, "push", *args, env=env, timeout=NETWORK_TIMEOUT_SECONDS, remote=remote)

    _set_origin(repo, label, branch)
    logger.info("pushed branch %s to %s", branch, label)


def _set_origin(repo: git.Repo, url: str, branch: str) -> None:
    names = [remote.name for remote in repo.remotes]
    if "origin" in names:
        _run(repo.git, "remote", "set-url", "origin", url)
    else:
        _run(repo.git, "remote", "add", "origin", url)
    _run(repo.git, "update-ref", f"refs/remotes/origin/{branch}", "HEAD")
    _run(repo.git, "config", f"branch.{branch}.remote", "origin")
    _run(repo.git, "config", f"branch.{branch}.merge", f"refs/heads/{branch}")
