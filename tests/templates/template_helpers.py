"""Helpers shared by the template tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = PROJECT_ROOT.parent / "shared" / "reference" / "backstage"

WriteTemplate = Callable[..., Path]


def minimal_document(name: str = "minimal") -> dict[str, Any]:
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": name, "title": f"Title of {name}", "description": "A test template"},
        "spec": {
            "type": "service",
            "parameters": [
                {
                    "title": "Basics",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "title": "Name"}},
                }
            ],
            "steps": [{"id": "log", "action": "debug:log", "input": {"message": "hi"}}],
        },
    }


def run_git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    result = subprocess.run(
        ["git", *identity, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


@dataclass(frozen=True)
class TemplateRepo:
    """A git repository of templates with a tag, a branch and two commits on main."""

    path: Path
    bare: Path
    v1_commit: str
