"""Generated documentation: the actions reference in ``docs/actions.md``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scaffolder.registry import ActionManifest

_HEADER = """\
# Actions reference

Generated from the manifests in `actions/` by `scaffold actions docs -o docs/actions.md`;
do not edit by hand. A test fails when this file is stale.
"""


def _type_of(schema: Mapping[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if "oneOf" in schema or "anyOf" in schema:
        branches = schema.get("oneOf") or schema.get("anyOf") or []
        return " or ".join(_type_of(branch) for branch in branches)
    kind = schema.get("type", "any")
    if kind == "array" and isinstance(schema.get("items"), Mapping):
        return f"array of {_type_of(schema['items'])}"
    return str(kind) if not isinstance(kind, list) else " or ".join(kind)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _properties_table(schema: Mapping[str, Any]) -> list[str]:
    properties = schema.get("properties") or {}
    if not properties:
        return ["None.", ""]
    required = set(schema.get("required") or [])
    lines = [
        "| name | type | required | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, sub in properties.items():
        default = f"`{sub['default']}`" if "default" in sub else ""
        lines.append(
            f"| `{name}` | {_cell(_type_of(sub))} | {'yes' if name in required else ''} "
            f"| {_cell(default)} | {_cell(sub.get('description', ''))} |"
        )
    lines.append("")
    return lines


def render_actions_markdown(manifests: Iterable[ActionManifest]) -> str:
    lines = [_HEADER]
    for manifest in sorted(manifests, key=lambda item: item.id):
        lines += [f"## `{manifest.id}`", "", manifest.description.strip(), ""]
        lines += [f"Dry run: {'supported' if manifest.supports_dry_run else 'skipped'}.", ""]
        lines += ["Input:", "", *_properties_table(manifest.input_schema)]
        lines += ["Output:", "", *_properties_table(manifest.output_schema)]
        for example in manifest.examples:
            lines += [f"Example: {example.get('description', '')}", "", "```yaml",
                      str(example.get("example", "")).rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"
