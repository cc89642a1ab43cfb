"""The ``ouroboros`` command line (see README.md for every option)."""

from __future__ import annotations

import json

import click

from engine.cli.options import fail, setup_logging
from engine.cli.provenance import flag as flag_command
from engine.cli.provenance import reference as reference_group
from engine.neardup.params import KEEP_POLICIES, SHINGLES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ouroboros-dedup")
def main() -> None:
    """Ouroboros: near-duplicate documents, repeated substrings and model-output provenance."""


def common_input_options(func):
    options = [
        click.option(
            "--out",
            "out",
            required=True,
            type=click.Path(file_okay=False),
            help="Output folder (rerunning with the same folder resumes).",
        ),
        click.option(
            "--text-column",
            default="text",
            show_default=True,
            help="Column (JSONL key / Parquet column) holding the text.",
        ),
        click.option(
            "--id-column", default=None, help="Column holding document ids (default: <path>:<row>)."
        ),
        click.option(
            "--backend",
            type=click.Choice(["auto", "cpu", "cuda"]),
            default="auto",
            show_default=True,
            help="cuda without a GPU is an error, never a fallback.",
        ),
        click.option(
            "--scheduler",
            default="local",
            show_default=True,
            help="local (LocalCluster of worker processes) | threads (in-process) | local-cuda | "
            "a Dask scheduler ADDRESS or scheduler-file path.",
        ),
        click.option(
            "--workers",
            type=int,
            default=None,
            help="Parallel partition tasks (default: CPU count).",
        ),
        click.option(
            "--partition-size",
            default="256MB",
            show_default=True,
            help="Input bytes per partition, e.g. 64MB, 1GB.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Fail on the first malformed record instead of counting it.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@common_input_options
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
    "--reference",
    default=None,
    type=click.Path(file_okay=False),
    help="Reference index (ouroboros reference build): also write OUT/flags.parquet and "
    "OUT/cluster_flags.parquet, and keep an unflagged member of each cluster where one exists.",
)
def dedup(
    inputs,
    out,
    text_column,
    id_column,
    backend,
    scheduler,
    workers,
    partition_size,
    strict,
    quiet,
    shingle,
    ngram,
    num_perm,
    threshold,
    bands,
    rows,
    seed,
    keep,
    date_column,
    write_deduped,
    reference,
):
    """Cluster near-duplicate documents (MinHash LSH) in INPUT files or folders.

    Writes OUT/clusters.parquet (doc_id, cluster_id, cluster_size, keep) and
    OUT/summary.json; with --reference also OUT/flags.parquet and
    OUT/cluster_flags.parquet.
    """
    setup_logging(quiet)
    from engine.neardup.pipeline import dedup as run_dedup

    try:
        result = run_dedup(
            list(inputs),
            out,
            text_column=text_column,
            id_column=id_column,
            backend=backend,
            scheduler=scheduler,
            workers=workers,
            partition_size=partition_size,
            write_deduped=write_deduped,
            strict=strict,
            progress=not quiet,
            shingle=shingle,
            ngram=ngram,
            num_perm=num_perm,
            threshold=threshold,
            bands=bands,
            rows=rows,
            seed=seed,
            keep=keep,
            reference=reference,
            date_column=date_column,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        fail(exc)
    counts = result.summary["counts"]
    line = {
        "documents": counts["documents"],
        "clusters": counts["clusters"],
        "duplicates": counts["duplicates"],
        "skipped": result.summary["read"].get("skipped", {}),
        "out": str(result.out),
    }
    if "provenance" in result.summary:
        line["flagged"] = result.summary["provenance"]["flagged"]
    if "undated_documents" in counts:
        line["undated"] = counts["undated_documents"]
    click.echo(json.dumps(line))


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@common_input_options
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
    help="Also write OUT/deduped/*.parquet: doc_id and the text with every span cut out.",
)
def substr(
    inputs,
    out,
    text_column,
    id_column,
    backend,
    scheduler,
    workers,
    partition_size,
    strict,
    quiet,
    min_span,
    keep,
    shard_size,
    write_deduped,
):
    """Find exact repeated substrings (suffix arrays) in INPUT files or folders.

    Writes OUT/spans.parquet (doc_id, start, end, source_doc_id, source_start: UTF-8
    byte ranges to remove, end exclusive) and OUT/summary.json.
    """
    setup_logging(quiet)
    from engine.substrings.pipeline import substr as run_substr

    try:
        result = run_substr(
            list(inputs),
            out,
            min_span=min_span,
            keep=keep,
            shard_size=shard_size,
            text_column=text_column,
            id_column=id_column,
            backend=backend,
            scheduler=scheduler,
            workers=workers,
            partition_size=partition_size,
            write_deduped=write_deduped,
            strict=strict,
            progress=not quiet,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        fail(exc)
    counts = result.summary["counts"]
    click.echo(
        json.dumps(
            {
                "documents": counts["documents"],
                "spans": counts["spans"],
                "bytes_marked": counts["bytes_marked"],
                "skipped": result.summary["read"].get("skipped", {}),
                "out": str(result.out),
            }
        )
    )


main.add_command(reference_group, name="reference")
main.add_command(flag_command, name="flag")


if __name__ == "__main__":  # pragma: no cover
    main()
