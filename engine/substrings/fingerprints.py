"""Stages 1 and 2 of the cross-shard path: winnowed fingerprints of every document,
reduced to the edges of a spanning forest (:mod:`engine.substrings.cross_shard` has the
method and the proof).

Files, under the cross-shard work folder:

- ``fingerprints/map-NNNNN/range-RRRR.npy``: ``FINGERPRINT_DTYPE`` records of one part
  (``doc`` = row within the part) whose fingerprint falls in range R.
- ``fingerprints/map-NNNNN/docs.npy``: ``DOC_DTYPE``, one record per document of the part.
- ``edges/range-RRRR.npy``: int64 (e, 2) forest edges between global document indices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.io import InputPart, ReadReport, read_part
from engine.io.texts import pack
from engine.run.atomic import write_npy_atomic
from engine.substrings.options import SubstrOptions
from kernels.union_find import connected_components
from kernels.winnow import fingerprint_ranges, winnow_documents

FINGERPRINT_DTYPE = np.dtype([("fingerprint", "<u8"), ("doc", "<i8")])
DOC_DTYPE = np.dtype([("n_bytes", "<i8"), ("self_repeat", "?")])
RANGE_TARGET_BYTES = 64 * 2**20  # fingerprint bytes per range file set, for the default
MAX_DEFAULT_RANGES = 1024


def default_ranges(parts: list[InputPart], min_span: int, k: int) -> int:
    """Ranges for about 64 MiB of fingerprint pairs each (16 bytes per pair, density
    about 2 / (w + 1) per input byte), between 1 and 1024."""
    w = min_span - k + 1
    expected = 16 * 2 * sum(p.size_bytes for p in parts) / (w + 1)
    return int(min(MAX_DEFAULT_RANGES, max(1, -(-expected // RANGE_TARGET_BYTES))))


def map_dir(work: Path, map_index: int) -> Path:
    return work / "fingerprints" / f"map-{map_index:05d}"


def range_file(work: Path, map_index: int, range_index: int) -> Path:
    return map_dir(work, map_index) / f"range-{range_index:04d}.npy"


def docs_file(work: Path, map_index: int) -> Path:
    return map_dir(work, map_index) / "docs.npy"


def edges_file(work: Path, range_index: int) -> Path:
    return work / "edges" / f"range-{range_index:04d}.npy"


def fingerprint_task(
    map_index: int,
    part: InputPart,
    options: SubstrOptions,
    k: int,
    w: int,
    n_ranges: int,
    work: str,
) -> dict:
    """Stage 1 for one part: winnowed fingerprints split into ``n_ranges`` files.

    Returns:
        ``documents``, ``bytes`` (UTF-8), ``fingerprints`` (distinct per document),
        ``report`` (the part's :class:`ReadReport` as a dict).
    """
    work_dir = Path(work)
    report = ReadReport()
    fingerprint_chunks: list[np.ndarray] = []
    doc_chunks: list[np.ndarray] = []
    n_bytes_chunks: list[np.ndarray] = []
    repeat_chunks: list[np.ndarray] = []
    n_docs = 0
    for table in read_part(part, report=report, **options.read.read_part_kwargs()):
        for chunk in table.column("text").chunks:
            data, offsets = pack(chunk)
            fingerprints, doc, self_repeat = winnow_documents(data, offsets, k, w)
            fingerprint_chunks.append(fingerprints)
            doc_chunks.append(doc + n_docs)
            n_bytes_chunks.append(np.diff(offsets))
            repeat_chunks.append(self_repeat)
            n_docs += len(offsets) - 1
    fingerprints = np.concatenate(fingerprint_chunks) if fingerprint_chunks else np.zeros(0, "<u8")
    docs = np.concatenate(doc_chunks) if doc_chunks else np.zeros(0, "<i8")
    ranges = fingerprint_ranges(fingerprints, n_ranges)
    order = np.argsort(ranges, kind="stable")
    bounds = np.searchsorted(ranges[order], np.arange(n_ranges + 1))
    for r in range(n_ranges):
        lo, hi = int(bounds[r]), int(bounds[r + 1])
        if hi > lo:
            records = np.empty(hi - lo, dtype=FINGERPRINT_DTYPE)
            records["fingerprint"] = fingerprints[order[lo:hi]]
            records["doc"] = docs[order[lo:hi]]
            write_npy_atomic(range_file(work_dir, map_index, r), records)
    doc_info = np.empty(n_docs, dtype=DOC_DTYPE)
    doc_info["n_bytes"] = np.concatenate(n_bytes_chunks) if n_bytes_chunks else 0
    doc_info["self_repeat"] = np.concatenate(repeat_chunks) if repeat_chunks else False
    write_npy_atomic(docs_file(work_dir, map_index), doc_info)
    return {
        "documents": n_docs,
        "bytes": int(doc_info["n_bytes"].sum()),
        "fingerprints": int(fingerprints.shape[0]),
        "report": report.to_dict(),
    }


def star_edges(fingerprints: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Star edges of fingerprint groups: the first document of a group to each other one.

    Args:
        fingerprints: (m,) uint64; docs: (m,) int64 global document indices.

    Returns:
        src, dst: (e,) int64, ``e = m - number of distinct fingerprints``; ``src`` is the
        smallest document holding the fingerprint.
    """
    order = np.lexsort((docs, fingerprints))
    fingerprints = fingerprints[order]
    docs = docs[order]
    is_head = np.ones(fingerprints.shape[0], dtype=np.bool_)
    is_head[1:] = fingerprints[1:] != fingerprints[:-1]
    head_doc = docs[is_head][np.cumsum(is_head) - 1]
    return head_doc[~is_head], docs[~is_head]


def spanning_forest(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Edges (e', 2) int64 with the connectivity of (src, dst): each node to its minimum.

    ``e'`` is the number of nodes touched minus the number of components.
    """
    if src.shape[0] == 0:
        return np.zeros((0, 2), dtype=np.int64)
    nodes = np.unique(np.concatenate([src, dst]))
    labels = connected_components(
        nodes.shape[0], np.searchsorted(nodes, src), np.searchsorted(nodes, dst), backend="cpu"
    )
    linked = labels != np.arange(nodes.shape[0])
    return np.stack([nodes[labels[linked]], nodes[linked]], axis=1)


def reduce_task(range_index: int, map_offsets: np.ndarray, work: str) -> dict:
    """Stage 2 for one fingerprint range: star edges, reduced to a spanning forest.

    Args:
        map_offsets: (n_maps,) int64 global index of each part's first document.

    Returns:
        ``fingerprints`` (pairs read), ``star_edges``, ``edges`` (forest edges written).
    """
    work_dir = Path(work)
    fingerprint_chunks, doc_chunks = [], []
    for map_index, offset in enumerate(map_offsets.tolist()):
        path = range_file(work_dir, map_index, range_index)
        if path.exists():
            records = np.load(path, allow_pickle=False)
            fingerprint_chunks.append(records["fingerprint"])
            doc_chunks.append(records["doc"] + offset)
    if not fingerprint_chunks:
        return {"fingerprints": 0, "star_edges": 0, "edges": 0}
    src, dst = star_edges(np.concatenate(fingerprint_chunks), np.concatenate(doc_chunks))
    forest = spanning_forest(src, dst)
    if forest.shape[0]:
        write_npy_atomic(edges_file(work_dir, range_index), forest)
    return {
        "fingerprints": int(sum(c.shape[0] for c in fingerprint_chunks)),
        "star_edges": int(src.shape[0]),
        "edges": int(forest.shape[0]),
    }
