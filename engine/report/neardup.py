"""The near-duplicate sections of a ``dedup`` report: cluster sizes, duplicates per input
file or web domain, similarities and the effective threshold (from ``edges.parquet``),
and the largest clusters with their members' diffs against the kept document.

Aggregates read only the columns they need, within :data:`engine.report.tables.ROW_BUDGET`
rows per table (a note says when a chart comes from a sample).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.report.charts import (
    Chart,
    bar_chart,
    histogram_chart,
    merged_share_chart,
    stacked_bar_chart,
)
from engine.report.diffs import preview, word_diff
from engine.report.page import Section, table_html
from engine.report.tables import (
    RowGroupSample,
    column_names,
    largest_clusters,
    lookup_by_position,
    rows_where_in,
    sample_row_groups,
)
from engine.report.texts import read_texts

__all__ = ["clusters_section", "edges_section", "largest_clusters_section"]

LARGEST_CLUSTERS = 20  # clusters in the table of largest clusters
MEMBERS_SHOWN = 25  # members per cluster whose diff is shown
DIFF_BUDGET_CHARS = 1_500_000  # HTML characters of all diffs together
TOP_SOURCES = 25  # input files or web domains in the duplicates chart
EDGE_SAMPLE = 200_000  # edges whose clusters are looked up for the merged share
_URL = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(?P<domain>[^/:?#]+)"


def _size_bands(max_size: int) -> np.ndarray:
    """Band edges 1, 2, 3, 5, 9, 17, ... (band i holds sizes [edge_i, edge_i+1))."""
    edges = [1, 2, 3]
    while edges[-1] <= max_size:
        edges.append((edges[-1] - 1) * 2 + 1)
    return np.asarray(edges, dtype=np.int64)


def _band_label(low: int, high: int) -> str:
    return str(low) if high - low == 1 else f"{low}–{high - 1}"


def cluster_size_chart(sample: RowGroupSample) -> Chart:
    """Clusters per size band (log scale); a cluster of size s counts 1/s per member row."""
    sizes = sample.read(["cluster_size"])["cluster_size"].to_numpy()
    bands = _size_bands(int(sizes.max()) if sizes.size else 1)
    band = np.searchsorted(bands, sizes, side="right") - 1
    clusters = np.bincount(band, weights=1.0 / np.maximum(sizes, 1), minlength=len(bands) - 1)
    documents = np.bincount(band, minlength=len(bands) - 1)
    scale = 1.0 / sample.fraction
    labels = [_band_label(int(bands[i]), int(bands[i + 1])) for i in range(len(bands) - 1)]
    values = np.rint(clusters[: len(labels)] * scale)
    chart = bar_chart(
        "Clusters by size",
        labels,
        values,
        x_title="documents in the cluster",
        y_title="clusters",
        note=sample.note(),
        text=[f"{int(d * scale):,} docs" for d in documents[: len(labels)]],
    )
    return chart


def _source_column(doc_ids: pa.ChunkedArray, id_column: str | None) -> tuple[pa.Array, str] | None:
    """Per row: the web domain (ids that are URLs) or the input file (``<path>:<row>``)."""
    head = doc_ids.slice(0, 1000)
    urls = pc.match_substring_regex(head, _URL)
    if len(head) and pc.all(urls).as_py():
        domains = pc.struct_field(pc.extract_regex(doc_ids, _URL), "domain")
        return pc.utf8_lower(domains), "web domain"
    if id_column is None:
        return pc.replace_substring_regex(doc_ids, r":[0-9]+$", ""), "input file"
    return None


def _common_folder(paths: list[str]) -> str:
    """The folder all ``paths`` lie in ("" when none, or when they mix kinds)."""
    try:
        folder = os.path.commonpath([os.path.dirname(path) for path in paths])
    except ValueError:  # absolute and relative paths mixed
        return ""
    return folder if folder not in ("", "/", ".") else ""


def duplicates_by_source_chart(sample: RowGroupSample, id_column: str | None) -> Chart | None:
    """Kept and duplicate documents per input file or web domain (top by duplicates)."""
    table = sample.read(["doc_id", "keep"])
    found = _source_column(table["doc_id"], id_column)
    if found is None or table.num_rows == 0:
        return None
    source, kind = found
    grouped = (
        pa.table({"source": source, "duplicate": pc.invert(table["keep"]).cast(pa.int64())})
        .group_by("source")
        .aggregate([("duplicate", "sum"), ("duplicate", "count")])
        .sort_by([("duplicate_sum", "descending"), ("source", "ascending")])
    )
    top = grouped.slice(0, TOP_SOURCES)
    names = top["source"].to_pylist()
    prefix = _common_folder(names) if kind == "input file" else ""
    if prefix:
        names = [name[len(prefix) :].lstrip("/") for name in names]
    scale = 1.0 / sample.fraction
    duplicates = np.rint(top["duplicate_sum"].to_numpy() * scale)
    kept = np.rint((top["duplicate_count"].to_numpy() - top["duplicate_sum"].to_numpy()) * scale)
    note = f"Top {min(TOP_SOURCES, grouped.num_rows)} of {grouped.num_rows:,} by duplicates."
    if prefix:
        note += f" Paths under {prefix}."
    note = " ".join(part for part in (note, sample.note()) if part)
    return stacked_bar_chart(
        f"Duplicates per {kind}",
        names,
        {"duplicates (removed)": duplicates, "kept": kept},
        y_title="documents",
        note=note,
    )


def clusters_section(out: Path, summary: dict) -> Section:
    """Cluster sizes, duplicates per file/domain, members' similarity to the kept one."""
    path = out / "clusters.parquet"
    section = Section("Clusters", "clusters")
    if not path.exists():
        section.body.append('<p class="missing">clusters.parquet is missing.</p>')
        return section
    counts = summary.get("counts", {})
    section.body.append(
        f"<p>{counts.get('documents', 0):,} documents in {counts.get('clusters', 0):,} "
        f"clusters; {counts.get('duplicate_clusters', 0):,} clusters hold near-duplicates; "
        f"{counts.get('duplicates', 0):,} documents are duplicates of a kept one; the largest "
        f"cluster holds {counts.get('largest_cluster', 0):,}.</p>"
    )
    sample = sample_row_groups(path)
    section.charts.append(cluster_size_chart(sample))
    id_column = summary.get("parameters", {}).get("id_column")
    by_source = duplicates_by_source_chart(sample, id_column)
    if by_source is not None:
        section.charts.append(by_source)
    else:
        section.body.append(
            '<p class="note">Duplicates per input file: not shown, the document ids come '
            f"from the id column {html.escape(str(id_column))} and name no file or URL.</p>"
        )
    if "similarity" in column_names(path):
        table = sample.read(["similarity", "keep", "cluster_size"])
        members = table.filter(
            pc.and_(pc.invert(table["keep"]), pc.greater_equal(table["cluster_size"], 2))
        )
        values = members["similarity"].drop_null().to_numpy(zero_copy_only=False)
        bins = np.linspace(0.0, 1.0, 41)
        section.charts.append(
            histogram_chart(
                "Duplicates' similarity to their kept document",
                bins,
                {"duplicates": np.histogram(values, bins)[0]},
                x_title="estimated Jaccard",
                y_title="documents",
                note=sample.note(),
                vline=summary.get("parameters", {}).get("threshold"),
            )
        )
    return section


