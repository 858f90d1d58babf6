"""Backstage template expressions on a sandboxed Jinja2 environment.

Backstage renders step inputs and skeleton files with Nunjucks, using ``${{ }}`` for
expressions. This module gives the same semantics on Jinja2:

- every string leaf of a step's input is rendered on its own; a string that is exactly one
  ``${{ expr }}`` keeps the expression's type (number, bool, list, object, null);
- an empty result drops the key, and a missing property of a known root is empty;
- Nunjucks' ``===`` and ``!==`` work, and so do the filters templates use: ``parseRepoUrl``,
  ``parseEntityRef``, ``pick``, ``projectSlug``, ``dump``;
- ``if`` conditions use JavaScript truthiness, as Backstage does.

Unlike Backstage, a render error is never swallowed, an unknown root variable (a typo such as
``paramters``) is an error, and access to private attributes (``''.__class__``) is blocked.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any, cast
from urllib.parse import parse_qs

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.sandbox import SandboxedEnvironment

from scaffolder import codecache
from scaffolder.errors import TaskError

__all__ = [
    "DROP",
    "RenderError",
    "create_environment",
    "is_truthy",
    "parse_entity_ref",
    "parse_repo_url",
    "render_text",
    "render_value",
    "template_roots",
]

_LONE_EXPRESSION = re.compile(r"^\s*\$\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)
_SEGMENT = re.compile(r"(\$\{\{.*?\}\}|\{%.*?%\})", re.DOTALL)
_STRICT_EQUALITY = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(!==|===)""")
_TEMPLATE_MARKERS = ("${{", "{%", "{#")


class _Drop:
    """Marker for a value whose rendering was empty: the key is dropped."""

    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()


class RenderError(TaskError):
    """A template expression that failed to parse or render.

    ``origin`` names where it came from (``step fetch, input.url`` or ``file README.md``),
    ``expression`` the text that failed and ``line`` its line when known.
    """

    def __init__(
        self, reason: str, *, origin: str, expression: str, line: int | None = None
    ) -> None:
        self.reason = reason
        self.origin = origin
        self.expression = expression
        self.line = line
        where = f"{origin}, line {line}" if line else origin
        snippet = expression if len(expression) <= 120 else expression[:117] + "..."
        super().__init__(f"{where}: cannot render {snippet!r}: {reason}")
        self.exit_code = 1


class _BackstageUndefined(ChainableUndefined):
    """Missing properties render as empty and chain (``a.b.c``), as in Nunjucks."""

    __slots__ = ()


MAX_RESULT_LENGTH = 1_000_000
"""Maximum length of a string or list that an expression may build with ``*`` or ``+``."""
MAX_EXPONENT = 1_000


def _result_size(operator: str, left: Any, right: Any) -> int:
    sequences = (str, list, tuple)
    if operator == "*":
        if isinstance(left, sequences) and isinstance(right, int):
            return len(left) * right
        if isinstance(right, sequences) and isinstance(left, int):
            return len(right) * left
        return 0
    if isinstance(left, sequences) and isinstance(right, sequences):
        return len(left) + len(right)
    return 0


class _Environment(SandboxedEnvironment):
    """Sandbox with JavaScript-like lookups that raises at once on unsafe attributes.

    ``obj.key`` on a mapping reads the key only (so a parameter called ``items`` is not the
    dict method), and ``.length`` of a list or string is its length, as in Nunjucks.
    """

    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse arithmetic whose result would be huge (``'a' * 10**9``, ``9 ** 9 ** 9``)."""
        if operator == "**" and isinstance(right, int) and isinstance(left, int) and (
            abs(left) > 1 and right > MAX_EXPONENT
        ):
            raise SecurityError(f"exponent {right} is over the limit of {MAX_EXPONENT}")
        if operator in ("*", "+"):
            size = _result_size(operator, left, right)
            if size > MAX_RESULT_LENGTH:
                raise SecurityError(
                    f"the result would be {size} items long, over the limit of "
                    f"{MAX_RESULT_LENGTH}"
                )
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        if attribute == "length" and isinstance(obj, str | list | tuple):
            return len(obj)
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is blocked"
        )


# Filters -----------------------------------------------------------------------------------


def parse_repo_url(value: str) -> dict[str, str]:
    """Parse Backstage's RepoUrlPicker value ``host?owner=o&repo=r`` into its parts."""
    if not isinstance(value, str) or "?" not in value:
        raise ValueError(f"invalid repo URL {value!r}: expected 'host?owner=...&repo=...'")
    host, _, query = value.partition("?")
    if not host:
        raise ValueError(f"invalid repo URL {value!r}: the host is missing")
    parsed = {key: values[0] for key, values in parse_qs(query).items() if values}
    if "repo" not in parsed:
        raise ValueError(f"invalid repo URL {value!r}: the 'repo' query parameter is missing")
    return {"host": host, **parsed}


