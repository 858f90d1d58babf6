"""docs/actions.md must match the manifests."""

from __future__ import annotations

from pathlib import Path

from scaffolder.docs import render_actions_markdown
from scaffolder.registry import default_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "actions.md"


def test_actions_doc_is_current() -> None:
    expected = render_actions_markdown(default_registry().all())
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/actions.md is stale: run 'scaffold actions docs -o docs/actions.md'"
    )


def test_actions_doc_lists_every_action() -> None:
    text = DOC.read_text(encoding="utf-8")
    for manifest in default_registry().all():
        assert f"## `{manifest.id}`" in text
