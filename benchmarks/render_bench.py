"""Benchmark skeleton rendering: scaffolder against cookiecutter and copier, plus the CLI costs.

Run from the repository root with the project's virtual environment:

    python benchmarks/render_bench.py [--repeats 5] [--markdown FILE] [--profile]

The script generates the workload in a temporary folder, the same on every run. It has 1,000
files (990 text files with five placeholders each, 10 binary files of 16 KiB) in 110 folders,
written once in the syntax of each engine. It comes in two variants: ``placeholders`` (the
one the targets apply to) and ``blocks``, which adds one ``{% if %}`` block to every text
file so that no engine can skip Jinja. Results are printed as a table and written to
``benchmarks/results/render.json``; ``--markdown`` also writes a section for the docs.

Measurements:

1. render only, in this process: scaffolder through ``load_template`` and ``Runner.run`` (the
   whole ``fetch:template`` step) and through ``render_skeleton`` alone, cookiecutter's
   ``cookiecutter()`` and copier's ``run_copy()``, on both variants;
2. render and commit: ``scaffold new`` in a subprocess against ``cp -r`` plus ``git init``,
   ``git add`` and ``git commit``;
3. the peak resident memory of ``scaffold new``;
4. cold start: ``scaffold --version`` against ``python -c pass``, with an import-time breakdown.

Each measurement runs one untimed round to warm up imports, the bytecode cache and the page
cache, then ``--repeats`` rounds in which the contenders take turns; the table shows the
median and the minimum. Other processes on the machine still add noise, so the load average
is recorded with the results.
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_FILE = REPO_ROOT / "benchmarks" / "results" / "render.json"
BIN_DIR = Path(sys.executable).parent
SCAFFOLD = BIN_DIR / "scaffold"

SEED = 20240611
TOP_FOLDERS = 10
SUBFOLDERS = 10
TOTAL_FILES = 1000
BINARY_FILES = 10
BINARY_SIZE = 16 * 1024
TEMPLATED_NAME_EVERY = 20
COLD_START_RUNS = 10

VALUES = {
    "name": "payments-api",
    "owner": "group:default/payments",
    "description": "Takes payments and refunds them",
    "version": "1.4.2",
}

# Limits from the project's performance goals; Check.unit sets the direction of each.
TARGETS = {
    "cookiecutter_over_ours": 5.0,
    "copier_over_ours": 10.0,
    "scaffold_new_over_cp_git": 2.5,
    "scaffold_new_peak_rss_mb": 100.0,
    "version_over_python": 4.0,
}


# Workload ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Syntax:
    """Variable syntax of one engine, where ``{name}`` stands for the variable's name."""

    engine: str
    variable: str
    path: str

    def expression(self, name: str) -> str:
        return self.variable.replace("{name}", name)

    def block(self, name: str) -> str:
        """Return an ``if`` block on the variable, which every engine hands to Jinja."""
        return "{% if " + self.path.replace("{name}", name) + " %}# set{% endif %}"


OURS = Syntax("scaffolder", "${{ values.{name} }}", "values.{name}")
COOKIECUTTER = Syntax("cookiecutter", "{{ cookiecutter.{name} }}", "cookiecutter.{name}")
COPIER = Syntax("copier", "{{ {name} }}", "{name}")


@dataclass
class Workload:
    """The three equivalent templates and the counts they share."""

    root: Path
    ours: Path
    cookiecutter: Path
    copier: Path
    blocks: bool
    files: int = 0
    text_files: int = 0
    binary_files: int = 0
    templated_names: int = 0
    folders: int = 0
    text_bytes: int = 0
    binary_bytes: int = 0


def folder_paths() -> list[str]:
    """Return the 110 folders: ``pkg00`` to ``pkg09``, each with ``mod00`` to ``mod09``."""
    folders: list[str] = []
    for top in range(TOP_FOLDERS):
        folders.append(f"pkg{top:02d}")
        folders.extend(f"pkg{top:02d}/mod{sub:02d}" for sub in range(SUBFOLDERS))
    return folders