def parse_entity_ref(
    value: str,
    context: Mapping[str, str] | None = None,
    *,
    defaultKind: str | None = None,
    defaultNamespace: str | None = None,
) -> dict[str, str]:
    """Parse ``[kind:][namespace/]name`` with Backstage's defaults (namespace ``default``)."""
    options = dict(context or {})
    default_kind = defaultKind or options.get("defaultKind")
    default_namespace = defaultNamespace or options.get("defaultNamespace") or "default"
    if not isinstance(value, str) or not value:
        raise ValueError(f"invalid entity reference {value!r}: expected [kind:][namespace/]name")
    kind, colon, rest = value.partition(":")
    if not colon:
        kind, rest = "", value
    namespace, slash, name = rest.partition("/")
    if not slash:
        namespace, name = "", rest
    kind = kind or default_kind or ""
    if not kind:
        raise ValueError(f"entity reference {value!r} has no kind, and no defaultKind was given")
    if not name or ":" in name or "/" in name:
        raise ValueError(f"invalid entity reference {value!r}: expected [kind:][namespace/]name")
    return {"kind": kind, "namespace": namespace or default_namespace, "name": name}


def _pick(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    return None


def _project_slug(value: str) -> str:
    parts = parse_repo_url(value)
    owner = parts.get("owner") or parts.get("organization") or parts.get("workspace") or ""
    return f"{owner}/{parts['repo']}"


def _dump(value: Any, indent: int | None = None) -> str:
    """Return JSON like JavaScript's ``JSON.stringify``, which leaves non-ASCII text as it is."""
    return json.dumps(_plain(value), indent=indent, ensure_ascii=False)


def _plain(value: Any) -> Any:
    """Convert Jinja results (Undefined, tuples, Markup) to JSON-compatible values."""
    if isinstance(value, ChainableUndefined):
        return None
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


_FILTERS: dict[str, Callable[..., Any]] = {
    "parseRepoUrl": parse_repo_url,
    "parseEntityRef": parse_entity_ref,
    "pick": _pick,
    "projectSlug": _project_slug,
    "dump": _dump,
}


# Environment and rendering ------------------------------------------------------------------


@lru_cache(maxsize=8)
def create_environment(
    *, cookiecutter_compat: bool = False, trim_blocks: bool = False, lstrip_blocks: bool = False
) -> SandboxedEnvironment:
    """Return the sandboxed environment for step inputs (default) or skeleton files.

    ``cookiecutter_compat`` switches expressions to ``{{ }}`` as cookiecutter templates write
    them. Environments are cached and shared: they hold no per-render state.
    """
    env = _Environment(
        variable_start_string="{{" if cookiecutter_compat else "${{",
        variable_end_string="}}",
        trim_blocks=trim_blocks,
        lstrip_blocks=lstrip_blocks,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=_BackstageUndefined,
    )
    env.filters.update(_FILTERS)
    env.globals.update({"null": None, "undefined": None})
    return env


def _translate_expression(expression: str) -> str:
    """Turn Nunjucks' ``===``/``!==`` into Jinja's ``==``/``!=``, leaving string literals."""
    return _STRICT_EQUALITY.sub(
        lambda m: m.group(1) or ("!=" if m.group(2) == "!==" else "=="), expression
    )


def _translate(text: str) -> str:
    """Apply :func:`_translate_expression` inside ``${{ }}`` and ``{% %}`` segments only."""
    if "==" not in text:
        return text
    return _SEGMENT.sub(lambda match: _translate_expression(match.group(0)), text)


def has_template_syntax(text: str, env: SandboxedEnvironment | None = None) -> bool:
    """Tell whether ``text`` holds an expression, block or comment of ``env``'s syntax."""
    if env is not None and env.variable_start_string != "${{":
        return any(marker in text for marker in (env.variable_start_string, "{%", "{#"))
    return any(marker in text for marker in _TEMPLATE_MARKERS)


@lru_cache(maxsize=4096)
def _parse(env: SandboxedEnvironment, source: str) -> nodes.Template:
    return env.parse(source)


class _RootTrackingGenerator(CodeGenerator):
    """Jinja's code generator, also recording the names a template reads but never sets.

    It is what ``jinja2.meta.find_undeclared_variables`` records, collected during the one
    code generation the template needs anyway instead of in a second pass.
    """

    def __init__(self, environment: SandboxedEnvironment) -> None:
        super().__init__(environment, "<template>", "<template>", optimized=environment.optimized)
        self.undeclared: set[str] = set()

    def enter_frame(self, frame: Frame) -> None:
        super().enter_frame(frame)
        for _, (action, name) in frame.symbols.loads.items():
            if action == VAR_LOAD_RESOLVE and name is not None:
                self.undeclared.add(name)


# NOTE: compiled templates are kept for the life of the process (the bridge included), up to
# this many distinct texts.
@lru_cache(maxsize=1024)
def _compile(env: SandboxedEnvironment, source: str) -> tuple[Template, frozenset[str]]:
    """Parse ``source`` once, returning the compiled template and the root names it reads.

    The code is also kept in the disk cache of :mod:`scaffolder.codecache`, so a later run of
    the same template does not parse it again.
    """
    key = codecache.cache_key(_options_of(env), source)
    cached = codecache.load(key)
    if cached is not None:
        code, roots = cached
    else:
        generator = _RootTrackingGenerator(env)
        generator.visit(env.parse(source))
        stream = cast(io.StringIO, generator.stream)
        code = compile(stream.getvalue(), "<template>", "exec")
        roots = frozenset(generator.undeclared)
        codecache.store(key, code, roots)
    template = env.template_class.from_code(env, code, env.make_globals(None), None)
    return template, roots


def _options_of(env: SandboxedEnvironment) -> str:
    """Return the environment options that change the generated code."""
    return repr((type(env).__name__, env.variable_start_string, env.variable_end_string,
                 env.block_start_string, env.comment_start_string, env.trim_blocks,
                 env.lstrip_blocks, env.keep_trailing_newline, env.optimized,
                 env.autoescape, sorted(env.filters), sorted(env.tests)))


def template_roots(text: str, env: SandboxedEnvironment | None = None) -> set[str]:
    """Return the root variable names ``text`` reads (``parameters``, ``steps``, ...)."""
    env = env or create_environment()
    return set(meta.find_undeclared_variables(_parse(env, _translate(text))))


def _check_roots(
    roots: Iterable[str],
    env: SandboxedEnvironment,
    context: Mapping[str, Any],
    origin: str,
    text: str,
) -> None:
    unknown = {name for name in roots if name not in context and name not in env.globals}
    if unknown:
        known = ", ".join(sorted(context))
        raise RenderError(
            f"unknown variable {sorted(unknown)[0]!r} (available: {known})",
            origin=origin,
            expression=text,
        )


def render_text(
    text: str,
    context: Mapping[str, Any],
    *,
    origin: str,
    env: SandboxedEnvironment | None = None,
) -> str:
    """Render a whole text (a string input or a skeleton file) to a string."""
    env = env or create_environment()
    if not has_template_syntax(text, env):
        return text
    source = _translate(text)
    try:
        template, roots = _compile(env, source)
        _check_roots(roots, env, context, origin, text)
        return template.render(context)
    except RenderError:
        raise
    except TemplateSyntaxError as error:
        raise RenderError(error.message or str(error), origin=origin, expression=text,
                          line=error.lineno) from None
    except (TemplateError, SecurityError, UndefinedError) as error:
        raise RenderError(str(error), origin=origin, expression=text) from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError) as error:
        raise RenderError(str(error), origin=origin, expression=text) from None


