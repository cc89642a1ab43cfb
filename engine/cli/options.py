"""What the click commands share: option decorators declared once, logging set-up,
error handling and the one-line JSON echo of a finished run."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

CONTEXT = {"help_option_names": ["-h", "--help"]}
USER_ERRORS = (ValueError, RuntimeError, OSError)


def _compose(*options: Callable) -> Callable:
    """One decorator applying ``options`` in the order given (first = first in --help)."""

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def out_option(help: str = "Output folder (rerunning with the same folder resumes).") -> Callable:
    return click.option("--out", required=True, type=click.Path(file_okay=False), help=help)


def id_column_option(
    default: str | None = None,
    help: str = "Column holding document ids (default: <path>:<row>).",
) -> Callable:
    return click.option("--id-column", default=default, show_default=default is not None, help=help)


text_column_option = click.option(
    "--text-column",
    default="text",
    show_default=True,
    help="Column (JSONL key / Parquet column) holding the text.",
)
partition_size_option = click.option(
    "--partition-size",
    default="256MB",
    show_default=True,
    help="Input bytes per partition, e.g. 64MB, 1GB.",
)
strict_option = click.option(
    "--strict", is_flag=True, help="Fail on the first malformed record instead of counting it."
)
backend_option = click.option(
    "--backend",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="cuda without a GPU is an error, never a fallback.",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")

#: --partition-size, --strict, --backend, --quiet: every command that reads inputs.
read_options = _compose(partition_size_option, strict_option, backend_option, quiet_option)

#: --scheduler, --workers: every command that runs partition tasks on Dask.
scheduler_options = _compose(
    click.option(
        "--scheduler",
        default="local",
        show_default=True,
        help="local (LocalCluster of worker processes) | threads (in-process) | local-cuda | "
        "a Dask scheduler ADDRESS or scheduler-file path.",
    ),
    click.option(
        "--workers", type=int, default=None, help="Parallel partition tasks (default: CPU count)."
    ),
)

#: INPUT..., --out, --text-column, --id-column and the read and scheduler options:
#: the pipelines over files (dedup, substr, flag).
pipeline_options = _compose(
    click.argument("inputs", nargs=-1, required=True),
    out_option(),
    text_column_option,
    id_column_option(),
    read_options,
    scheduler_options,
)


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


def call(func: Callable[..., Any], *args, **kwargs) -> Any:
    """``func(*args, **kwargs)``; a user error becomes a one-line message and exit 1."""
    try:
        return func(*args, **kwargs)
    except USER_ERRORS as exc:
        fail(exc)


def echo_json(line: dict) -> None:
    """The one line of JSON a command prints on stdout when it finishes."""
    click.echo(json.dumps(line))


def skipped(summary: dict) -> dict:
    """Skipped records by reason, from a summary's read report."""
    return summary["read"].get("skipped", {})
