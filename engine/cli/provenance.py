"""Click commands for provenance: ``reference build``, ``reference add`` and ``flag``.

Standalone click objects (``reference`` group, ``flag`` command), registered on the
main ``ouroboros`` group in :mod:`engine.cli.main`.
"""

from __future__ import annotations

import json

import click

from engine.cli.options import fail, setup_logging

_READ_OPTIONS = [
    click.option(
        "--text-column",
        default="text",
        show_default=True,
        help="Column (JSONL key / Parquet column) holding the text.",
    ),
    click.option(
        "--model-column",
        default=None,
        help="Column naming the model (default: 'model' when present).",
    ),
    click.option(
        "--partition-size", default="256MB", show_default=True, help="Input bytes per part."
    ),
    click.option("--strict", is_flag=True, help="Fail on the first malformed record."),
    click.option(
        "--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
    ),
    click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors."),
]


def _read_options(func):
    for option in reversed(_READ_OPTIONS):
        func = option(func)
    return func


def _echo_summary(summary: dict, out: str, fields: dict[str, str] | None = None) -> None:
    """One JSON line: ``fields`` (output name -> counts key), read skips, size, folder."""
    if fields is None:
        fields = {
            "references": "n_refs",
            "added": "added",
            "duplicate_ids": "duplicate_ids",
            "empty_texts": "empty_texts",
            "duplicate_texts": "duplicate_texts",
        }
    counts = summary["counts"]
    line = {name: counts[key] for name, key in fields.items()}
    line["skipped"] = summary["read"].get("skipped", {})
    line["index_bytes"] = counts["index_bytes"]
    line["out"] = out
    click.echo(json.dumps(line))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def reference() -> None:
    """Build or extend a reference index of known model outputs."""


@reference.command("build")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Index folder.")
@click.option(
    "--id-column",
    default="id",
    show_default=True,
    help="Column holding reference ids (repeated ids: the first is kept, the rest counted).",
)
@_read_options
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
def build(
    inputs,
    out,
    id_column,
    text_column,
    model_column,
    partition_size,
    strict,
    backend,
    quiet,
    anchor_bytes,
    anchor_window,
    num_perm,
    ngram,
    seed,
    family_containment,
    family_min_shared,
    human,
):
    """Index model outputs (JSONL/Parquet with id, text, optional model, dataset, date,
    conversation, prompt).

    Give chat logs their conversation ids (outputs of one chat are one family) and
    prompts (kept as known human text). Writes the index to OUT (see
    engine/reference.py) and OUT/summary.json.
    """
    setup_logging(quiet)
    from engine.provenance.pipeline import build_reference

    try:
        _, summary = build_reference(
            list(inputs),
            out,
            text_column=text_column,
            id_column=id_column,
            model_column=model_column,
            partition_size=partition_size,
            strict=strict,
            backend=backend,
            anchor_bytes=anchor_bytes,
            anchor_window=anchor_window,
            num_perm=num_perm,
            ngram=ngram,
            seed=seed,
            family_containment=family_containment,
            family_min_shared=family_min_shared,
            human=list(human),
        )
    except (ValueError, RuntimeError, OSError) as exc:
        fail(exc)
    _echo_summary(summary, out)


@reference.command("add")
@click.argument("refdir", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--id-column", default="id", show_default=True, help="Column holding ids.")
@_read_options
def add(
    refdir, inputs, id_column, text_column, model_column, partition_size, strict, backend, quiet
):
    """Add model outputs to the index in REFDIR (no rebuild of what it holds)."""
    setup_logging(quiet)
    from engine.provenance.pipeline import build_reference

    try:
        _, summary = build_reference(
            list(inputs),
            refdir,
            text_column=text_column,
            id_column=id_column,
            model_column=model_column,
            partition_size=partition_size,
            strict=strict,
            backend=backend,
            add=True,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        fail(exc)
    _echo_summary(summary, refdir)


@reference.command("add-human")
@click.argument("refdir", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--text-column", default="text", show_default=True)
@click.option("--partition-size", default="256MB", show_default=True)
@click.option("--strict", is_flag=True, help="Fail on the first malformed record.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and errors.")
def add_human(refdir, inputs, text_column, partition_size, strict, quiet):
    """Add known human-written text (e.g. a pre-2022 crawl sample) to REFDIR.

    Only its anchor keys are kept. Text that a reference shares with it (a licence,
    a quotation, standard code) no longer counts as evidence of model origin.
    """
    setup_logging(quiet)
    from engine.provenance.pipeline import add_human_text

    try:
        summary = add_human_text(
            refdir,
            list(inputs),
            text_column=text_column,
            partition_size=partition_size,
            strict=strict,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        fail(exc)
    human = ("human_texts", "human_bytes", "human_keys")
    _echo_summary(summary, refdir, {key: key for key in human})


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--reference",
    "refdir",
    required=True,
    type=click.Path(file_okay=False),
    help="Reference index folder (from `ouroboros reference build`).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--id-column", default=None, help="Column holding ids (default: <path>:<row>).")
@click.option(
    "--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option("--scheduler", default="local", show_default=True, help="As for dedup.")
@click.option("--workers", type=int, default=None, help="Parallel part tasks (default: CPUs).")
@click.option("--partition-size", default="256MB", show_default=True)
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
@click.option("--strict", is_flag=True)
@click.option("--quiet", "-q", is_flag=True)
def flag(
    inputs,
    refdir,
    out,
    text_column,
    id_column,
    backend,
    scheduler,
    workers,
    partition_size,
    batch_size,
    min_span,
    seed_bytes,
    max_gap,
    cover_threshold,
    partial_threshold,
    boilerplate_min_df,
    shared_min_families,
    min_shared_anchors,
    max_candidates,
    no_minhash,
    strict,
    quiet,
):
    """Flag INPUT documents that descend from the model outputs in --reference.

    Writes OUT/flags.parquet (doc_id, label, cov_doc, cov_ref, longest_match, ref_ids,
    evidence) and OUT/summary.json.
    """
    setup_logging(quiet)
    from engine.provenance.pipeline import flag as run_flag

    try:
        result = run_flag(
            list(inputs),
            out,
            reference=refdir,
            text_column=text_column,
            id_column=id_column,
            backend=backend,
            scheduler=scheduler,
            workers=workers,
            partition_size=partition_size,
            batch_size=batch_size,
            strict=strict,
            progress=not quiet,
            min_span=min_span,
            seed_bytes=seed_bytes,
            max_gap=max_gap,
            verified_max_gap=max(256, max_gap),
            cover_threshold=cover_threshold,
            partial_threshold=partial_threshold,
            boilerplate_min_df=boilerplate_min_df,
            shared_min_families=shared_min_families,
            min_shared_anchors=min_shared_anchors,
            max_candidates=max_candidates,
            minhash=not no_minhash,
        )
    except (ValueError, RuntimeError, OSError) as exc:
        fail(exc)
    counts = result.summary["counts"]
    click.echo(
        json.dumps(
            {
                "documents": counts["documents"],
                "flagged": counts["flagged"],
                "labels": counts["labels"],
                "skipped": result.summary["read"].get("skipped", {}),
                "out": str(result.out),
            }
        )
    )