def text_body(index: int, syntax: Syntax, rng: random.Random, blocks: bool) -> str:
    """Return a text file of about 1.6 KiB with five placeholders and filler without braces.

    With ``blocks``, the file also holds one ``{% if %}`` block.
    """
    var = syntax.expression
    words = ["alpha", "beta", "gamma", "delta", "ledger", "refund", "queue", "retry", "audit"]
    filler = [
        f"# line {line}: " + " ".join(rng.choice(words) for _ in range(8))
        for line in range(24)
    ]
    head = [
        f"# {var('name')} file {index:04d}",
        f"# owned by {var('owner')}",
        f'DESCRIPTION = "{var("description")}"',
    ]
    tail = [f'VERSION = "{var("version")}"', f'SERVICE = "{var("name")}-{index}"', ""]
    if blocks:
        tail.insert(0, syntax.block("owner"))
    return "\n".join(head + filler + tail)


def file_name(index: int, syntax: Syntax) -> str:
    """Return the name of text file ``index``. Every 20th name contains the ``name`` value."""
    if index % TEMPLATED_NAME_EVERY == 0:
        return f"{syntax.expression('name')}_{index:04d}.py"
    return f"file_{index:04d}{('.py', '.md', '.txt', '.yaml')[index % 4]}"


def write_skeleton(root: Path, syntax: Syntax, workload: Workload) -> None:
    """Write the skeleton files in ``syntax`` under ``root``. The bytes depend only on SEED."""
    rng = random.Random(SEED)
    folders = folder_paths()
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)

    text_count = TOTAL_FILES - BINARY_FILES
    for index in range(text_count):
        path = root / folders[index % len(folders)] / file_name(index, syntax)
        body = text_body(index, syntax, rng, workload.blocks)
        path.write_text(body, encoding="utf-8")
        if syntax is OURS:
            workload.text_bytes += path.stat().st_size
            workload.templated_names += index % TEMPLATED_NAME_EVERY == 0

    for index in range(BINARY_FILES):
        data = bytearray(rng.randbytes(BINARY_SIZE))
        data[::64] = bytes(len(data[::64]))  # a NUL every 64 bytes marks the file as binary
        path = root / folders[(index * 11) % len(folders)] / f"blob_{index:02d}.bin"
        path.write_bytes(bytes(data))
        if syntax is OURS:
            workload.binary_bytes += len(data)

    if syntax is OURS:
        workload.text_files = text_count
        workload.binary_files = BINARY_FILES
        workload.files = text_count + BINARY_FILES
        workload.folders = len(folders)


def write_ours(folder: Path, workload: Workload) -> None:
    """Write a v1beta3 template with one ``fetch:template`` step and its skeleton."""
    properties = {key: {"type": "string", "title": key.title()} for key in VALUES}
    document = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "render-bench", "title": "Render benchmark"},
        "spec": {
            "owner": "group:default/platform",
            "type": "service",
            "parameters": [
                {"title": "Values", "required": sorted(VALUES), "properties": properties}
            ],
            "steps": [
                {
                    "id": "fetch",
                    "name": "Render the skeleton",
                    "action": "fetch:template",
                    "input": {
                        "url": "./skeleton",
                        "values": {key: f"${{{{ parameters.{key} }}}}" for key in VALUES},
                    },
                }
            ],
        },
    }
    folder.mkdir(parents=True)
    (folder / "template.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    write_skeleton(folder / "skeleton", OURS, workload)


def write_cookiecutter(folder: Path, workload: Workload) -> None:
    """Write a cookiecutter template whose binary files are marked ``_copy_without_render``."""
    context = {**VALUES, "project": "{{ cookiecutter.name }}", "_copy_without_render": ["*.bin"]}
    folder.mkdir(parents=True)
    (folder / "cookiecutter.json").write_text(json.dumps(context, indent=2))
    write_skeleton(folder / "{{cookiecutter.project}}", COOKIECUTTER, workload)


def write_copier(folder: Path, workload: Workload) -> None:
    """Write a copier template that renders every file (empty ``_templates_suffix``).

    Copier has no per-file "copy without rendering" option once the suffix is empty. It copies
    a file that does not decode as UTF-8 as it is, and that covers the binary files.
    """
    questions: dict[str, Any] = {
        "_subdirectory": "skeleton",
        "_templates_suffix": "",
        "_envops": {"keep_trailing_newline": True},
    }
    questions.update({key: {"type": "str", "default": value} for key, value in VALUES.items()})
    folder.mkdir(parents=True)
    (folder / "copier.yml").write_text(yaml.safe_dump(questions, sort_keys=False))
    write_skeleton(folder / "skeleton", COPIER, workload)


def build_workload(root: Path, *, blocks: bool) -> Workload:
    workload = Workload(
        root=root,
        ours=root / "ours",
        cookiecutter=root / "cookiecutter",
        copier=root / "copier",
        blocks=blocks,
    )
    write_ours(workload.ours, workload)
    write_cookiecutter(workload.cookiecutter, workload)
    write_copier(workload.copier, workload)
    return workload


# Timing helpers ------------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall-clock samples of one measurement, in seconds."""

    name: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def minimum(self) -> float:
        return min(self.samples)

    def as_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "min_s": self.minimum, "samples_s": self.samples}


