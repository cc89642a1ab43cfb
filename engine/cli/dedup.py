"""``ouroboros dedup``: near-duplicate clusters (engine.neardup)."""

from __future__ import annotations

import click

from engine.cli.next_steps import shown_out, tell
from engine.cli.options import CONTEXT, call, echo_json, pipeline_options, setup_logging, skipped
from engine.neardup.params import KEEP_POLICIES, SHINGLES


@click.command(context_settings=CONTEXT)
@pipeline_options
@click.option("--shingle", type=click.Choice(SHINGLES), default="word", show_default=True)
@click.option(
    "--ngram",
    type=int,
    default=5,
    show_default=True,
    help="Shingle width in words (word) or characters (char).",
)
@click.option(
    "--num-perm", type=int, default=128, show_default=True, help="MinHash signature length."
)
@click.option(
    "--threshold",
    type=float,
    default=0.8,
    show_default=True,
    help="Jaccard threshold for near-duplicates (also verifies every edge).",
)
@click.option("--bands", type=int, default=None, help="LSH bands (with --rows; else derived).")
@click.option("--rows", type=int, default=None, help="LSH rows per band (with --bands).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--keep",
    type=click.Choice(KEEP_POLICIES),
    default="first",
    show_default=True,
    help="Which member of a cluster to keep: the first in input order, the longest, or "
    "the one with the earliest --date-column value.",
)
@click.option(
    "--date-column",
    default=None,
    help="With --keep earliest: column holding document dates (ISO 8601, epoch seconds, "
    "Parquet timestamps); default 'date', 'warc_date' for WARC input.",
)
@click.option(
    "--write-deduped",
    is_flag=True,
    help="Also write the kept documents, in the input's format, to OUT/deduped/.",
)
@click.option(
    "--write-edges",
    is_flag=True,
    help="Also write OUT/edges.parquet: every verified pair and every rejected candidate "
    "pair (doc_a, doc_b, a, b, similarity, verified) with its estimated Jaccard.",
)
@click.option(
    "--reference",
    default=None,
    type=click.Path(file_okay=False),
    help="Reference index (ouroboros reference build): also write OUT/flags.parquet and "
    "OUT/cluster_flags.parquet, and keep an unflagged member of each cluster where one exists.",
)
def dedup(inputs, out, quiet, report, **options):
    """Cluster near-duplicate documents (MinHash LSH) in INPUT files or folders.

    Writes OUT/clusters.parquet (doc_id, cluster_id, cluster_size, keep, similarity to
    the kept document) and OUT/summary.json; with --write-edges also OUT/edges.parquet;
    with --reference also OUT/flags.parquet and OUT/cluster_flags.parquet.
    """
    setup_logging(quiet)
    from engine.neardup.pipeline import dedup as run_dedup

    result = call(run_dedup, list(inputs), out, progress=not quiet, **options)
    counts = result.summary["counts"]
    line = {
        "documents": counts["documents"],
        "clusters": counts["clusters"],
        "duplicates": counts["duplicates"],
        "skipped": skipped(result.summary),
        "out": shown_out(result.out),
    }
    if "provenance" in result.summary:
        line["flagged"] = result.summary["provenance"]["flagged"]
    if "undated_documents" in counts:
        line["undated"] = counts["undated_documents"]
    echo_json(tell("dedup", result.summary, result.out, line, report=report))