def _verified_mask(table: pa.Table) -> np.ndarray:
    """bool (rows,): True for verified edges. An ``edges.parquet`` written before the
    ``verified`` column existed holds verified edges only."""
    if "verified" not in table.column_names:
        return np.ones(table.num_rows, dtype=bool)
    return table["verified"].to_numpy(zero_copy_only=False).astype(bool)


def _pair_counts(sample: RowGroupSample, verified: np.ndarray, counts: dict) -> tuple[int, int]:
    """(verified edges, rejected pairs) in the whole file: counted when every row was
    read, else the summary's counts (scaled from the sample when it has none)."""
    in_sample = int(np.count_nonzero(verified)), int(len(verified) - np.count_nonzero(verified))
    if not sample.sampled:
        return in_sample
    if "edges_written" in counts:
        return int(counts["edges_written"]), int(counts.get("rejected_pairs_written", 0))
    return tuple(int(round(n / sample.fraction)) for n in in_sample)


def edges_section(out: Path, summary: dict) -> Section:
    """Similarities of the verified edges, and the share of pairs merged per similarity
    band over all pairs (verified edges and rejected candidates): the effective
    threshold."""
    path = out / "edges.parquet"
    section = Section("Edges", "edges")
    threshold = summary.get("parameters", {}).get("threshold")
    if not path.exists():
        section.body.append(
            '<p class="note">No edges.parquet in this output: rerun dedup with '
            "--write-edges to see edge similarities and the effective threshold.</p>"
        )
        return section
    names = column_names(path)
    sample = sample_row_groups(path)
    wanted = ("a", "b", "similarity", "exact_jaccard", "verified")
    table = sample.read([c for c in wanted if c in names])
    verified = _verified_mask(table)
    bins = np.linspace(0.0, 1.0, 51)
    similarity = table["similarity"].to_numpy()
    series = {"estimated (MinHash)": np.histogram(similarity[verified], bins)[0]}
    exact = None
    if "exact_jaccard" in names and table["exact_jaccard"].null_count < table.num_rows:
        exact = table["exact_jaccard"].to_numpy(zero_copy_only=False).astype(np.float64)
        known = verified & ~np.isnan(exact)
        series["exact Jaccard"] = np.histogram(exact[known], bins)[0]
    n_edges, n_rejected = _pair_counts(sample, verified, summary.get("counts", {}))
    section.body.append(
        f"<p>{n_edges:,} edges (verified pairs of documents) and {n_rejected:,} rejected "
        "candidate pairs (they shared an LSH band key, but their similarity is below the "
        "threshold).</p>"
    )
    section.charts.append(
        histogram_chart(
            "Edge similarities",
            bins,
            series,
            x_title="Jaccard similarity",
            y_title="verified edges",
            note=sample.note("pairs"),
            vline=threshold,
        )
    )
    section.charts.append(_merged_share(out, table, exact, threshold))
    return section


