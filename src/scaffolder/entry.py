"""The ``scaffold`` console script.

``scaffold --version`` is answered before click and the rest of the CLI are imported: click
alone takes about four times as long to import as the interpreter takes to start, and version
checks run in every CI job that installs the tool. Every other invocation goes to
:func:`scaffolder.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from scaffolder import __version__

        sys.stdout.write(f"scaffold, version {__version__}\n")
        return

    from scaffolder.cli import main as cli_main

    cli_main()
