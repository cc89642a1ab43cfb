"""The ``ouroboros`` command line: one module per command group (see README.md)."""

from engine.cli.main import main

__all__ = ["main"]
