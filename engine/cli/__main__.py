"""``python -m engine.cli``: the ``ouroboros`` command."""

from engine.cli.main import main

main()
