"""The ``ouroboros`` command group: one command module per pipeline (see README.md)."""

from __future__ import annotations

import click

from engine.cli.dedup import dedup
from engine.cli.inspect import inspect
from engine.cli.options import CONTEXT
from engine.cli.provenance import flag, reference
from engine.cli.report import report
from engine.cli.run import run
from engine.cli.substr import substr
from engine.run.scheduling import allow_worker_processes


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="ouroboros-dedup")
def main() -> None:
    """Ouroboros: near-duplicate documents, repeated substrings and model-output provenance."""
    # the command's __main__ is guarded: --scheduler auto may start worker processes
    allow_worker_processes()


main.add_command(dedup, name="dedup")
main.add_command(substr, name="substr")
main.add_command(reference, name="reference")
main.add_command(flag, name="flag")
main.add_command(inspect, name="inspect")
main.add_command(run, name="run")
main.add_command(report, name="report")
