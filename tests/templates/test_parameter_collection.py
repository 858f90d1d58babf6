"""collect_parameters: defaults, prompts driven by a scripted prompter, and one-shot errors."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from template_helpers import FIXTURES

from scaffolder.errors import ParameterError
from scaffolder.parameters import ClickPrompter, Prompter, collect_parameters
from scaffolder.templates import Template, load_template


class ScriptedPrompter:
    """A prompter that gives prepared answers in order and records what it was shown.

    An empty answer behaves like pressing Enter in a terminal: it takes the default.
    """

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.prompts: list[tuple[str, str | None, bool]] = []
        self.lines: list[str] = []

    def ask(self, prompt: str, default: str | None, *, secret: bool = False) -> str:
        self.prompts.append((prompt, default, secret))
        if not self.answers:
            raise AssertionError(f"no answer prepared for prompt {prompt!r}")
        answer = self.answers.pop(0)
        return default if answer == "" and default is not None else answer

    def echo(self, text: str) -> None:
        self.lines.append(text)

    @property
    def asked(self) -> list[str]:
        return [prompt for prompt, _, _ in self.prompts]


class RefusingPrompter(ScriptedPrompter):
    def __init__(self) -> None:
        super().__init__([])


@pytest.fixture(scope="module")
def service() -> Template:
    return load_template(str(FIXTURES / "service"))


def template_with(tmp_path: Path, parameters: Any) -> Template:
    document = yaml.safe_load((FIXTURES / "minimal" / "template.yaml").read_text())
    document["spec"]["parameters"] = parameters
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return load_template(str(tmp_path))


BASICS = {"name": "svc", "lifecycle": "production"}


def test_protocol_implementations() -> None:
    prompters: list[Prompter] = [ScriptedPrompter([]), ClickPrompter()]

    assert len(prompters) == 2


# --- not interactive ----------------------------------------------------------------------------


def test_defaults_applied(service: Template) -> None:
    values = collect_parameters(service, values=BASICS, interactive=False, prompter=None)

    assert values == {
        "name": "svc",
        "lifecycle": "production",
        "replicas": 2,
        "public": False,
        "team": {"size": 3},
        "internalId": "svc-internal",
        "tier": "bronze",
    }


def test_given_values_win_over_defaults(service: Template) -> None:
    given = {**BASICS, "replicas": 5, "team": {"name": "core"}}

    values = collect_parameters(service, values=given, interactive=False)

    assert values["replicas"] == 5
    assert values["team"] == {"name": "core", "size": 3}
    assert given["team"] == {"name": "core"}


def test_all_problems_in_one_error(service: Template) -> None:
    values = {"lifecycle": "prod", "replicas": "x", "tier": "gold", "deploy": True}

    with pytest.raises(ParameterError) as caught:
        collect_parameters(service, values=values, interactive=False, prompter=RefusingPrompter())

    assert caught.value.problems == [
        "name: is required",
        "lifecycle: 'prod' is not one of ['experimental', 'production']",
        "replicas: 'x' is not of type 'integer'",
        "region: is required",
        "sla: is required",
    ]
    assert caught.value.message.startswith("invalid parameters: name: is required; ")
    assert caught.value.exit_code == 2


def test_secret_problem_hides_value(service: Template) -> None:
    values = {**BASICS, "token": "hunter2"}

    with pytest.raises(ParameterError) as caught:
        collect_parameters(service, values=values, interactive=False)

    assert "hunter2" not in caught.value.message
    assert caught.value.problems == ["token: the secret value fails 'minLength': 8"]


def test_no_parameters(tmp_path: Path) -> None:
    minimal = load_template(str(FIXTURES / "minimal"))

    assert (
        collect_parameters(minimal, values={}, interactive=True, prompter=RefusingPrompter()) == {}
    )


def test_if_then_default_applied(tmp_path: Path) -> None:
    template = template_with(
        tmp_path,
        {
            "properties": {"kind": {"type": "string", "default": "web"}},
            "if": {"properties": {"kind": {"const": "web"}}},
            "then": {"properties": {"port": {"type": "integer", "default": 8080}}},
        },
    )

    values = collect_parameters(template, values={}, interactive=False)

    assert values == {"kind": "web", "port": 8080}


# --- interactive --------------------------------------------------------------------------------


def test_full_prompt_flow(service: Template) -> None:
    prompter = ScriptedPrompter(
        [
            "2",  # lifecycle: choice 2
            "",  # replicas: default
            "y",  # public
            "a, b",  # tags
            "core",  # team.name
            "",  # team.size: default
            "gold",  # tier
            "yes",  # deploy
            "abc",  # token: too short, asked again
            "long-enough",  # token
            "",  # password: optional, left empty
            "eu",  # region: switched on by deploy
            "4",  # sla: switched on by tier gold
        ]
    )

    values = collect_parameters(
        service, values={"name": "svc"}, interactive=True, prompter=prompter
    )

    assert values == {
        "name": "svc",
        "lifecycle": "production",
        "replicas": 2,
        "public": True,
        "tags": ["a", "b"],
        "team": {"name": "core", "size": 3},
        "tier": "gold",
        "deploy": True,
        "token": "long-enough",
        "region": "eu",
        "sla": 4,
        "internalId": "svc-internal",
    }
    assert prompter.asked == [
        "Lifecycle",
        "Replicas",
        "Public (y/n)",
        "Tags",
        "Team name",
        "Team size",
        "Tier",
        "Deploy now (y/n)",
        "Deploy token",
        "Deploy token",
        "Database password",
        "Region",
        "SLA hours",
    ]
    assert prompter.answers == []


def test_prompt_shows_defaults(service: Template) -> None:
    prompter = ScriptedPrompter(["1", "", "", "", "", "", "", "n", "", ""])

    collect_parameters(service, values={"name": "svc"}, interactive=True, prompter=prompter)

    defaults = {prompt: default for prompt, default, _ in prompter.prompts}
    assert defaults["Replicas"] == "2"
    assert defaults["Public (y/n)"] == "n"
    assert defaults["Tier"] == "bronze"
    assert defaults["Lifecycle"] is None


def test_secret_prompts_flagged(service: Template) -> None:
    prompter = ScriptedPrompter(["1", "", "", "", "", "", "", "n", "", ""])

    collect_parameters(service, values={"name": "svc"}, interactive=True, prompter=prompter)

    secret = [prompt for prompt, _, is_secret in prompter.prompts if is_secret]
    assert secret == ["Deploy token", "Database password"]


def test_titles_descriptions_choices_shown(service: Template) -> None:
    prompter = ScriptedPrompter(["1", "", "", "", "", "", "", "n", "", ""])

    collect_parameters(service, values={"name": "svc"}, interactive=True, prompter=prompter)

    lines = prompter.lines
    assert lines[:2] == ["Basics", "What the service is called and who owns it."]
    assert lines[2:4] == ["  1) Experimental (experimental)", "  2) Production (production)"]
    assert "Deployment" in lines
    assert "  2) gold" in lines


def test_name_description_shown(service: Template) -> None:
    prompter = ScriptedPrompter(["svc", "1", "", "", "", "", "", "", "n", "", ""])

    collect_parameters(service, values={}, interactive=True, prompter=prompter)

    assert "Name: Unique name of the component" in prompter.lines
    assert prompter.asked[0] == "Name"


def test_invalid_answers_asked_again(service: Template) -> None:
    prompter = ScriptedPrompter(
        [
            "",  # name: required, asked again
            "Bad Name",  # name: breaks the pattern
            "svc",
            "9",  # lifecycle: no such choice
            "production",
            "zero",  # replicas: not an integer
            "0",  # replicas: below the minimum
            "1",
            "maybe",  # public: not a boolean
            "n",
            "",
            "",
            "",
            "",
            "n",
            "",
            "",
        ]
    )

    values = collect_parameters(service, values={}, interactive=True, prompter=prompter)

    assert values["name"] == "svc"
    assert values["lifecycle"] == "production"
    assert values["replicas"] == 1
    assert values["public"] is False
    assert "name: a value is required" in prompter.lines
    assert "name: 'Bad Name' does not match '^[a-z][a-z0-9-]*$'; try again" in prompter.lines
    assert (
        "lifecycle: '9' is not a choice: answer 1-2 or one of experimental, production"
        in prompter.lines
    )
    assert "replicas: 'zero' is not an integer" in prompter.lines
    assert "replicas: 0 is less than the minimum of 1; try again" in prompter.lines
    assert "public: 'maybe' is not a boolean (true/false, yes/no, 1/0)" in prompter.lines


def test_secret_answer_never_echoed(service: Template) -> None:
    prompter = ScriptedPrompter(["1", "", "", "", "", "", "", "n", "tiny", "long-enough", ""])

    collect_parameters(service, values={"name": "svc"}, interactive=True, prompter=prompter)

    assert not any("tiny" in line for line in prompter.lines)
    assert "token: fails 'minLength'; try again" in prompter.lines


def test_given_and_hidden_not_asked(service: Template) -> None:
    given = {
        **BASICS,
        "replicas": 1,
        "public": True,
        "tags": [],
        "team": {},
        "tier": "bronze",
        "deploy": False,
        "token": "long-enough",
        "password": "pw",
    }
    prompter = RefusingPrompter()

    values = collect_parameters(service, values=given, interactive=True, prompter=prompter)

    assert prompter.prompts == []
    assert values["internalId"] == "svc-internal"


def test_interactive_still_validates_given(service: Template) -> None:
    prompter = ScriptedPrompter([""] * 12)

    with pytest.raises(ParameterError) as caught:
        collect_parameters(
            service, values={**BASICS, "lifecycle": "prod"}, interactive=True, prompter=prompter
        )

    assert caught.value.problems == [
        "lifecycle: 'prod' is not one of ['experimental', 'production']"
    ]


def test_optional_left_empty_absent(tmp_path: Path) -> None:
    template = template_with(tmp_path, {"properties": {"note": {"type": "string"}}})

    values = collect_parameters(
        template, values={}, interactive=True, prompter=ScriptedPrompter([""])
    )

    assert values == {}


def test_multi_select_choices(tmp_path: Path) -> None:
    template = template_with(
        tmp_path,
        {
            "properties": {
                "regions": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["us", "eu"]},
                    "uniqueItems": True,
                }
            }
        },
    )
    prompter = ScriptedPrompter(["us,xx", "eu, us"])

    values = collect_parameters(template, values={}, interactive=True, prompter=prompter)

    assert values == {"regions": ["eu", "us"]}
    assert "  one or more of: us, eu (comma-separated)" in prompter.lines
    assert any(line.startswith("regions: 'xx' is not one of") for line in prompter.lines)


def test_object_without_properties_as_json(tmp_path: Path) -> None:
    template = template_with(tmp_path, {"properties": {"extra": {"type": "object"}}})
    prompter = ScriptedPrompter(['{"a": 1}'])

    values = collect_parameters(template, values={}, interactive=True, prompter=prompter)

    assert values == {"extra": {"a": 1}}


def test_click_prompter_reads_terminal(service: Template) -> None:
    answers = "svc\n2\n\n\n\n\n\n\nn\n\n\n"
    with CliRunner().isolation(input=answers) as streams:
        values = collect_parameters(service, values={}, interactive=True, prompter=None)
        printed = streams[0].getvalue().decode()
        shown = streams[1].getvalue().decode()

    assert values["name"] == "svc"
    assert values["lifecycle"] == "production"
    assert values["replicas"] == 2
    assert "Replicas [2]: " in shown
    assert "Deploy token: " in shown
    assert printed == ""


def test_click_prompter_hides_secret_default() -> None:
    with CliRunner().isolation(input="\n") as streams:
        answer = ClickPrompter().ask("Token", "default-secret", secret=True)
        shown = streams[1].getvalue().decode()

    assert answer == "default-secret"
    assert shown == "Token: \n"


PTY_SCRIPT = """
import json, sys
from scaffolder.parameters import collect_parameters
from scaffolder.templates import load_template
values = collect_parameters(load_template(sys.argv[1]), values={}, interactive=True)
print("RESULT " + json.dumps(values, sort_keys=True))
"""


def read_until(fd: int, marker: bytes, seen: bytearray) -> None:
    """Read from the terminal until ``marker`` shows up (gives up after 30 s of silence)."""
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            raise AssertionError(f"{marker!r} not shown; the terminal has {bytes(seen)!r}")
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            chunk = b""
        if not chunk:
            raise AssertionError(f"{marker!r} not shown before exit: {bytes(seen)!r}")
        seen.extend(chunk)


def test_real_terminal_prompts(tmp_path: Path) -> None:
    template = template_with(
        tmp_path,
        {
            "required": ["name", "token"],
            "properties": {
                "name": {"title": "Name", "type": "string"},
                "token": {"title": "Token", "type": "string", "ui:field": "Secret"},
            },
        },
    )
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", PTY_SCRIPT, str(template.path)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    seen = bytearray()
    try:
        read_until(controller, b"Name: ", seen)
        os.write(controller, b"svc\n")
        read_until(controller, b"Token: ", seen)
        os.write(controller, b"s3cret-token\n")
        read_until(controller, b"RESULT", seen)
        read_until(controller, b"}", seen)
    finally:
        process.wait(timeout=30)
        os.close(controller)

    assert process.returncode == 0
    assert b'RESULT {"name": "svc", "token": "s3cret-token"}' in seen
    assert seen.count(b"s3cret-token") == 1


def test_secret_answer_keeps_spaces(tmp_path: Path) -> None:
    template = template_with(
        tmp_path,
        {
            "properties": {
                "pw": {"type": "string", "ui:widget": "password"},
                "name": {"type": "string"},
            }
        },
    )
    prompter = ScriptedPrompter([" pass word ", "  svc  "])

    values = collect_parameters(template, values={}, interactive=True, prompter=prompter)

    assert values == {"pw": " pass word ", "name": "svc"}


def test_undeclared_values_logged(service: Template, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="scaffolder.parameters"):
        values = collect_parameters(service, values={**BASICS, "nmae": "x"}, interactive=False)

    assert values["nmae"] == "x"
    assert "undeclared parameters nmae" in caplog.text
