"""The ``scaffold`` console script.

``scaffold --version`` is handled before click and the rest of the CLI are imported: click
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

    import click

    from scaffolder.cli import main as cli_main

    # Click's standalone mode turns a Ctrl-C outside a running task (while prompting, or a
    # second Ctrl-C during cleanup) into "Aborted!" and exit 1; the documented code is 130.
    try:
        code = cli_main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
