"""``ouroboros reference build|add|add-human`` and ``ouroboros flag`` (engine.provenance)."""

from __future__ import annotations

import click

from engine.cli.next_steps import shown_out, tell
from engine.cli.options import (
    CONTEXT,
    call,
    echo_json,
    id_column_option,
    out_option,
    partition_size_option,
    pipeline_options,
    quiet_option,
    read_options,
    setup_logging,
    skipped,
    strict_option,
    text_column_option,
)

REFERENCE_ID = id_column_option(
    default="id",
    help="Column holding reference ids (repeated ids: the first is kept, the rest counted).",
)
MODEL_COLUMN = click.option(
    "--model-column", default=None, help="Column naming the model (default: 'model' when present)."
)
INDEX_COUNTS = {
    "references": "n_refs",
    "added": "added",
    "duplicate_ids": "duplicate_ids",
    "empty_texts": "empty_texts",
    "duplicate_texts": "duplicate_texts",
}


def _echo_index(summary: dict, out: str, fields: dict[str, str] = INDEX_COUNTS) -> None:
    """One JSON line: ``fields`` (output name -> counts key), read skips, size, folder."""
    counts = summary["counts"]
    line = {name: counts[key] for name, key in fields.items()}
    line.update(skipped=skipped(summary), index_bytes=counts["index_bytes"], out=out)
    echo_json(line)


@click.group(context_settings=CONTEXT)
def reference() -> None:
    """Build or extend a reference index of known model outputs."""


@reference.command("build")
@click.argument("inputs", nargs=-1, required=True)
@out_option(help="Index folder.")
@REFERENCE_ID
@text_column_option
@MODEL_COLUMN
@read_options
@click.option("--anchor-bytes", type=int, default=32, show_default=True)
@click.option("--anchor-window", type=int, default=32, show_default=True)
@click.option("--num-perm", type=int, default=64, show_default=True)
@click.option("--ngram", type=int, default=5, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--family-containment",
    type=float,
    default=0.5,
    show_default=True,
    help="References sharing this share of the smaller one's anchors form one family.",
)
@click.option(
    "--family-min-shared",
    type=int,
    default=32,
    show_default=True,
    help="... or this many anchors (about 16 bytes each) in common; 8 for multi-turn "
    "chat logs without a conversation column.",
)
@click.option(
    "--human",
    multiple=True,
    type=click.Path(exists=True),
    help="Known human-written text (repeatable): text references share with it is "
    "not evidence. Also: `reference add-human`.",
)
def build(inputs, out, quiet, human, **options):
    """Index model outputs (JSONL/Parquet with id, text, optional model, dataset, date,
    conversation, prompt).

    Give chat logs their conversation ids (outputs of one chat are one family) and
    prompts (kept as known human text). Writes the index to OUT (see
    engine/provenance/reference.py) and OUT/summary.json.
    """
    setup_logging(quiet)
    from engine.provenance import build_reference

    _, summary = call(build_reference, list(inputs), out, human=list(human), **options)
    _echo_index(summary, out)


@reference.command("add")
@click.argument("refdir", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1, required=True)
@REFERENCE_ID
@text_column_option
@MODEL_COLUMN
@read_options
def add(refdir, inputs, quiet, **options):
    """Add model outputs to the index in REFDIR (no rebuild of what it holds)."""
    setup_logging(quiet)
    from engine.provenance import build_reference

    _, summary = call(build_reference, list(inputs), refdir, add=True, **options)
    _echo_index(summary, refdir)


@reference.command("add-human")
@click.argument("refdir", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1, required=True)
@text_column_option
@partition_size_option
@strict_option
@quiet_option
def add_human(refdir, inputs, quiet, **options):
    """Add known human-written text (e.g. a pre-2022 crawl sample) to REFDIR.

    Only its anchor keys are kept. Text that a reference shares with it (a licence,
    a quotation, standard code) no longer counts as evidence of model origin.
    """
    setup_logging(quiet)
    from engine.provenance import add_human_text

    summary = call(add_human_text, refdir, list(inputs), **options)
    human = ("human_texts", "human_bytes", "human_keys")
    _echo_index(summary, refdir, {key: key for key in human})


@click.command(context_settings=CONTEXT)
@pipeline_options
@click.option(
    "--reference",
    required=True,
    type=click.Path(file_okay=False),
    help="Reference index folder (from `ouroboros reference build`).",
)
@click.option("--batch-size", default="16MB", show_default=True, help="Text bytes per match.")
@click.option(
    "--min-span",
    type=int,
    default=100,
    show_default=True,
    help="Informative bytes (letters, digits) of normalized text, outside boilerplate "
    "and shared phrasing, a match (or chain of matches) needs to count as evidence.",
)
@click.option("--seed-bytes", type=int, default=16, show_default=True)
@click.option("--max-gap", type=int, default=64, show_default=True)
@click.option("--cover-threshold", type=float, default=0.8, show_default=True)
@click.option("--partial-threshold", type=float, default=0.2, show_default=True)
@click.option("--boilerplate-min-df", type=int, default=10, show_default=True)
@click.option(
    "--shared-min-families",
    type=int,
    default=2,
    show_default=True,
    help="Reference families (plus known human text) an anchor must be held by to be "
    "shared phrasing, which does not count toward --min-span.",
)
@click.option(
    "--min-shared-anchors",
    type=int,
    default=2,
    show_default=True,
    help="Distinct non-boilerplate anchors a document must share with a reference to "
    "compare them (MinHash-verified pairs are compared regardless); 1 finds shorter "
    "lone matches at more cost.",
)
@click.option(
    "--max-candidates",
    type=int,
    default=32,
    show_default=True,
    help="Most references compared with one document.",
)
@click.option("--no-minhash", is_flag=True, help="Skip MinHash co-clustering.")
def flag(inputs, out, quiet, report, no_minhash, **options):
    """Flag INPUT documents that descend from the model outputs in --reference.

    Writes OUT/flags.parquet (doc_id, label, cov_doc, cov_ref, longest_match, ref_ids,
    evidence) and OUT/summary.json.
    """
    setup_logging(quiet)
    from engine.provenance import flag as run_flag

    result = call(
        run_flag, list(inputs), out, progress=not quiet, minhash=not no_minhash, **options
    )
    counts = result.summary["counts"]
    line = {
        "documents": counts["documents"],
        "flagged": counts["flagged"],
        "labels": counts["labels"],
        "skipped": skipped(result.summary),
        "out": shown_out(result.out),
    }
    echo_json(tell("flag", result.summary, result.out, line, report=report))
