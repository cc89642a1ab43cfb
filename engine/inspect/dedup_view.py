"""What ``inspect`` shows of a dedup output: clusters, their members and word diffs.

A view is a JSON-ready dict::

    {"kind": "dedup", "out": str, "threshold": float,
     "clusters": [{"cluster_id": int, "cluster_size": int, "members_shown": int,
                   "members": [MEMBER, ...]}, ...]}

    MEMBER = {"doc_id": str, "position": int (row of clusters.parquet), "keep": bool,
              "similarity": float (estimated Jaccard to the kept document),
              "chars": int (length of the whole text, or null when it could not be
              read back), "note": str | null (truncation, or why there is no text),
              "segments": segment list (engine.inspect.marks): the kept document's
              text as one ``equal`` segment, every other member as a word diff
              against the kept document}

Members are listed kept document first, then by similarity (lowest first: the
members joined through chains of edges) and input position.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine.inspect.documents import DocumentReader, input_folder_hint
from engine.inspect.marks import DELETE, EQUAL, truncate_segments, truncate_text, word_diff
from engine.inspect.outputs import OutputFolder

DIFF_CHARS = 20_000  # characters of each text compared (difflib is quadratic at worst)


def largest_clusters(folder: OutputFolder, top: int) -> list[int]:
    """Ids of the ``top`` largest clusters with more than one member (ties: smallest id)."""
    table = folder.table(columns=["cluster_id", "cluster_size", "keep"])
    keep = table.column("keep").to_numpy(zero_copy_only=False)
    ids = table.column("cluster_id").to_numpy()[keep]
    sizes = table.column("cluster_size").to_numpy()[keep]
    multi = sizes > 1
    ids, sizes = ids[multi], sizes[multi]
    order = np.lexsort((ids, -sizes))[:top]
    return ids[order].tolist()


def cluster_of_doc(folder: OutputFolder, doc_id: str) -> int:
    """The cluster id of ``doc_id`` (its first row when the id occurs more than once)."""
    table = folder.table(columns=["doc_id", "cluster_id"])
    hits = np.flatnonzero(table.column("doc_id").to_numpy(zero_copy_only=False) == doc_id)
    if len(hits) == 0:
        raise ValueError(f"no document {doc_id!r} in {folder.path}/clusters.parquet")
    return int(table.column("cluster_id")[int(hits[0])].as_py())


def dedup_view(
    folder: OutputFolder,
    cluster_ids: list[int],
    *,
    max_members: int = 10,
    max_chars: int = 2000,
    reader: DocumentReader | None = None,
) -> dict:
    """The view of ``cluster_ids`` (see the module docstring); texts are read back from
    the inputs (at most ``max_members`` per cluster, ``max_chars`` characters each)."""
    table = folder.table()
    cluster_column = table.column("cluster_id").to_numpy()
    chosen = []
    for cluster_id in cluster_ids:
        positions = np.flatnonzero(cluster_column == cluster_id)
        if len(positions) == 0:
            raise ValueError(f"no cluster {cluster_id} in {folder.path}/clusters.parquet")
        chosen.append((cluster_id, _ordered_members(table, positions)[:max_members]))
    wanted = [int(p) for _, members in chosen for p in members]
    texts = (reader or DocumentReader(folder)).by_position(wanted) if wanted else {}
    clusters = []
    for cluster_id, members in chosen:
        rows = table.take(pa.array(members, pa.int64())).to_pylist()
        kept = [texts.get(int(p)) for p, row in zip(members, rows) if row["keep"]]
        kept_text = kept[0][1] if kept and kept[0] is not None else None
        clusters.append(
            {
                "cluster_id": int(cluster_id),
                "cluster_size": int(rows[0]["cluster_size"]),
                "members_shown": len(members),
                "members": [
                    _member(folder, int(p), row, texts.get(int(p)), kept_text, max_chars)
                    for p, row in zip(members, rows, strict=True)
                ],
            }
        )
    threshold = folder.summary.get("parameters", {}).get("threshold")
    return {"kind": "dedup", "out": str(folder.path), "threshold": threshold, "clusters": clusters}


def _ordered_members(table: pa.Table, positions: np.ndarray) -> np.ndarray:
    """Positions of one cluster: the kept document, then by similarity and position."""
    rows = table.take(pa.array(positions, pa.int64()))
    keep = rows.column("keep").to_numpy(zero_copy_only=False)
    if "similarity" in rows.column_names:
        similarity = rows.column("similarity").to_numpy(zero_copy_only=False)
    else:  # an output written before the column existed
        similarity = np.ones(len(positions), dtype=np.float32)
    order = np.lexsort((positions, similarity, ~keep))
    return positions[order]


def _member(folder, position, row, document, kept_text, max_chars) -> dict:
    similarity = row.get("similarity")
    member = {
        "doc_id": row["doc_id"],
        "position": position,
        "keep": bool(row["keep"]),
        "similarity": None if similarity is None else round(float(similarity), 4),
        "chars": None,
        "note": None,
        "segments": [],
    }
    if document is None or document[0] != row["doc_id"]:
        member["note"] = f"text {input_folder_hint(folder.path)}"
        return member
    text = document[1]
    member["chars"] = len(text)
    if row["keep"] or kept_text is None:
        shown, member["note"] = truncate_text(text, max_chars)
        member["segments"] = [{"op": EQUAL, "text": shown}] if shown else []
        return member
    # diff more than is shown, so that the cut does not show as a difference
    limit = max(DIFF_CHARS, 2 * max_chars)
    diff = word_diff(truncate_text(kept_text, limit)[0], truncate_text(text, limit)[0])
    member["segments"], note = truncate_segments(diff, max_chars, uncounted=DELETE)
    if note is not None:
        member["note"] = f"showing {max_chars} of {len(text)} characters"
    return member
