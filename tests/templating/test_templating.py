"""Backstage expression semantics on Jinja2."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scaffolder.templating import (
    DROP,
    RenderError,
    create_environment,
    is_truthy,
    parse_entity_ref,
    parse_repo_url,
    render_string,
    render_text,
    render_value,
    template_roots,
)

CONTEXT = {
    "parameters": {
        "name": "billing",
        "count": 3,
        "ratio": 0.5,
        "enabled": False,
        "tags": ["a", "b"],
        "meta": {"team": "core"},
        "nothing": None,
        "empty": "",
        "owner": "group:platform",
        "repoUrl": "github.com?owner=acme&repo=billing",
    },
    "steps": {"fetch": {"output": {"path": "/x"}}},
    "user": {},
    "context": {"task": {"id": "t1"}},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${{ parameters.count }}", 3),
        ("${{ parameters.ratio }}", 0.5),
        ("${{ parameters.enabled }}", False),
        ("${{ parameters.tags }}", ["a", "b"]),
        ("${{ parameters.meta }}", {"team": "core"}),
        ("${{ parameters.nothing }}", None),
        ("  ${{ parameters.count }}  ", 3),
        ("${{parameters.count}}", 3),
    ],
)
def test_lone_expression_keeps_type(text: str, expected: object) -> None:
    assert render_string(text, CONTEXT, origin="t") == expected


def test_mixed_text_renders_string() -> None:
    assert render_string("n=${{ parameters.count }}", CONTEXT, origin="t") == "n=3"


def test_two_expressions_render_string() -> None:
    text = "${{ parameters.name }}-${{ parameters.count }}"
    assert render_string(text, CONTEXT, origin="t") == "billing-3"


@pytest.mark.parametrize(
    "text", ["${{ parameters.missing }}", "${{ parameters.empty }}", "${{ parameters.a.b.c }}"]
)
def test_empty_result_is_dropped(text: str) -> None:
    assert render_string(text, CONTEXT, origin="t") is DROP


def test_render_value_drops_empty_keys() -> None:
    value = {"a": "${{ parameters.missing }}", "b": "${{ parameters.name }}", "c": 1}
    assert render_value(value, CONTEXT, origin="input") == {"b": "billing", "c": 1}


def test_render_value_recurses_into_lists() -> None:
    value = ["${{ parameters.count }}", "${{ parameters.missing }}", "x"]
    assert render_value(value, CONTEXT, origin="input") == [3, "x"]


def test_keys_are_not_rendered() -> None:
    value = {"${{ parameters.name }}": "v"}
    assert render_value(value, CONTEXT, origin="input") == {"${{ parameters.name }}": "v"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${{ parameters.count === 3 }}", True),
        ("${{ parameters.count !== 3 }}", False),
        ("${{ parameters.name === 'billing' }}", True),
        ("${{ 'a===b' }}", "a===b"),
        ("{% if parameters.count !== 2 %}yes{% endif %}", "yes"),
    ],
)
def test_strict_equality_operators(text: str, expected: object) -> None:
    assert render_string(text, CONTEXT, origin="t") == expected


def test_parse_repo_url_filter() -> None:
    text = "${{ parameters.repoUrl | parseRepoUrl }}"
    assert render_string(text, CONTEXT, origin="t") == {
        "host": "github.com", "owner": "acme", "repo": "billing"
    }


def test_project_slug_filter() -> None:
    assert render_string("${{ parameters.repoUrl | projectSlug }}", CONTEXT, origin="t") == (
        "acme/billing"
    )


def test_parse_entity_ref_filter_with_pick() -> None:
    text = "${{ parameters.owner | parseEntityRef | pick('name') }}"
    assert render_string(text, CONTEXT, origin="t") == "platform"


def test_parse_entity_ref_defaults() -> None:
    assert parse_entity_ref("team-a", {"defaultKind": "group"}) == {
        "kind": "group", "namespace": "default", "name": "team-a"
    }
    assert parse_entity_ref("component:prod/api") == {
        "kind": "component", "namespace": "prod", "name": "api"
    }


@pytest.mark.parametrize("ref", ["", "kind:", "group:a/b/c", "noname"])
def test_parse_entity_ref_rejects_malformed(ref: str) -> None:
    with pytest.raises(ValueError, match="entity reference"):
        parse_entity_ref(ref)


@pytest.mark.parametrize("value", ["github.com", "?owner=a&repo=b", "github.com?owner=a"])
def test_parse_repo_url_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError, match="repo URL"):
        parse_repo_url(value)


def test_dump_filter_is_json() -> None:
    assert render_string("${{ parameters.meta | dump }}", CONTEXT, origin="t") == (
        '{"team": "core"}'
    )


@pytest.mark.parametrize(
    "text",
    [
        "${{ ''.__class__ }}",
        "${{ ''.__class__.__mro__ }}",
        "${{ parameters.__class__.__init__.__globals__ }}",
        "x ${{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% for c in ''.__class__.__mro__ %}{% endfor %}",
    ],
)
def test_sandbox_escape_is_blocked(text: str) -> None:
    with pytest.raises(RenderError, match=r"blocked|unsafe"):
        render_string(text, CONTEXT, origin="step x, input.a")


def test_unknown_root_is_an_error() -> None:
    with pytest.raises(RenderError, match="unknown variable 'paramters'"):
        render_string("${{ paramters.name }}", CONTEXT, origin="step x, input.a")


def test_syntax_error_names_origin_and_expression() -> None:
    with pytest.raises(RenderError) as caught:
        render_string("${{ parameters.name | }}", CONTEXT, origin="step fetch, input.url")
    assert "step fetch, input.url" in str(caught.value)
    assert "parameters.name |" in str(caught.value)


def test_syntax_error_in_text_names_line() -> None:
    with pytest.raises(RenderError) as caught:
        render_text("a\nb\n{% if %}\n", CONTEXT, origin="file README.md")
    assert caught.value.line == 3
    assert "file README.md, line 3" in str(caught.value)


def test_cookiecutter_environment_uses_double_braces() -> None:
    env = create_environment(cookiecutter_compat=True)
    text = render_text("{{ cookiecutter.name }}", {"cookiecutter": {"name": "x"}},
                       origin="f", env=env)
    assert text == "x"


def test_template_roots_lists_variables() -> None:
    assert template_roots("${{ parameters.a }} ${{ steps.b.output.c }}") == {"parameters", "steps"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, False), (0, False), (0.0, False), ("", False), (None, False), ([], False),
        (DROP, False), (float("nan"), False),
        (True, True), (1, True), ("false", True), ("0", True), ({}, True), ([0], True),
    ],
)
def test_truthiness_follows_javascript(value: object, expected: bool) -> None:
    assert is_truthy(value) is expected


@given(st.text(alphabet=st.characters(blacklist_characters="${}%#"), max_size=50))
def test_plain_text_is_unchanged(text: str) -> None:
    assert render_value({"k": text}, CONTEXT, origin="t") == ({"k": text} if text else {})


@given(st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=5),
                 st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=3)))
def test_lone_expression_round_trips_json_values(value: object) -> None:
    context = {**CONTEXT, "parameters": {"v": value}}
    rendered = render_string("${{ parameters.v }}", context, origin="t")
    expected_drop = value == ""
    assert (rendered is DROP) if expected_drop else rendered == value


def test_mapping_keys_win_over_dict_methods() -> None:
    context = {**CONTEXT, "parameters": {"items": [1], "keys": "k"}}
    assert render_string("${{ parameters.items }}", context, origin="t") == [1]
    assert render_string("${{ parameters.keys }}", context, origin="t") == "k"
    assert render_string("${{ parameters.values }}", context, origin="t") is DROP


def test_length_of_list_and_string() -> None:
    assert render_string("${{ parameters.tags.length }}", CONTEXT, origin="t") == 2
    assert render_string("${{ parameters.name.length }}", CONTEXT, origin="t") == 7


@pytest.mark.parametrize(
    "text",
    [
        "{% set x = parameters.name %}${{ x }}",
        "{% for tag in parameters.tags %}${{ tag }}{% endfor %}",
        "{% for tag in parameters.tags %}${{ loop.index }}{% endfor %}",
        "{% macro m(a) %}${{ a }}{% endmacro %}${{ m(parameters.name) }}",
    ],
)
def test_locally_set_names_are_not_unknown(text: str) -> None:
    assert render_text(text, CONTEXT, origin="t")


def test_unknown_variable_inside_block_is_error() -> None:
    with pytest.raises(RenderError, match="unknown variable 'nope'"):
        render_text("{% if parameters.name %}${{ nope }}{% endif %}", CONTEXT, origin="t")


@pytest.mark.parametrize(
    "text",
    ["${{ 'a' * 100000000 }}", "${{ [1] * 100000000 }}", "${{ 9 ** 9999 }}",
     "x ${{ 'ab' * 10000000 }}"],
)
def test_huge_results_are_refused(text: str) -> None:
    with pytest.raises(RenderError, match="over the limit"):
        render_string(text, CONTEXT, origin="t")


def test_ordinary_arithmetic_still_works() -> None:
    assert render_string("${{ 'ab' * 3 }}", CONTEXT, origin="t") == "ababab"
    assert render_string("${{ 2 ** 10 + parameters.count }}", CONTEXT, origin="t") == 1027
    assert render_string("${{ parameters.name + '-x' }}", CONTEXT, origin="t") == "billing-x"


def test_dump_keeps_non_ascii_text() -> None:
    context = {**CONTEXT, "parameters": {"d": "Zahlungsdienst für Kunden"}}
    assert render_string("${{ parameters.d | dump }}", context, origin="t") == (
        '"Zahlungsdienst für Kunden"'
    )
