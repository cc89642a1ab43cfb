"""The repeated-substrings section of a ``substr`` report: bytes removed per document and
the most repeated spans (with their text, read back from the kept copy)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.report.charts import histogram_chart
from engine.report.page import Section, table_html
from engine.report.tables import sample_row_groups
from engine.report.texts import read_texts

__all__ = ["spans_section"]

TOP_SPANS = 15  # most repeated spans listed
SPAN_PREVIEW_BYTES = 300  # bytes of a span's text shown


def spans_section(out: Path, summary: dict, input_root) -> Section:
    """Bytes removed per document (histogram) and the most repeated spans."""
    path = out / "spans.parquet"
    section = Section("Repeated substrings", "spans")
    if not path.exists():
        section.body.append('<p class="missing">spans.parquet is missing.</p>')
        return section
    counts = summary.get("counts", {})
    total_bytes = counts.get("bytes") or 0
    marked = counts.get("bytes_marked") or 0
    share = f" ({marked / total_bytes:.1%} of {total_bytes:,} bytes)" if total_bytes else ""
    section.body.append(
        f"<p>{counts.get('spans', 0):,} spans mark {marked:,} bytes for removal{share} in "
        f"{counts.get('documents_with_spans', 0):,} of {counts.get('documents', 0):,} "
        "documents.</p>"
    )
    sample = sample_row_groups(path)
    table = sample.read(["doc_id", "start", "end", "source_doc_id", "source_start"])
    length = pc.subtract(table["end"], table["start"])
    table = table.append_column("length", length)
    per_doc = table.group_by("doc_id").aggregate([("length", "sum")])
    removed = per_doc["length_sum"].to_numpy()
    if removed.size:
        top = max(float(removed.max()), 2.0)
        bins = np.unique(np.geomspace(1.0, top * 1.0001, 40))
        section.charts.append(
            histogram_chart(
                "Bytes removed per document (documents with spans)",
                bins,
                {"documents": np.histogram(removed, bins)[0]},
                x_title="bytes removed (log bins)",
                y_title="documents",
                note=sample.note("spans"),
                log_x=True,
            )
        )
    section.after.append(_top_spans(table, summary, input_root))
    return section


def _top_spans(table: pa.Table, summary: dict, input_root) -> str:
    """The spans repeated most often (same kept copy, same length), with their text."""
    if table.num_rows == 0:
        return "<p>No repeated span.</p>"
    grouped = (
        table.group_by(["source_doc_id", "source_start", "length"])
        .aggregate([("doc_id", "count")])
        .sort_by([("doc_id_count", "descending"), ("length", "descending")])
        .slice(0, TOP_SPANS)
        .to_pylist()
    )
    params = summary.get("parameters", {})
    texts = read_texts(
        [row["source_doc_id"] for row in grouped],
        summary.get("inputs", []),
        text_column=params.get("text_column", "text"),
        id_column=params.get("id_column"),
        input_root=input_root,
    )
    rows = []
    for row in grouped:
        text = texts.get(row["source_doc_id"])
        if text is None:
            why = html.escape(texts.missing.get(row["source_doc_id"], ""))
            shown = ("html", f'<span class="missing">{why}</span>')
        else:
            data = text.encode("utf-8")
            start = row["source_start"]
            piece = data[start : start + min(row["length"], SPAN_PREVIEW_BYTES)]
            more = row["length"] - len(piece)
            cut = f'<span class="cut"> … {more:,} more bytes</span>' if more > 0 else ""
            piece_html = html.escape(piece.decode("utf-8", "replace"))
            shown = ("html", f'<div class="doc">{piece_html}{cut}</div>')
        rows.append([row["doc_id_count"], row["length"], row["source_doc_id"], shown])
    return "<h3>Most repeated spans</h3>" + table_html(
        ["removed copies", "bytes", "kept copy in", "text"], rows
    )
