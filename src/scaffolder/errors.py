"""Exceptions raised by the scaffolder.

    ScaffolderError                 every error the scaffolder raises on purpose
    ├── InputError (exit 2)         bad usage or input: the user can fix it and run again
    │   ├── TemplateError           a template that cannot be loaded, parsed or validated
    │   ├── ParameterError          parameter values that break the template's parameter schema
    │   ├── ConfigError             an app-config file that cannot be loaded or is invalid
    │   └── OutputDirError          an output folder that is not empty
    └── TaskError (exit 1)          the task ran and failed
        ├── StepError               a step failed (render error, action input/output, handler)
        ├── ActionError             a handler failed; carries the action id
        │   ├── GitError            a git command or push failed
        │   └── PagerDutyError      PagerDuty answered with an error (status, code, errors[])
        └── TaskCancelled           the task was cancelled

Every error carries the ids involved as attributes, and its message names the offending value.
"""

from __future__ import annotations

from typing import Any


class ScaffolderError(Exception):
    """Base class of every error the scaffolder raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def format_message(self) -> str:
        return self.message


class InputError(ScaffolderError):
    """Bad usage or input: nothing ran, and the user can correct it."""

    exit_code = 2


class TemplateError(InputError):
    """A template that cannot be found, parsed or validated."""

    def __init__(
        self, message: str, *, template: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.template = template


class ParameterError(InputError):
    """Parameter values that are missing or break the parameter schema.

    ``problems`` lists one line per field, so every problem is reported at once.
    """

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        message = "invalid parameters: " + "; ".join(problems)
        super().__init__(message, hint=hint)
        self.problems = problems


class ConfigError(InputError):
    """An app-config file that cannot be read or breaks the configuration rules."""

    def __init__(self, message: str, *, path: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class OutputDirError(InputError):
    """An output folder that cannot receive the result."""


class TaskError(ScaffolderError):
    """The task ran and failed."""

    exit_code = 1


class ActionError(TaskError):
    """An action handler failed.

    Handlers raise it (or a subclass) with a message that names the value and the fix; the
    runner wraps it into a :class:`StepError` that adds the step id.
    """

    def __init__(
        self, message: str, *, action: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.action = action


class StepError(TaskError):
    """A step failed: its input could not be rendered or validated, or its action failed."""

    def __init__(
        self,
        message: str,
        *,
        step_id: str,
        action: str | None = None,
        hint: str | None = None,
        cause_exit_code: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.step_id = step_id
        self.action = action
        if cause_exit_code is not None:
            self.exit_code = cause_exit_code


class GitError(ActionError):
    """A git operation failed (clone, commit, push)."""

    def __init__(self, message: str, *, remote: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, action=None, hint=hint)
        self.remote = remote


class PagerDutyError(ActionError):
    """PagerDuty returned an error, or could not be reached within the time budget.

    Keeps PagerDuty's HTTP ``status``, error ``code``, ``pd_message`` and ``errors`` list, and the
    ``account`` and request ``method``/``path`` involved.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        pd_message: str | None = None,
        errors: list[str] | None = None,
        account: str | None = None,
        method: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.pd_message = pd_message
        self.errors = errors or []
        self.account = account
        self.method = method
        self.path = path

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "status": self.status,
            "code": self.code,
            "errors": self.errors,
            "account": self.account,
        }


class TaskCancelled(TaskError):
    """The task was cancelled (Ctrl-C in the CLI, or a cancel request to the bridge)."""

    def __init__(self, message: str = "task cancelled") -> None:
        super().__init__(message)