def _render_expression(
    expression: str, context: Mapping[str, Any], *, origin: str, text: str
) -> Any:
    env = create_environment()
    source = _translate("${{" + expression + "}}")
    try:
        _check_roots(
            meta.find_undeclared_variables(_parse(env, source)), env, context, origin, text
        )
        compiled = env.compile_expression(
            _translate_expression(expression), undefined_to_none=False
        )
        return compiled(**context)
    except RenderError:
        raise
    except TemplateSyntaxError as error:
        raise RenderError(error.message or str(error), origin=origin, expression=text) from None
    except (TemplateError, SecurityError, UndefinedError) as error:
        raise RenderError(str(error), origin=origin, expression=text) from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError) as error:
        raise RenderError(str(error), origin=origin, expression=text) from None


def render_string(text: str, context: Mapping[str, Any], *, origin: str) -> Any:
    """Render one string leaf with Backstage's rules; may return :data:`DROP`."""
    if not has_template_syntax(text):
        return DROP if text == "" else text
    lone = _LONE_EXPRESSION.match(text)
    if lone and "${{" not in lone.group("expr") and "}}" not in lone.group("expr"):
        value = _render_expression(lone.group("expr"), context, origin=origin, text=text)
        if isinstance(value, ChainableUndefined):
            return DROP
        plain = _plain(value)
        return DROP if plain == "" else plain
    rendered = render_text(text, context, origin=origin)
    return DROP if rendered == "" else rendered


def render_value(value: Any, context: Mapping[str, Any], *, origin: str) -> Any:
    """Render every string leaf of ``value``; keys whose value renders empty are dropped.

    ``origin`` is the path of ``value`` used in errors, e.g. ``step fetch, input``.
    """
    if isinstance(value, str):
        return render_string(value, context, origin=origin)
    if isinstance(value, Mapping):
        rendered: dict[str, Any] = {}
        for key, item in value.items():
            result = render_value(item, context, origin=f"{origin}.{key}")
            if result is not DROP:
                rendered[key] = result
        return rendered
    if isinstance(value, list):
        items = (render_value(item, context, origin=f"{origin}[{index}]")
                 for index, item in enumerate(value))
        return [item for item in items if item is not DROP]
    return value


def is_truthy(value: Any) -> bool:
    """Return JavaScript truthiness, as Backstage evaluates a step's ``if``.

    ``false``, ``0``, ``NaN``, ``""``, null, a missing value and an empty list are false; an
    object is true even when empty.
    """
    if value is DROP or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    return True


def iter_string_leaves(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """Yield ``(path, string)`` for every string leaf, for static checks."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_string_leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_string_leaves(item, f"{path}[{index}]")
