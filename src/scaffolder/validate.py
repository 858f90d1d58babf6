"""Static checks of a template: what ``scaffold templates validate`` reports without running it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from scaffolder.registry import ActionRegistry, validation_errors
from scaffolder.templating import create_environment, has_template_syntax, iter_string_leaves

STEP_ROOTS = frozenset({"parameters", "steps", "secrets", "user", "each", "context"})
OUTPUT_ROOTS = STEP_ROOTS - {"secrets", "each"}


def _attribute_chain(node: nodes.Node) -> list[str]:
    """Return ``["steps", "fetch", "output"]`` for ``steps.fetch.output`` or ``steps['fetch']``."""
    chain: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            chain.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            chain.append(str(node.arg.value))
            node = node.node
        elif isinstance(node, nodes.Name):
            chain.append(node.name)
            return list(reversed(chain))
        else:
            return []


def _references(text: str) -> tuple[set[str], list[list[str]]]:
    """Return the root names and every attribute chain an expression text reads."""
    env = create_environment()
    tree = env.parse(text.replace("===", "==").replace("!==", "!="))
    roots: set[str] = set()
    chains: list[list[str]] = []
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        chain = _attribute_chain(node)
        if chain and chain[0] not in assigned:
            roots.add(chain[0])
            chains.append(chain)
    return roots, chains


def declared_parameters(parameters: Iterable[Mapping[str, Any]]) -> set[str]:
    names: set[str] = set()
    for page in parameters:
        names.update((page.get("properties") or {}).keys())
        for branch in _conditional_branches(page):
            names.update((branch.get("properties") or {}).keys())
    return names


def _conditional_branches(schema: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for key in ("allOf", "anyOf", "oneOf"):
        yield from schema.get(key) or []
    for key in ("then", "else"):
        if isinstance(schema.get(key), Mapping):
            yield schema[key]
    for dependency in (schema.get("dependencies") or {}).values():
        if isinstance(dependency, Mapping):
            yield dependency
            yield from _conditional_branches(dependency)
    for branch in list(schema.get("allOf") or []):
        yield from _conditional_branches(branch)


def check_template(
    document: Mapping[str, Any], parameters: Sequence[Mapping[str, Any]], registry: ActionRegistry
) -> list[str]:
    """Return one line per problem found in the template's steps and output."""
    problems: list[str] = []
    declared = declared_parameters(parameters)
    seen_steps: set[str] = set()
    spec = document.get("spec") or {}
    for index, step in enumerate(spec.get("steps") or []):
        step_id = str(step.get("id") or f"step-{index + 1}")
        origin = f"step {step_id}"
        for path, text in _step_strings(step):
            problems.extend(_check_expression(text, f"{origin}, {path}", STEP_ROOTS, declared,
                                              seen_steps))
        problems.extend(_check_action(step, step_id, registry))
        if step_id in seen_steps:
            problems.append(f"{origin}: duplicate step id {step_id!r}")
        seen_steps.add(step_id)
    for path, text in iter_string_leaves(spec.get("output") or {}, "output"):
        problems.extend(_check_expression(text, f"spec.{path}", OUTPUT_ROOTS, declared,
                                          seen_steps))
    return problems


def _step_strings(step: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for key in ("if", "each"):
        if isinstance(step.get(key), str):
            yield key, step[key]
    yield from iter_string_leaves(step.get("input") or {}, "input")


def _check_expression(
    text: str,
    origin: str,
    allowed_roots: frozenset[str],
    declared: set[str],
    seen_steps: set[str],
) -> list[str]:
    if not has_template_syntax(text):
        return []
    try:
        roots, chains = _references(text)
    except TemplateSyntaxError as error:
        return [f"{origin}: syntax error in {text!r}: {error.message}"]
    problems = [
        f"{origin}: unknown variable {root!r} in {text!r} (available: "
        f"{', '.join(sorted(allowed_roots))})"
        for root in sorted(roots - allowed_roots)
    ]
    for chain in chains:
        if chain[0] == "parameters" and len(chain) > 1 and declared and chain[1] not in declared:
            problems.append(f"{origin}: parameter {chain[1]!r} is not declared in the "
                            "template's parameters")
        if chain[0] == "steps" and len(chain) > 1 and chain[1] not in seen_steps:
            problems.append(f"{origin}: step {chain[1]!r} is referenced before it runs "
                            "(or does not exist)")
    return sorted(set(problems))


def _check_action(step: Mapping[str, Any], step_id: str, registry: ActionRegistry) -> list[str]:
    action_id = step.get("action")
    if not isinstance(action_id, str) or not action_id:
        return [f"step {step_id}: missing action"]
    if action_id not in registry:
        return [f"step {step_id}: unknown action {action_id!r}"]
    manifest = registry.get(action_id)
    raw_input = step.get("input") or {}
    literal = _literal_part(raw_input)
    schema = _without_required(manifest.input_schema)
    errors = validation_errors(schema, literal, "input")
    required = manifest.input_schema.get("required") or []
    if isinstance(raw_input, Mapping):
        errors.extend(f"input: {name!r} is a required property"
                      for name in required if name not in raw_input)
    return [f"step {step_id} ({action_id}): {error}" for error in errors]


def _literal_part(value: Any) -> Any:
    """Drop every key whose value holds an expression: only literals can be checked early."""
    if isinstance(value, Mapping):
        return {key: _literal_part(item) for key, item in value.items() if not _templated(item)}
    return value


def _templated(value: Any) -> bool:
    return any(has_template_syntax(text) for _, text in iter_string_leaves(value))


def _without_required(schema: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        return schema
    result = {key: value for key, value in schema.items() if key != "required"}
    if isinstance(result.get("properties"), Mapping):
        result["properties"] = {
            name: _without_required(sub) for name, sub in result["properties"].items()
        }
    return result


def untrusted_steps(document: Mapping[str, Any], registry: ActionRegistry) -> list[str]:
    """Return ``(step id, action)`` lines for steps whose action needs trusted templates."""
    found = []
    for index, step in enumerate((document.get("spec") or {}).get("steps") or []):
        action_id = step.get("action")
        known = isinstance(action_id, str) and action_id in registry
        if known and registry.get(action_id).requires_trust:
            found.append(f"{step.get('id') or f'step-{index + 1}'}: {action_id}")
    return found
