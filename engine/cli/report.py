"""``ouroboros report``: one self-contained ``OUT/report.html`` (engine.report)."""

from __future__ import annotations

import os

import click

from engine.cli.options import CONTEXT, call, echo_json


@click.command(context_settings=CONTEXT)
@click.argument("out")
@click.option(
    "--input-root",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Folder the run was started in: its relative input paths are read from there "
    "(for diffs, spans and evidence). Default: the current folder.",
)
@click.option(
    "--open-path-only",
    is_flag=True,
    help="Print only the report's path (e.g. for `xdg-open $(ouroboros report OUT "
    "--open-path-only)`) instead of a line of JSON.",
)
def report(out, input_root, open_path_only):
    """Write OUT/report.html for the output folder OUT of a dedup, substr or flag run.

    The page opens from disk with no network (plotly.js, styles and data inline) and
    stays a few MB whatever the run's size.
    """
    from engine.report import write_report
    from engine.run.remote_out import local_copy

    path = call(write_report, call(local_copy, out), input_root=input_root)
    if open_path_only:
        click.echo(str(path))
        return
    echo_json({"report": str(path), "bytes": os.path.getsize(path)})
