"""``python -m scaffolder``: the ``scaffold`` command."""

from scaffolder.cli import main

main()
