"""Helpers shared by the click commands (engine/cli.py, engine/cli_provenance.py)."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

import click


def setup_logging(quiet: bool) -> None:
    """Log lines on stderr: INFO and up, or WARNING and up with --quiet."""
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # Dask's own start-up and shutdown chatter is not the user's business; distributed
    # applies this setting when it is first imported (here and in worker processes)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def fail(exc: Exception) -> NoReturn:
    """Turn a user error into click's clean one-line message and exit status 1."""
    raise click.ClickException(str(exc)) from exc
