"""``ouroboros substr``: exact repeated substrings (engine.substrings)."""

from __future__ import annotations

import click

from engine.cli.next_steps import shown_out, tell
from engine.cli.options import CONTEXT, call, echo_json, pipeline_options, setup_logging, skipped


@click.command(context_settings=CONTEXT)
@pipeline_options
@click.option(
    "--min-span",
    type=int,
    default=100,
    show_default=True,
    help="Shortest repeated substring to remove, in bytes.",
)
@click.option(
    "--keep",
    type=click.Choice(["first", "none"]),
    default="first",
    show_default=True,
    help="first: keep the first occurrence, mark later copies; none: mark every copy.",
)
@click.option(
    "--shard-size",
    default="256MB",
    show_default=True,
    help="Text bytes one suffix array may hold; results are exact over the whole corpus.",
)
@click.option(
    "--write-deduped",
    is_flag=True,
    help="Also write OUT/deduped/: the input's own format and compression, every column "
    "kept, the text with every span cut out; documents left empty are dropped (counted).",
)
def substr(inputs, out, quiet, report, **options):
    """Find exact repeated substrings (suffix arrays) in INPUT files or folders.

    Writes OUT/spans.parquet (doc_id, start, end, source_doc_id, source_start: UTF-8
    byte ranges to remove, end exclusive) and OUT/summary.json.
    """
    setup_logging(quiet)
    from engine.substrings.pipeline import substr as run_substr

    result = call(run_substr, list(inputs), out, progress=not quiet, **options)
    counts = result.summary["counts"]
    line = {
        "documents": counts["documents"],
        "spans": counts["spans"],
        "bytes_marked": counts["bytes_marked"],
        "skipped": skipped(result.summary),
        "out": shown_out(result.out),
    }
    echo_json(tell("substr", result.summary, result.out, line, report=report))
