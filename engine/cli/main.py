"""The ``ouroboros`` command group: one command module per pipeline (see README.md)."""

from __future__ import annotations

import click

from engine.cli.dedup import dedup
from engine.cli.options import CONTEXT
from engine.cli.provenance import flag, reference
from engine.cli.substr import substr


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="ouroboros-dedup")
def main() -> None:
    """Ouroboros: near-duplicate documents, repeated substrings and model-output provenance."""


main.add_command(dedup, name="dedup")
main.add_command(substr, name="substr")
main.add_command(reference, name="reference")
main.add_command(flag, name="flag")
