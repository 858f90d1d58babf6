"""Loading YAML with libyaml's safe loader when PyYAML was built with it."""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""About ten times faster than the pure-Python loader, and it builds the same data."""


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=SAFE_LOADER)
