"""``python -m scaffolder``: the ``scaffold`` command."""

from scaffolder.entry import main

main()
