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

from engine.run.storage import STORAGE_OPTIONS_ENV, StorageError, parse_storage_options

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
    default="auto",
    show_default=True,
    help="Input bytes per partition, e.g. 64MB, 1GB; auto: at least two partitions per "
    "worker, 16-256 MiB each.",
)
strict_option = click.option(
    "--strict", is_flag=True, help="Fail on the first malformed record instead of counting it."
)
html_text_option = click.option(
    "--html-text",
    type=click.Choice(["main", "full"]),  # engine.io.options.HTML_TEXT_MODES
    default="main",
    show_default=True,
    help="WARC HTML pages as their main content (navigation, headers, footers and other "
    "boilerplate removed, as crawl pipelines do) or full (all visible text).",
)
backend_option = click.option(
    "--backend",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="cuda without a GPU is an error, never a fallback.",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")


def _set_storage_options(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--storage-options``: checked, then set as ``OUROBOROS_STORAGE_OPTIONS`` for this
    run (read where inputs are planned and a remote --out is uploaded; local worker
    processes inherit it)."""
    if value is None:
        return
    try:
        parse_storage_options(value, "--storage-options")
    except StorageError as err:
        raise click.BadParameter(str(err)) from None
    os.environ[STORAGE_OPTIONS_ENV] = value


storage_options_option = click.option(
    "--storage-options",
    metavar="JSON",
    default=None,
    expose_value=False,
    callback=_set_storage_options,
    help="fsspec options for s3:// gs:// hf:// https:// inputs and --out: a JSON object "
    '(\'{"endpoint_url": "http://host:9000"}\') or one per protocol (\'{"s3": {...}}\'). '
    f"Default: ${STORAGE_OPTIONS_ENV}, then the filesystem's own environment (AWS_*, ...).",
)


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--config FILE``: the file's keys (this command's flag names, dashes or
    underscores) become the command's defaults, so flags given on the command line win.
    Unknown keys are an error naming them."""
    if value is None:
        return
    from engine.chain.files import load_config_file, normalize_keys

    try:
        values = normalize_keys(load_config_file(value), value)
    except (ValueError, OSError) as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None
    known = {p.name for p in ctx.command.params if p.name and p is not param}
    unknown = sorted(set(values) - known)
    if unknown:
        raise click.BadParameter(
            f"{value}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"this command takes {', '.join(sorted(known))}",
            ctx=ctx,
            param=param,
        )
    ctx.default_map = {**(ctx.default_map or {}), **values}


config_option = click.option(
    "--config",
    type=click.Path(dir_okay=False),
    default=None,
    is_eager=True,
    expose_value=False,
    callback=_load_config,
    help="YAML or TOML file whose keys are this command's flags (dashes or underscores; "
    "INPUT as 'inputs'); flags given on the command line win.",
)

#: --partition-size, --strict, --storage-options, --backend, --quiet, --config: every
#: command that reads inputs.
read_options = _compose(
    partition_size_option,
    strict_option,
    storage_options_option,
    backend_option,
    quiet_option,
    config_option,
)

#: --scheduler, --workers: every command that runs partition tasks on Dask.
scheduler_options = _compose(
    click.option(
        "--scheduler",
        default="auto",
        show_default=True,
        help="auto (threads in this process; a local cluster of worker processes from "
        "4 GiB of input, or 256 MiB of WARC/WET) | threads | local (LocalCluster of "
        "worker processes) | "
        "local-cuda | a Dask scheduler ADDRESS or scheduler-file path.",
    ),
    click.option(
        "--workers",
        type=int,
        default=None,
        help="Parallel partition tasks (default: the CPUs available).",
    ),
)

max_skipped_option = click.option(
    "--max-skipped",
    default="10%",
    show_default=True,
    help="Fail when more than this share of records is skipped as damaged (malformed, "
    "missing text, corrupt data), e.g. 1%, 0.05, 100% to never fail.",
)
clean_work_option = click.option(
    "--clean-work",
    is_flag=True,
    help="Remove OUT/_work after a successful run (its size is in summary.json; a rerun "
    "then starts from the inputs instead of reusing stages).",
)

report_option = click.option(
    "--report",
    is_flag=True,
    help="Also write OUT/report.html (as `ouroboros report OUT`): charts, largest "
    "clusters with diffs, evidence; opens from disk with no network.",
)

#: INPUT..., --out, --text-column, --id-column, --html-text, the read and scheduler
#: options, --max-skipped, --clean-work and --report: the pipelines over files (dedup,
#: substr, flag).
pipeline_options = _compose(
    click.argument("inputs", nargs=-1, required=True),
    out_option(),
    text_column_option,
    id_column_option(),
    html_text_option,
    read_options,
    scheduler_options,
    max_skipped_option,
    clean_work_option,
    report_option,
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