def _merged_share(out: Path, table: pa.Table, exact, threshold) -> Chart:
    """Share of pairs (verified edges and rejected candidates) whose documents ended in
    one cluster, per similarity band. ``exact``: float64 (rows,) or None."""
    rng = np.random.default_rng(0)
    n = table.num_rows
    picked = np.sort(rng.choice(n, EDGE_SAMPLE, replace=False)) if n > EDGE_SAMPLE else np.arange(n)
    a = table["a"].to_numpy()[picked]
    b = table["b"].to_numpy()[picked]
    clusters = out / "clusters.parquet"
    labels = lookup_by_position(clusters, "cluster_id", np.concatenate([a, b]))
    merged = labels[: len(a)] == labels[len(a) :]
    if exact is not None and not np.isnan(exact[picked]).any():
        values, kind = exact[picked], "exact Jaccard"
    else:
        values = table["similarity"].to_numpy()[picked].astype(np.float64)
        kind = "estimated Jaccard"
    bins = np.linspace(0.0, 1.0, 21)
    pairs = np.histogram(values, bins)[0]
    merged_pairs = np.histogram(values[merged], bins)[0]
    rejected = int(len(picked) - np.count_nonzero(_verified_mask(table)[picked]))
    note = (
        f"Bands of {kind}; {len(picked):,} pairs"
        + (f" sampled of {n:,}" if len(picked) < n else "")
        + f", {rejected:,} of them rejected candidates. Below the threshold a pair is merged"
        " only through a chain of edges."
    )
    return merged_share_chart(
        "Effective threshold: share of pairs merged per band",
        bins,
        pairs,
        merged_pairs,
        x_title=kind,
        threshold=threshold,
        note=note,
    )


