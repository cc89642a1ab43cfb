"""Estimated Jaccard similarity from MinHash signatures: per edge, and per cluster member.

The estimate of two documents' Jaccard similarity is the share of equal slots of
their signatures (uint32 (K,) each): ``count(sig_a == sig_b) / K``, a float32 in
``[0, 1]`` in steps of ``1 / K``.

- :func:`signature_similarity`: row by row over two signature matrices.
- :func:`edge_similarity`: the verified edges of one shuffle range, from the records
  the reduce task already holds (:mod:`engine.neardup.shuffle`).
- :func:`rejected_candidates`: the candidate pairs of one shuffle range that failed
  verification (each bucket's first member against the others, below the threshold).
- :class:`SignatureFiles`: doc ids and signatures of any global input position, read
  from the stage-1 signature files (``_work/signatures/part-NNNNN.arrow``,
  memory-mapped; only the parts holding the asked positions are opened).
- :func:`member_similarity`: for ``clusters.parquet``, each document's similarity to
  the kept document of its cluster (1.0 for the kept document and for singletons).
  Members joined through a chain of edges (A~B, B~C) can be below the threshold
  against the kept one: this column shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.io import InputPart
from engine.neardup.signatures import read_signatures
from engine.run.atomic import matrix_of
from kernels.lsh import matches_needed

REJECTED_PER_BUCKET = 64  # members of a bucket whose pair with its first member is checked
_PAIRS_PER_CHUNK = 8192  # candidate pairs compared at a time (bounds the gathered rows)


def signature_similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """float32 (n,): share of equal slots of two uint32 (n, K) signature matrices
    (the MinHash estimate of Jaccard similarity), row by row."""
    if left.shape != right.shape:
        raise ValueError(f"signature shapes differ: {left.shape} and {right.shape}")
    if left.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    equal = np.count_nonzero(left == right, axis=1)
    return (equal / np.float64(left.shape[1])).astype(np.float32)


def edge_similarity(edges: np.ndarray, docs: np.ndarray, signatures: np.ndarray) -> np.ndarray:
    """float32 (E,): :func:`signature_similarity` of each edge's two ends.

    ``edges``: int64 (E, 2) global positions; ``docs``: int64 (m,) the global position
    of each row of ``signatures`` (uint32 (m, K)); a document may have several rows
    (one per band record), all equal. Every edge end must be among ``docs``.
    """
    if len(edges) == 0:
        return np.zeros(0, dtype=np.float32)
    unique_docs, first_row = np.unique(docs, return_index=True)
    rows_a = first_row[np.searchsorted(unique_docs, edges[:, 0])]
    rows_b = first_row[np.searchsorted(unique_docs, edges[:, 1])]
    return signature_similarity(signatures[rows_a], signatures[rows_b])


def _equal_slots(signatures: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """int64 (P,): equal slots of signature rows ``rows_a[i]`` and ``rows_b[i]``,
    gathered :data:`_PAIRS_PER_CHUNK` pairs at a time."""
    matches = np.empty(len(rows_a), dtype=np.int64)
    for start in range(0, len(rows_a), _PAIRS_PER_CHUNK):
        end = start + _PAIRS_PER_CHUNK
        equal = signatures[rows_a[start:end]] == signatures[rows_b[start:end]]
        matches[start:end] = np.count_nonzero(equal, axis=1)
    return matches


def rejected_candidates(
    bands: np.ndarray,
    keys: np.ndarray,
    docs: np.ndarray,
    signatures: np.ndarray,
    *,
    threshold: float,
    max_members: int = REJECTED_PER_BUCKET,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Candidate pairs of one shuffle range that failed verification.

    Buckets are runs of equal (band, key) among the records, members ordered by
    document as in :func:`kernels.lsh.record_edges`. For each bucket of two or more
    members, the first member (its smallest document, always the first anchor) is
    paired with each other member among the bucket's first ``max_members``; the pairs
    whose estimated Jaccard is below ``threshold`` (fewer equal slots than
    :func:`kernels.lsh.matches_needed`) are returned. Pairs at or above it are
    verified edges of the anchor walk. Host-only NumPy; memory: a few int64 per record
    plus :data:`_PAIRS_PER_CHUNK` pairs of signature rows.

    Args:
        bands: int (m,) band index. keys: uint64 (m,) band keys. docs: int64 (m,)
            global input positions. signatures: uint32 (m, K), one row per record.
        threshold: the verification threshold (0 < threshold <= 1).
        max_members: members per bucket that are checked (>= 2).

    Returns:
        pairs int64 (R, 2), global positions ``a < b``, distinct, sorted by (a, b);
        similarity float32 (R,) the share of equal slots, row-aligned; and ``capped``
        (int): bucket members beyond ``max_members``, whose pair was not checked.
    """
    if max_members < 2:
        raise ValueError(f"max_members must be at least 2, got {max_members}")
    docs = np.asarray(docs, dtype=np.int64)
    m = len(docs)
    empty = (np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32))
    if m < 2:
        return (*empty, 0)
    order = np.lexsort((docs, np.asarray(keys), np.asarray(bands)))
    sorted_keys, sorted_bands = np.asarray(keys)[order], np.asarray(bands)[order]
    is_head = np.ones(m, dtype=bool)
    is_head[1:] = (sorted_keys[1:] != sorted_keys[:-1]) | (sorted_bands[1:] != sorted_bands[:-1])
    heads = np.flatnonzero(is_head)
    head_of = heads[np.cumsum(is_head) - 1]  # (m,) sorted position of each bucket's head
    rank = np.arange(m) - head_of  # place within the bucket (0 for the head)
    capped = int(np.count_nonzero(rank >= max_members))
    checked = np.flatnonzero((rank > 0) & (rank < max_members))
    rows_first, rows_other = order[head_of[checked]], order[checked]
    matches = _equal_slots(signatures, rows_first, rows_other)
    below = matches < matches_needed(threshold, signatures.shape[1])
    if not below.any():
        return (*empty, capped)
    a, b = docs[rows_first[below]], docs[rows_other[below]]
    similarity = (matches[below] / np.float64(signatures.shape[1])).astype(np.float32)
    by_pair = np.lexsort((b, a))
    a, b, similarity = a[by_pair], b[by_pair], similarity[by_pair]
    fresh = np.ones(len(a), dtype=bool)
    fresh[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return np.stack([a[fresh], b[fresh]], axis=1), similarity[fresh], capped


class SignatureFiles:
    """Random access by global input position to the stage-1 signature files.

    ``offsets``: int64 (n_parts + 1,), the first global position of each part. Files
    are memory-mapped when a lookup needs them, so memory follows the rows asked for.
    """

    def __init__(self, work: Path, parts: list[InputPart]) -> None:
        self.work = Path(work)
        self.parts = parts
        counts = [read_signatures(self.work, p).num_rows for p in parts]
        self.offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)

    @property
    def n_docs(self) -> int:
        return int(self.offsets[-1])

    def _take(self, positions: np.ndarray, column: str) -> tuple[list, np.ndarray]:
        """Per needed part (in part order) the taken values, and the permutation that
        puts their concatenation back in the order of ``positions``."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(positions) and (positions.min() < 0 or positions.max() >= self.n_docs):
            raise ValueError(f"positions must be in [0, {self.n_docs})")
        part_of = np.searchsorted(self.offsets, positions, side="right") - 1
        order = np.argsort(part_of, kind="stable")
        chunks = []
        for p in np.unique(part_of):
            local = positions[part_of == p] - self.offsets[p]
            table = read_signatures(self.work, self.parts[int(p)])
            taken = table.column(column).take(pa.array(local, type=pa.int64()))
            chunks.append(taken.combine_chunks())  # an Array: chunked_array() of
            # ChunkedArrays converts them value by value in Python
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return chunks, inverse

    def doc_ids(self, positions: np.ndarray) -> pa.Array:
        """The ``doc_id`` (string) of each global position, in the order given."""
        chunks, inverse = self._take(positions, "doc_id")
        if not chunks:
            return pa.array([], type=pa.string())
        ids = pa.chunked_array(chunks, type=chunks[0].type).combine_chunks()
        return ids.take(pa.array(inverse)).cast(pa.string())

    def signatures(self, positions: np.ndarray, num_perm: int) -> np.ndarray:
        """uint32 (len(positions), num_perm) signatures, in the order given (NumPy
        indexing of each memory-mapped file: Arrow's ``take`` on fixed-size lists
        costs about 1 ms a row)."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(positions) and (positions.min() < 0 or positions.max() >= self.n_docs):
            raise ValueError(f"positions must be in [0, {self.n_docs})")
        out = np.empty((len(positions), num_perm), dtype=np.uint32)
        part_of = np.searchsorted(self.offsets, positions, side="right") - 1
        for p in np.unique(part_of):
            rows = np.flatnonzero(part_of == p)
            column = read_signatures(self.work, self.parts[int(p)]).column("signature")
            matrix = matrix_of(column, num_perm, np.uint32)  # zero-copy on the mapping
            out[rows] = matrix[positions[rows] - self.offsets[p]]
        return out


