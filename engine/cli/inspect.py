"""``ouroboros inspect``: look at a finished output in the terminal (engine.inspect)."""

from __future__ import annotations

import json
import os
import shutil
import sys

import click

from engine.cli.options import CONTEXT, call


@click.command(context_settings=CONTEXT)
@click.argument("out", type=click.Path())
@click.option("--top", type=int, default=None, help="Show the N largest clusters / documents.")
@click.option("--cluster", type=int, default=None, help="Show one cluster by id (dedup).")
@click.option("--doc", "doc", default=None, help="Show one document (dedup: its cluster).")
@click.option(
    "--max-members", type=int, default=10, show_default=True, help="Members shown per cluster."
)
@click.option(
    "--max-chars",
    type=int,
    default=2000,
    show_default=True,
    help="Characters shown of each text (longer texts are cut, with a note).",
)
@click.option("--width", type=int, default=None, help="Line width (default: the terminal's).")
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the marks (default: on a terminal, unless NO_COLOR is set); without "
    "colour, [-deleted-], [+inserted+] and [*evidence*] mark them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the view as JSON instead.")
def inspect(out, top, cluster, doc, max_members, max_chars, width, color, as_json):
    """Show what the run in OUT found, documents read back from its inputs.

    dedup: the largest clusters (--top N, default 5), one cluster (--cluster ID) or the
    cluster of a document (--doc DOC_ID), each member beside a word diff against the
    kept document, with its estimated Jaccard to it. flag: flagged documents with
    their evidence highlighted beside the reference text. substr: documents with the
    ranges to remove marked and where their kept copy is. Run it from the folder the
    run was started in (relative input paths are resolved from there). OUT may be the
    URL of a remote --out (read from its local staging folder, or downloaded).
    """
    from engine.inspect import inspect_output, render
    from engine.run.remote_out import local_copy

    view = call(
        inspect_output,
        call(local_copy, out),
        top=top,
        cluster=cluster,
        doc=doc,
        max_members=max_members,
        max_chars=max_chars,
    )
    if as_json:
        click.echo(json.dumps(view, indent=1, ensure_ascii=False))
        return
    if color is None:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    if width is None:
        width = shutil.get_terminal_size((100, 24)).columns
    click.echo(render(view, color=color, width=max(20, width)), nl=False, color=color)