def _cluster_detail(cluster_id: int, size: int, members: list[dict], texts) -> tuple[dict, int]:
    """What the page shows when a cluster is opened, and the characters of its diffs."""
    members = sorted(members, key=lambda m: (not m["keep"], m["doc_id"]))
    shown = members[:MEMBERS_SHOWN]
    kept = next((m for m in members if m["keep"]), members[0] if members else None)
    kept_text = texts.get(kept["doc_id"]) if kept else None
    if kept_text is not None:
        kept_html = preview(kept_text, 1500)
    else:
        why = texts.missing.get(kept["doc_id"], "no text") if kept else "no kept member"
        kept_html = f'<span class="missing">{html.escape(why)}</span>'
    detail = {
        "cluster_id": int(cluster_id),
        "size": int(size),
        "omitted": int(size) - len(shown),
        "kept_html": kept_html,
        "members": [],
    }
    spent = 0
    for member in shown:
        text = texts.get(member["doc_id"])
        similarity = member.get("similarity")
        entry = {
            "doc_id": member["doc_id"],
            "keep": bool(member["keep"]),
            "similarity": "—" if similarity is None else f"{similarity:.3f}",
            "chars": "—" if text is None else f"{len(text):,}",
            "diff_html": None,
            "note": "",
        }
        if text is None:
            entry["note"] = texts.missing.get(member["doc_id"], "text not available")
        elif kept_text is None:
            entry["note"] = "the kept document's text is not available"
        elif member is kept:
            entry["diff_html"] = '<span class="fold">(the kept document)</span>'
        else:
            fragment, ratio = word_diff(kept_text, text)
            entry["diff_html"] = fragment
            entry["note"] = f"word similarity {ratio:.3f}"
            spent += len(fragment)
        detail["members"].append(entry)
    return detail, spent


def largest_clusters_section(out: Path, summary: dict, input_root) -> tuple[Section, list[dict]]:
    """The table of the largest clusters and, per cluster, its members and diffs."""
    path = out / "clusters.parquet"
    section = Section("Largest clusters", "largest")
    if not path.exists():
        return section, []
    top = largest_clusters(path, LARGEST_CLUSTERS)
    if not top:
        section.body.append("<p>No cluster holds more than one document.</p>")
        return section, []
    columns = ["doc_id", "cluster_id", "keep"]
    if "similarity" in column_names(path):
        columns.append("similarity")
    rows = rows_where_in(path, "cluster_id", [c for c, _ in top], columns).to_pylist()
    by_cluster: dict[int, list[dict]] = {}
    for row in rows:
        by_cluster.setdefault(row["cluster_id"], []).append(row)
    wanted = []
    for cluster_id, _ in top:
        members = sorted(by_cluster.get(cluster_id, []), key=lambda m: (not m["keep"], m["doc_id"]))
        wanted.extend(m["doc_id"] for m in members[:MEMBERS_SHOWN])
    params = summary.get("parameters", {})
    texts = read_texts(
        wanted,
        summary.get("inputs", []),
        text_column=params.get("text_column", "text"),
        id_column=params.get("id_column"),
        input_root=input_root,
    )
    details, table_rows, budget = [], [], DIFF_BUDGET_CHARS
    for cluster_id, size in top:
        members = by_cluster.get(cluster_id, [])
        detail, spent = _cluster_detail(cluster_id, size, members, texts)
        if spent > budget:  # keep the page small: drop the diffs beyond the budget
            for member in detail["members"]:
                if member["diff_html"] and not member["keep"]:
                    member["diff_html"], member["note"] = None, "diff left out (page size limit)"
        budget -= min(spent, budget)
        details.append(detail)
        kept = next((m["doc_id"] for m in members if m["keep"]), "")
        table_rows.append([cluster_id, size, kept])
    section.body.append(
        '<p class="note">Click a row to see the cluster\'s members and their word-level diff '
        "against the kept document.</p>"
    )
    attrs = [f'class="cluster-row" data-cluster="{i}"' for i in range(len(table_rows))]
    section.body.append(
        table_html(
            ["cluster", "documents", "kept document"], table_rows, row_attrs=attrs, cls="clusters"
        )
    )
    if texts.missing:
        reasons = sorted(set(texts.missing.values()))
        section.body.append(
            f'<p class="note missing">{len(texts.missing):,} member texts could not be read '
            f"back: {html.escape('; '.join(reasons[:3]))}</p>"
        )
    section.after.append('<div id="cluster-detail" class="detail hidden"></div>')
    return section, details
