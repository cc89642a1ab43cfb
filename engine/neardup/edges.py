"""``edges.parquet`` (``dedup --write-edges``): every verified pair and every rejected
candidate pair, with its similarity.

One row per distinct pair, sorted by ``(a, b)``:

- ``doc_a``, ``doc_b``: string, the doc ids of the two documents;
- ``a``, ``b``: int64, their global input positions (row numbers of
  ``clusters.parquet``), ``a < b``;
- ``similarity``: float32, Jaccard estimated from the two MinHash signatures (the
  share of equal slots: :func:`engine.neardup.similarity.signature_similarity`);
- ``exact_jaccard``: float32, the exact Jaccard of the two shingle sets where it was
  computed; null otherwise (today: always null);
- ``verified``: bool. True for an edge: a verified pair (similarity at least the
  threshold) that the clusters were built from. False for a rejected candidate: the
  two documents shared a band key (the first member of an LSH bucket and another
  member among its first :data:`~engine.neardup.similarity.REJECTED_PER_BUCKET`), but
  their similarity is below the threshold, so no edge joins them; they are in one
  cluster only when a chain of edges joins them.

A cluster is a connected component of the verified edges, so two members can be
joined through a chain of edges without an edge of their own. The rejected pairs
sample the pairs just below the threshold: the share of them that still ended in one
cluster shows the effective threshold (the report's chart).

The pairs come from the shuffle's range files (:mod:`engine.neardup.shuffle`: each
sorted by ``(a, b)``, with their similarity beside them); a pair found in several
ranges is written once (as verified, were it ever both). Memory is bounded: the file
is written window by window of ``a`` (about :data:`EDGES_PER_WINDOW` pairs each, read
by binary search from the memory-mapped range files), never holding all pairs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.io import InputPart
from engine.neardup.shuffle import (
    edges_file,
    rejected_file,
    rejected_similarity_file,
    similarity_file,
)
from engine.neardup.similarity import SignatureFiles
from engine.run.atomic import parquet_writer_atomic

EDGES_SCHEMA = pa.schema(
    [
        ("doc_a", pa.string()),
        ("doc_b", pa.string()),
        ("a", pa.int64()),
        ("b", pa.int64()),
        ("similarity", pa.float32()),
        ("exact_jaccard", pa.float32()),
        ("verified", pa.bool_()),
    ]
)
EDGES_PER_WINDOW = 2_000_000  # pairs read at a time (about 21 bytes each, plus ids)


def _load(path: Path) -> np.ndarray:
    """A ``.npy`` array, memory-mapped unless it is empty (an empty map is refused)."""
    try:
        return np.load(path, mmap_mode="r")
    except ValueError:
        return np.load(path)


def _window(sources: list[tuple[np.ndarray, np.ndarray, bool]], lo: int, hi: int):
    """Distinct pairs with ``lo <= a < hi`` from every source (a range's edges or its
    rejected pairs), sorted by ``(a, b)``, a pair in both kinds kept as verified:
    int64 (P,) a, int64 (P,) b, float32 (P,) similarity, bool (P,) verified."""
    a_parts, b_parts, s_parts, v_parts = [], [], [], []
    for pairs, similarity, verified in sources:
        if len(pairs) == 0:
            continue
        i0, i1 = np.searchsorted(pairs[:, 0], [lo, hi], side="left")
        if i1 > i0:
            a_parts.append(np.asarray(pairs[i0:i1, 0], dtype=np.int64))
            b_parts.append(np.asarray(pairs[i0:i1, 1], dtype=np.int64))
            s_parts.append(np.asarray(similarity[i0:i1], dtype=np.float32))
            v_parts.append(np.full(i1 - i0, verified))
    if not a_parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32), np.zeros(0, dtype=bool)
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    s, v = np.concatenate(s_parts), np.concatenate(v_parts)
    order = np.lexsort((~v, b, a))  # by (a, b), verified first
    a, b, s, v = a[order], b[order], s[order], v[order]
    fresh = np.ones(len(a), dtype=bool)
    fresh[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[fresh], b[fresh], s[fresh], v[fresh]


def _sources(edges_dir: Path, n_ranges: int) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """Per range, (int64 (E, 2) pairs, float32 (E,) similarity, verified) for its edges
    and for its rejected pairs, memory-mapped; raises when a pair file and its
    similarities do not match."""
    sources = []
    for r in range(n_ranges):
        for pairs_path, similarity_path, verified in (
            (edges_file(edges_dir, r), similarity_file(edges_dir, r), True),
            (rejected_file(edges_dir, r), rejected_similarity_file(edges_dir, r), False),
        ):
            pairs, similarity = _load(pairs_path), _load(similarity_path)
            if pairs.ndim != 2 or pairs.shape[1] != 2 or len(similarity) != len(pairs):
                raise RuntimeError(
                    f"{pairs_path}: pairs and similarities do not match; "
                    f"delete {edges_dir} and run again"
                )
            sources.append((pairs, similarity, verified))
    return sources


def write_edges_table(
    path: Path, edges_dir: Path, n_ranges: int, work: Path, parts: list[InputPart]
) -> tuple[int, int]:
    """Write ``edges.parquet`` (schema :data:`EDGES_SCHEMA`) atomically at ``path``
    from the verified edges and rejected pairs in ``edges_dir``; returns the numbers
    of rows written: (verified edges, rejected pairs)."""
    sources = _sources(edges_dir, n_ranges)
    files = SignatureFiles(work, parts)
    total = sum(len(pairs) for pairs, _, _ in sources)
    n_windows = max(1, -(-total // EDGES_PER_WINDOW))
    bounds = (np.arange(n_windows + 1, dtype=np.int64) * files.n_docs) // n_windows
    verified_written = rejected_written = 0
    with parquet_writer_atomic(path, EDGES_SCHEMA) as writer:
        for w in range(n_windows):
            a, b, similarity, verified = _window(sources, int(bounds[w]), int(bounds[w + 1]))
            if len(a) == 0:
                continue
            writer.write_table(
                pa.table(
                    {
                        "doc_a": files.doc_ids(a),
                        "doc_b": files.doc_ids(b),
                        "a": pa.array(a, type=pa.int64()),
                        "b": pa.array(b, type=pa.int64()),
                        "similarity": pa.array(similarity, type=pa.float32()),
                        "exact_jaccard": pa.nulls(len(a), type=pa.float32()),
                        "verified": pa.array(verified, type=pa.bool_()),
                    },
                    schema=EDGES_SCHEMA,
                )
            )
            n_verified = int(np.count_nonzero(verified))
            verified_written += n_verified
            rejected_written += len(a) - n_verified
    return verified_written, rejected_written