def member_similarity(
    work: Path,
    parts: list[InputPart],
    labels: np.ndarray,
    cluster_size: np.ndarray,
    keep: np.ndarray,
) -> Iterator[np.ndarray]:
    """float32 per part, in turn: each document's estimated Jaccard to the kept
    document of its cluster (1.0 for kept documents and singletons).

    ``labels``, ``cluster_size``: int64 (n,); ``keep``: bool (n,) with one kept
    document per cluster; all in global input order. Memory: one part's rows.
    """
    files = SignatureFiles(work, parts)
    kept_of = np.full(len(labels), -1, dtype=np.int64)
    kept = np.flatnonzero(keep)
    kept_of[labels[kept]] = kept
    for i, part in enumerate(parts):
        start, end = int(files.offsets[i]), int(files.offsets[i + 1])
        similarity = np.ones(end - start, dtype=np.float32)
        members = np.flatnonzero((cluster_size[start:end] > 1) & ~keep[start:end])
        if len(members):
            targets = kept_of[labels[start + members]]
            if (targets < 0).any():
                raise RuntimeError("a cluster has no kept document; this is a bug")
            own = read_signatures(work, part).column("signature")
            num_perm = own.type.list_size
            own_rows = matrix_of(own, num_perm, np.uint32)[members]
            similarity[members] = signature_similarity(
                own_rows, files.signatures(targets, num_perm)
            )
        yield similarity
