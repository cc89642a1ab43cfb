"""The provenance sections (``flag`` outputs, and ``dedup --reference``): label counts,
coverage distributions, and flagged documents with their evidence highlighted."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from engine.report.charts import bar_chart, histogram_chart
from engine.report.diffs import highlight_ranges
from engine.report.page import Section, table_html
from engine.report.tables import sample_row_groups
from engine.report.texts import read_texts

__all__ = ["flags_section"]

LABELS = ("verbatim_copy", "contains_output", "partial_derivative", "none")
EXAMPLES_PER_LABEL = 3  # flagged documents shown per label (highest cov_doc first)
MAX_EVIDENCE = 50  # evidence ranges highlighted per document


def _label_order(labels: list[str]) -> list[str]:
    known = [label for label in LABELS if label in labels]
    return known + sorted(set(labels) - set(known))


def flags_section(out: Path, summary: dict, input_root) -> Section | None:
    """Label counts, ``cov_doc`` / ``cov_ref`` histograms per label, and examples."""
    path = out / "flags.parquet"
    if not path.exists():
        return None
    section = Section("Provenance flags", "flags")
    sample = sample_row_groups(path)
    table = sample.read(["doc_id", "label", "cov_doc", "cov_ref", "longest_match", "evidence"])
    counts = {r["values"]: r["counts"] for r in pc.value_counts(table["label"]).to_pylist()}
    order = _label_order(list(counts))
    scale = 1.0 / sample.fraction
    section.charts.append(
        bar_chart(
            "Documents per label",
            order,
            [round(counts[label] * scale) for label in order],
            y_title="documents",
            note=sample.note(),
        )
    )
    flagged = [label for label in order if label != "none"]
    bins = np.linspace(0.0, 1.0, 41)
    for column, what in (
        ("cov_doc", "share of the document matching references"),
        ("cov_ref", "share of the best reference covered"),
    ):
        series = {}
        for label in flagged:
            values = table.filter(pc.equal(table["label"], label))[column].to_numpy()
            series[label] = np.histogram(values, bins)[0]
        if series:
            section.charts.append(
                histogram_chart(
                    f"{column} of flagged documents",
                    bins,
                    series,
                    x_title=what,
                    y_title="documents",
                    note=sample.note(),
                )
            )
    cluster_flags = out / "cluster_flags.parquet"
    if cluster_flags.exists():
        cluster_sample = sample_row_groups(cluster_flags)
        labels = cluster_sample.read(["label"])["label"]
        cluster_counts = {r["values"]: r["counts"] for r in pc.value_counts(labels).to_pylist()}
        cluster_order = _label_order(list(cluster_counts))
        section.charts.append(
            bar_chart(
                "Clusters per label (roll-up)",
                cluster_order,
                [round(cluster_counts[k] / cluster_sample.fraction) for k in cluster_order],
                y_title="clusters",
                note=cluster_sample.note(),
            )
        )
    section.after.extend(_examples(table, flagged, summary, input_root))
    return section


def _examples(table, flagged: list[str], summary: dict, input_root) -> list[str]:
    """Flagged documents with their evidence highlighted (the highest cov_doc per label)."""
    picked = []
    for label in flagged:
        rows = table.filter(pc.equal(table["label"], label))
        rows = rows.sort_by([("cov_doc", "descending"), ("doc_id", "ascending")])
        picked.extend(rows.slice(0, EXAMPLES_PER_LABEL).to_pylist())
    if not picked:
        return ["<p>No document is flagged.</p>"]
    params = summary.get("parameters", {})
    texts = read_texts(
        [row["doc_id"] for row in picked],
        summary.get("inputs", []),
        text_column=params.get("text_column", "text"),
        id_column=params.get("id_column"),
        input_root=input_root,
    )
    parts = ["<h3>Flagged documents, evidence highlighted</h3>"]
    for row in picked:
        evidence = (row["evidence"] or [])[:MAX_EVIDENCE]
        ranges = [
            (e["start"], e["end"], f"{e['ref_id']} bytes {e['ref_start']}–{e['ref_end']}")
            for e in evidence
        ]
        facts = table_html(
            ["document", "label", "cov_doc", "cov_ref", "longest match (bytes)", "evidence"],
            [
                [
                    row["doc_id"],
                    row["label"],
                    row["cov_doc"],
                    row["cov_ref"],
                    row["longest_match"],
                    len(row["evidence"] or []),
                ]
            ],
        )
        text = texts.get(row["doc_id"])
        if text is None:
            body = f'<p class="missing">{html.escape(texts.missing.get(row["doc_id"], ""))}</p>'
        else:
            body = f'<div class="doc evidence">{highlight_ranges(text, ranges)}</div>'
        parts.append(f'<div class="flagged">{facts}{body}</div>')
    return parts
