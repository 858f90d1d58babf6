"""Replacing secret values by ``***`` in text and structured data."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
_MIN_SECRET_LENGTH = 4


class Redactor:
    """A set of secret strings and the means to mask them anywhere they appear.

    Thread-safe: the bridge adds request secrets while workers write logs.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            for secret in secrets:
                # Very short values ("1", "on") would mask unrelated text; they are not
                # credentials anyway.
                if isinstance(secret, str) and len(secret) >= _MIN_SECRET_LENGTH:
                    self._secrets.add(secret)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def redact_data(self, value: Any) -> Any:
        """Return a copy of ``value`` (JSON-like) with every secret masked in its strings."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self.redact_data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_data(item) for item in value]
        return value


GLOBAL_REDACTOR = Redactor()
"""Secrets known to the whole process (configured tokens, client secrets, OAuth tokens)."""


class RedactingFilter(logging.Filter):
    """A logging filter that masks known secrets in the formatted message of every record."""

    def __init__(self, redactor: Redactor = GLOBAL_REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redactor.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True