class Scratch:
    """Source of fresh, empty output folders under one temporary root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def fresh(self, label: str) -> Path:
        self.count += 1
        path = self.root / f"{label}-{self.count:03d}"
        path.mkdir(parents=True)
        return path


@dataclass
class Contender:
    """One measured operation: ``run(setup())`` is timed, ``setup`` and ``check`` are not."""

    key: str
    name: str
    setup: Callable[[], Any]
    run: Callable[[Any], Any]
    check: Callable[[Any], None] | None = None


def measure(contenders: list[Contender], repeats: int) -> dict[str, Timing]:
    """Time every contender once per round, ``repeats`` rounds after one warm-up round.

    Running the contenders in turn, rather than each one's runs in a row, spreads the noise of
    other processes on the machine evenly over them. Outputs are deleted after their check.
    """
    timings = {contender.key: Timing(contender.name) for contender in contenders}
    for attempt in range(repeats + 1):
        for contender in contenders:
            argument = contender.setup()
            started = time.perf_counter()
            outcome = contender.run(argument)
            elapsed = time.perf_counter() - started
            if contender.check is not None:
                contender.check(outcome)
            if isinstance(argument, Path):
                shutil.rmtree(argument, ignore_errors=True)
            if attempt > 0:
                timings[contender.key].samples.append(elapsed)
    return timings


def count_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file() and ".git" not in path.parts)


def expect_files(expected: int) -> Callable[[Path], None]:
    def check(folder: Path) -> None:
        found = count_files(folder)
        if found != expected:
            raise SystemExit(f"render produced {found} files in {folder}, expected {expected}")

    return check


# 1. Render only ------------------------------------------------------------------------------


def clear_render_caches() -> list[str]:
    """Empty scaffolder's caches of environments, parsed and compiled templates.

    A ``scaffold new`` process starts with empty caches, and every measured round renders the
    same files as the warm-up round, so the caches are cleared before each scaffolder render.
    Returns the names of the cleared functions.
    """
    from scaffolder import skeleton, templating

    cleared: list[str] = []
    for module in (templating, skeleton):
        for name, value in vars(module).items():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
                cleared.append(f"{module.__name__}.{name}")
    return cleared


def run_ours_full(workload: Workload, workspace: Path) -> Path:
    """Load the template and run its ``fetch:template`` step with the runner."""
    from scaffolder.runner import Runner, TaskSpec
    from scaffolder.templates import load_template

    clear_render_caches()
    template = load_template(str(workload.ours))
    spec = TaskSpec(
        template=template.document, parameters=dict(VALUES), template_dir=template.directory
    )
    result = Runner().run(spec, task_id="bench", workspace=workspace)
    if result.status != "completed":
        raise SystemExit(f"scaffolder run failed: {result.error}")
    return workspace


def run_ours_skeleton(workload: Workload, target: Path) -> Path:
    """Call the skeleton renderer directly, without template loading or input validation."""
    from scaffolder.skeleton import SkeletonOptions, render_skeleton

    clear_render_caches()
    render_skeleton(workload.ours / "skeleton", target, SkeletonOptions(values=dict(VALUES)))
    return target


def copy_skeleton(workload: Workload, output: Path) -> Path:
    shutil.copytree(workload.ours / "skeleton", output)
    return output


def cookiecutter_config(scratch: Scratch) -> Path:
    """Write a cookiecutter config that keeps replay files out of the home folder."""
    folder = scratch.fresh("cookiecutter-config")
    config = folder / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"cookiecutters_dir": str(folder / "templates"), "replay_dir": str(folder / "replay")}
        )
    )
    return config


def run_cookiecutter(workload: Workload, output: Path, config: Path) -> Path:
    from cookiecutter.main import cookiecutter

    generated = cookiecutter(
        str(workload.cookiecutter), no_input=True, output_dir=str(output),
        config_file=str(config),
    )
    return Path(generated)


def run_copier(workload: Workload, output: Path) -> Path:
    import copier

    copier.run_copy(
        str(workload.copier), output, data=dict(VALUES), defaults=True, unsafe=True, quiet=True,
    )
    return output


def check_equivalent(workload: Workload, scratch: Scratch) -> dict[str, Any]:
    """Render once with each engine and compare the outputs file by file."""
    ours = run_ours_skeleton(workload, scratch.fresh("equal-ours"))
    cookie = run_cookiecutter(
        workload, scratch.fresh("equal-cookiecutter"), cookiecutter_config(scratch)
    )
    cop = run_copier(workload, scratch.fresh("equal-copier"))
    trees = {"cookiecutter": cookie, "copier": cop}
    reference = {p.relative_to(ours): p.read_bytes() for p in ours.rglob("*") if p.is_file()}
    report: dict[str, Any] = {"files": len(reference)}
    for engine, tree in trees.items():
        other = {p.relative_to(tree): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
        report[engine] = {
            "same_names": sorted(map(str, other)) == sorted(map(str, reference)),
            "different_contents": sum(
                1 for path, data in reference.items() if other.get(path) != data
            ),
        }
    return report


def render_only(workload: Workload, scratch: Scratch, repeats: int) -> dict[str, Timing]:
    files = expect_files(workload.files)
    config = cookiecutter_config(scratch)
    return measure(
        [
            Contender(
                "ours_full", "scaffolder: load_template + Runner.run (fetch:template)",
                lambda: scratch.fresh("ours-full"),
                lambda path: run_ours_full(workload, path), files,
            ),
            Contender(
                "ours_skeleton", "scaffolder: render_skeleton only",
                lambda: scratch.fresh("ours-skeleton"),
                lambda path: run_ours_skeleton(workload, path), files,
            ),
            Contender(
                "copytree", "shutil.copytree (no rendering: the file-writing floor)",
                lambda: scratch.fresh("copytree"),
                lambda path: copy_skeleton(workload, path / "out"), files,
            ),
            Contender(
                "cookiecutter", "cookiecutter.main.cookiecutter",
                lambda: scratch.fresh("cookiecutter"),
                lambda path: run_cookiecutter(workload, path, config), files,
            ),
            Contender(
                "copier", "copier.run_copy",
                lambda: scratch.fresh("copier"),
                lambda path: run_copier(workload, path / "out"), files,
            ),
        ],
        repeats,
    )


# 2. Render and commit ------------------------------------------------------------------------


def git_env(home: Path) -> dict[str, str]:
    """Return an environment with a throwaway home and identity, so no user config applies."""
    env = dict(os.environ)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@localhost",
        }
    )
    return env


def scaffold_new_command(workload: Workload, output: Path, state_dir: Path) -> list[str]:
    command = [str(SCAFFOLD), "new", "--template", str(workload.ours), "--no-input"]
    for key, value in VALUES.items():
        command += ["--set", f"{key}={value}"]
    return [*command, "--output", str(output), "--state-dir", str(state_dir)]


def cp_git_command(workload: Workload, output: Path) -> list[str]:
    script = (
        'cp -r "$1" "$2" && cd "$2" && git init -q -b main && git add -A '
        '&& git -c commit.gpgsign=false commit -q -m "Initial commit"'
    )
    return ["sh", "-c", script, "sh", str(workload.ours / "skeleton"), str(output)]


def run_checked(command: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(
            f"{' '.join(command[:3])}... exited with {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}"
        )


def expect_commit(expected_files: int, env: dict[str, str]) -> Callable[[Path], None]:
    files = expect_files(expected_files)

    def check(folder: Path) -> None:
        files(folder)
        listed = subprocess.run(
            ["git", "-C", str(folder), "ls-files"], env=env, capture_output=True, text=True,
            check=True,
        ).stdout.splitlines()
        if len(listed) != expected_files:
            raise SystemExit(f"{folder} commits {len(listed)} files, expected {expected_files}")

    return check


def render_and_commit(
    workloads: dict[str, Workload], scratch: Scratch, repeats: int
) -> dict[str, Timing]:
    """Time ``scaffold new`` on each workload against ``cp -r`` and git on the first one."""
    env = git_env(scratch.fresh("home"))
    state_dir = scratch.fresh("state")
    first = next(iter(workloads.values()))
    check = expect_commit(first.files, env)

    def scaffold_new(workload: Workload, output: Path) -> Path:
        run_checked(scaffold_new_command(workload, output, state_dir), env)
        return output

    def cp_git(output: Path) -> Path:
        run_checked(cp_git_command(first, output), env)
        return output

    contenders = [
        Contender(
            "scaffold_new" if index == 0 else f"scaffold_new_{variant}",
            f"[{variant}] scaffold new (render + git commit)",
            lambda: scratch.fresh("new"),
            functools.partial(lambda workload, path: scaffold_new(workload, path / "out"),
                              workload),
            check,
        )
        for index, (variant, workload) in enumerate(workloads.items())
    ]
    contenders.append(
        Contender(
            "cp_git", "cp -r + git init/add/commit",
            lambda: scratch.fresh("cp"), lambda path: cp_git(path / "out"), check,
        )
    )
    return measure(contenders, repeats)


# 3. Peak memory ------------------------------------------------------------------------------

_MAXRSS_WRAPPER = """\
import resource, subprocess, sys
completed = subprocess.run(sys.argv[1:], capture_output=True)
if completed.returncode != 0:
    sys.stderr.buffer.write(completed.stderr)
    sys.exit(completed.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def max_rss_mib(command: list[str], env: dict[str, str]) -> float:
    """Run ``command`` under a new wrapper and return the max RSS of its process tree in MiB.

    ``RUSAGE_CHILDREN`` covers every waited-for process under the wrapper, so the figure is
    the largest of the command and the processes it starts, such as git (Linux reports KiB).
    """
    wrapped = [sys.executable, "-c", _MAXRSS_WRAPPER, *command]
    completed = subprocess.run(wrapped, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{command[0]} failed under the RSS wrapper:\n{completed.stderr}")
    return int(completed.stdout.strip()) / 1024


def peak_memory(
    workloads: dict[str, Workload], scratch: Scratch, repeats: int
) -> dict[str, Any]:
    """Return the max RSS of ``scaffold new`` in MiB, ``repeats`` runs on each workload."""
    env = git_env(scratch.fresh("home"))
    state_dir = scratch.fresh("state")
    by_variant: dict[str, list[float]] = {}
    for variant, workload in workloads.items():
        by_variant[variant] = []
        for _ in range(repeats):
            output = scratch.fresh("rss").joinpath("out")
            command = scaffold_new_command(workload, output, state_dir)
            by_variant[variant].append(max_rss_mib(command, env))
            shutil.rmtree(output.parent, ignore_errors=True)
    samples = [sample for values in by_variant.values() for sample in values]
    return {
        "max_mib": max(samples),
        "median_mib": statistics.median(samples),
        "samples_mib": by_variant,
        "python_pass_mib": max_rss_mib([sys.executable, "-c", "pass"], env),
    }


# 4. Cold start -------------------------------------------------------------------------------


def run_command(command: list[str], _: object) -> None:
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def cold_start(runs: int) -> dict[str, Timing]:
    """Time short commands like hyperfine: warm-up runs, then ``runs`` timed runs of each."""
    python = sys.executable
    commands = {
        "scaffold_version": ("scaffold --version", [str(SCAFFOLD), "--version"]),
        "python_pass": ("python -c pass", [python, "-c", "pass"]),
        "python_import_click": ("python -c 'import click'", [python, "-c", "import click"]),
    }
    contenders = [
        Contender(key, name, lambda: None, functools.partial(run_command, command))
        for key, (name, command) in commands.items()
    ]
    return measure(contenders, runs)


def import_times(module: str = "scaffolder.cli", top: int = 15, runs: int = 5) -> dict[str, Any]:
    """Run ``python -X importtime -c 'import <module>'`` and return the costliest imports.

    Each module appears once, where it is first imported, with a cumulative time that
    includes the modules it imports first, so the times of nested modules overlap and do not
    add up to the total. Each time is the minimum over ``runs`` runs, to reduce the noise of
    other processes.
    """
    fastest: dict[str, int] = {}
    for _ in range(runs):
        completed = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True, text=True, check=True,
        )
        for line in completed.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            _, cumulative_us, name = line.removeprefix("import time:").split("|")
            name = name.strip()
            fastest[name] = min(int(cumulative_us), fastest.get(name, sys.maxsize))
    rows = list(fastest.items())

    total = next((cumulative for name, cumulative in rows if name == module), 0)
    packages = {
        name: cumulative
        for name, cumulative in rows
        if "." not in name and name not in {"scaffolder", "encodings", "site"}
    }
    own = [(name, cumulative) for name, cumulative in rows if name.startswith("scaffolder.")]
    return {
        "module": module,
        "total_ms": total / 1000,
        "other_modules_ms": dict(
            sorted(((k, v / 1000) for k, v in packages.items()), key=lambda kv: -kv[1])[:top]
        ),
        "scaffolder_modules_ms": dict(
            sorted(((k, v / 1000) for k, v in own), key=lambda kv: -kv[1])[:top]
        ),
    }


# Profile -------------------------------------------------------------------------------------


def profile_ours(workload: Workload, scratch: Scratch, top: int = 25) -> str:
    """Profile one full scaffolder render (after a warm-up) and return the top functions."""
    run_ours_full(workload, scratch.fresh("profile-warmup"))
    profiler = cProfile.Profile()
    target = scratch.fresh("profile")
    profiler.enable()
    run_ours_full(workload, target)
    profiler.disable()
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buffer.getvalue()


# Report --------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    git_version = subprocess.run(
        ["git", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    # The working tree may hold uncommitted changes on top of this commit.
    commit = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()
    return {
        "commit": commit or "unknown",
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git": git_version,
        "versions": package_versions(),
        "load_average_start": os.getloadavg(),
    }


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str] = {}
    for name in ("scaffolder", "cookiecutter", "copier", "jinja2", "click", "gitpython"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass
class Check:
    """One target: the measured value, its limit and whether it passed.

    ``unit`` is ``x faster`` (the value must reach the limit), ``x`` (a ratio that must stay
    at or below the limit) or a unit of memory (the value must stay below the limit).
    """

    name: str
    value: float
    best: float
    limit: float
    unit: str

    @property
    def passed(self) -> bool:
        if self.unit == "x faster":
            return self.value >= self.limit
        if self.unit == "x":
            return self.value <= self.limit
        return self.value < self.limit

    def row(self) -> tuple[str, str, str, str, str]:
        result = "pass" if self.passed else "FAIL"
        if self.unit == "x faster":
            return (self.name, f"{self.value:.1f}x", f"{self.best:.1f}x", f">= {self.limit:g}x",
                    result)
        if self.unit == "x":
            return (self.name, f"{self.value:.2f}x", f"{self.best:.2f}x", f"<= {self.limit:g}x",
                    result)
        return (self.name, f"{self.value:.1f} {self.unit}", f"{self.best:.1f} {self.unit}",
                f"< {self.limit:g} {self.unit}", result)


def build_checks(results: dict[str, Any]) -> list[Check]:
    """Compare the results with TARGETS. Render targets use the placeholders workload.

    ``value`` is the ratio of medians (or the max RSS) and is judged against the limit.
    ``best`` is the ratio of minimums (or the median RSS), shown for context.
    """
    render = results["render_only"]["placeholders"]
    commit = results["render_and_commit"]
    cold = results["cold_start"]
    memory = results["peak_memory"]

    def ratio(numerator: dict[str, Any], denominator: dict[str, Any]) -> tuple[float, float]:
        return (numerator["median_s"] / denominator["median_s"],
                numerator["min_s"] / denominator["min_s"])

    return [
        Check("cookiecutter / scaffolder, render only",
              *ratio(render["cookiecutter"], render["ours_full"]),
              limit=TARGETS["cookiecutter_over_ours"], unit="x faster"),
        Check("copier / scaffolder, render only",
              *ratio(render["copier"], render["ours_full"]),
              limit=TARGETS["copier_over_ours"], unit="x faster"),
        Check("scaffold new / cp + git",
              *ratio(commit["scaffold_new"], commit["cp_git"]),
              limit=TARGETS["scaffold_new_over_cp_git"], unit="x"),
        Check("scaffold new peak RSS", memory["max_mib"], memory["median_mib"],
              limit=TARGETS["scaffold_new_peak_rss_mb"], unit="MiB"),
        Check("scaffold --version / python -c pass",
              *ratio(cold["scaffold_version"], cold["python_pass"]),
              limit=TARGETS["version_over_python"], unit="x"),
    ]


def group_rows(
    timings: dict[str, Any], base_key: str, label: str, prefix: str = ""
) -> list[tuple[str, str, str, str]]:
    """Return (measurement, median, min, ratio) rows, each median divided by the base's."""
    base = timings[base_key]["median_s"]
    return [
        (prefix + timing["name"], f"{timing['median_s']:.3f}", f"{timing['min_s']:.3f}",
         f"{timing['median_s'] / base:.2f}x {label}")
        for timing in timings.values()
    ]


def timing_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for variant, timings in results["render_only"].items():
        rows += group_rows(timings, "ours_full", "scaffolder full", prefix=f"[{variant}] ")
    rows += group_rows(results["render_and_commit"], "cp_git", "cp + git")
    rows += group_rows(results["cold_start"], "python_pass", "python -c pass")
    return rows


def text_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    columns = zip(headers, *rows, strict=False)
    widths = [max(len(cell) for cell in column) for column in columns]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def markdown_table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def describe_machine(info: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    start = ", ".join(f"{load:.2f}" for load in info["load_average_start"])
    end = ", ".join(f"{load:.2f}" for load in info["load_average_end"])
    return (f"scaffolder at commit {info['commit']} (working tree), "
            f"{info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, {info['git']}, "
            f"{info['platform']}; {versions}; load average {start} at the start and {end} "
            "at the end")


def describe_workload(workload: dict[str, Any]) -> str:
    return (
        f"{workload['files']} files ({workload['text_files']} text files of about "
        f"{workload['text_bytes'] // max(workload['text_files'], 1)} bytes with 5 placeholders "
        f"each, {workload['templated_names']} templated file names, {workload['binary_files']} "
        f"binary files of {BINARY_SIZE // 1024} KiB) in {workload['folders']} folders"
    )


WORKLOAD_NOTE = (
    "The `placeholders` workload has only `${{ values.x }}` placeholders, which scaffolder "
    "substitutes without Jinja when it can; the `blocks` workload adds one `{% if %}` block "
    "to every text file, so every engine renders every text file with Jinja."
)
TIMING_HEADERS = ("measurement", "median s", "min s", "ratio (median)")
CHECK_HEADERS = ("target", "measured", "best", "limit", "result")
CHECK_NOTE = (
    "measured: ratio of the medians (peak RSS: the max over the runs), judged against the "
    "limit; best: ratio of the minimums (peak RSS: the median), for context"
)


def print_report(results: dict[str, Any], checks: list[Check]) -> None:
    print(f"machine: {describe_machine(results['machine'])}")
    print(f"workload: {describe_workload(results['workload'])}")
    print(WORKLOAD_NOTE)
    print(f"repeats: {results['repeats']} (median and min), cold start: {COLD_START_RUNS} runs")
    print()
    print(text_table(TIMING_HEADERS, timing_rows(results)))
    memory = results["peak_memory"]
    print(f"\nscaffold new peak RSS: max {memory['max_mib']:.1f} MiB, median "
          f"{memory['median_mib']:.1f} MiB (python -c pass: {memory['python_pass_mib']:.1f} MiB)")
    print()
    print(text_table(CHECK_HEADERS, [check.row() for check in checks]))
    print(CHECK_NOTE)
    imports = results["import_time"]
    print(f"\nimport scaffolder.cli: {imports['total_ms']:.0f} ms cumulative (-X importtime)")
    print("modules outside scaffolder (ms, cumulative where first imported):")
    for name, value in imports["other_modules_ms"].items():
        print(f"  {name:<26} {value:8.1f}")
    print("scaffolder modules (ms, cumulative):")
    for name, value in imports["scaffolder_modules_ms"].items():
        print(f"  {name:<36} {value:8.1f}")
    for variant, equivalence in results["equivalence"].items():
        print(f"\n[{variant}] outputs compared with scaffolder's {equivalence['files']} files: "
              + ", ".join(f"{engine}: same names {info['same_names']}, "
                          f"{info['different_contents']} files differ"
                          for engine, info in equivalence.items() if engine != "files"))


def markdown_report(results: dict[str, Any], checks: list[Check]) -> str:
    memory = results["peak_memory"]
    imports = results["import_time"]
    costliest = list(imports["other_modules_ms"].items())[:8]
    parts = [
        "## Rendering",
        "",
        "Command, from the repository root:",
        "",
        "```",
        "python benchmarks/render_bench.py",
        "```",
        "",
        f"Machine: {describe_machine(results['machine'])}.",
        "",
        f"Workload: {describe_workload(results['workload'])}, generated the same way on every "
        f"run and written once per engine. {WORKLOAD_NOTE} Every measurement runs one "
        f"untimed round, then {results['repeats']} rounds ({COLD_START_RUNS} for cold start) "
        "in which the contenders take turns.",
        "",
        markdown_table(TIMING_HEADERS, timing_rows(results)),
        "",
        f"Peak RSS of `scaffold new`: max {memory['max_mib']:.1f} MiB, median "
        f"{memory['median_mib']:.1f} MiB over {results['repeats']} runs on each workload "
        f"(`python -c pass`: {memory['python_pass_mib']:.1f} MiB).",
        "",
        markdown_table(CHECK_HEADERS, [check.row() for check in checks]),
        "",
        CHECK_NOTE[0].upper() + CHECK_NOTE[1:] + ".",
        "",
        f"`import scaffolder.cli` takes {imports['total_ms']:.0f} ms (`python -X importtime`). "
        "Costliest modules outside scaffolder: "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in costliest) + ".",
    ]
    return "\n".join(parts) + "\n"


def use_bytecode_cache(root: Path) -> dict[str, str | None]:
    """Let child interpreters cache bytecode under ``root``, as an installed tool would.

    With ``PYTHONDONTWRITEBYTECODE`` set, every ``scaffold`` process would compile the
    project's modules again; a cache prefix keeps the ``.pyc`` files out of the checkout.
    Returns the variables as they were, for the record.
    """
    before = {name: os.environ.get(name) for name in ("PYTHONDONTWRITEBYTECODE",
                                                      "PYTHONPYCACHEPREFIX")}
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    return before


def run_all(root: Path, repeats: int, profile: bool) -> tuple[dict[str, Any], list[Check]]:
    environment_before = use_bytecode_cache(root)
    scratch = Scratch(root / "runs")
    workloads = {
        "placeholders": build_workload(root / "placeholders", blocks=False),
        "blocks": build_workload(root / "blocks", blocks=True),
    }
    main_workload = workloads["placeholders"]
    results: dict[str, Any] = {
        "machine": {**machine(), "environment_before": environment_before},
        "repeats": repeats,
        "cleared_caches": clear_render_caches(),
        "workload": {
            key: value for key, value in asdict(main_workload).items()
            if not isinstance(value, Path)
        },
        "equivalence": {
            variant: check_equivalent(workload, scratch) for variant, workload in workloads.items()
        },
        "render_only": {
            variant: timings_dict(render_only(workload, scratch, repeats))
            for variant, workload in workloads.items()
        },
    }
    results["render_and_commit"] = timings_dict(render_and_commit(workloads, scratch, repeats))
    results["peak_memory"] = peak_memory(workloads, scratch, repeats)
    results["cold_start"] = timings_dict(cold_start(COLD_START_RUNS))
    results["import_time"] = import_times()
    results["machine"]["load_average_end"] = os.getloadavg()
    checks = build_checks(results)
    results["checks"] = [{**asdict(check), "passed": check.passed} for check in checks]
    print_report(results, checks)
    if profile:
        for variant, workload in workloads.items():
            print(f"\ncProfile of one scaffolder render, {variant} workload:\n")
            print(profile_ours(workload, scratch))
    return results, checks


def timings_dict(timings: dict[str, Timing]) -> dict[str, Any]:
    return {key: {"name": timing.name, **timing.as_dict()} for key, timing in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per measurement")
    parser.add_argument("--markdown", type=Path, help="also write a markdown section to FILE")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of one scaffolder render of each workload")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not SCAFFOLD.exists():
        raise SystemExit(f"{SCAFFOLD} not found: install the project into this environment")

    root = Path(tempfile.mkdtemp(prefix="render-bench-"))
    try:
        results, checks = run_all(root, args.repeats, args.profile)
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS_FILE.relative_to(REPO_ROOT)}")
    if args.markdown:
        args.markdown.write_text(markdown_report(results, checks))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
