"""Reference families and the document frequencies that count them.

Outputs that copy or extend one another (a regeneration, a later turn repeating an
earlier answer, a conversation shared twice) form a family; an anchor's document
frequency counts families, not references, so that text two *independent* outputs
share (stock phrasing) is told apart from text one output and its own copies hold.
"""

from __future__ import annotations

import numpy as np

from kernels.postings import distinct_groups_per_key, shared_key_pairs
from kernels.union_find import connected_components_cpu


def _key_starts(keys: np.ndarray) -> np.ndarray:
    """int64 (n_keys + 1,): the runs of equal keys of sorted ``keys``."""
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True]).astype(np.int64)


def _related_by_anchors(
    keys: np.ndarray,
    refs: np.ndarray,
    n_refs: int,
    containment: float,
    max_df: int,
    min_shared: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Edges (a, b) int64 between references whose shared keys reach the thresholds."""
    a, b = shared_key_pairs(refs, _key_starts(keys), np.int64(max_df))
    if len(a) == 0:
        return a, b
    pair, shared = np.unique(a * np.int64(n_refs) + b, return_counts=True)
    a, b = pair // n_refs, pair % n_refs
    n_keys = np.bincount(refs, minlength=n_refs)
    related = shared >= containment * np.minimum(n_keys[a], n_keys[b])
    if min_shared is not None:
        related |= shared >= min_shared
    return a[related], b[related]


def _related_by_group(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges chaining the references of each group code (>= 0) together."""
    codes = np.asarray(groups, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    same = (codes[order][1:] == codes[order][:-1]) & (codes[order][1:] >= 0)
    return order[:-1][same], order[1:][same]


def reference_families(
    anchor_keys: np.ndarray,
    anchor_refs: np.ndarray,
    n_refs: int,
    containment: float,
    max_df: int = 64,
    groups: np.ndarray | None = None,
    min_shared: int | None = None,
) -> np.ndarray:
    """Families of references: groups of outputs that copy or extend one another.

    Two references are related when the distinct anchor keys they share reach
    ``containment`` times the distinct keys of the smaller one (a regeneration, a
    later turn repeating an earlier answer, a near-duplicate conversation); families
    are the connected components of that relation. Keys held by more than ``max_df``
    references (stock phrasing, far above any family) are not counted, which bounds
    the work to ``max_df**2 / 2`` pairs per key.

    Args:
        anchor_keys: uint64 (m,) sorted; anchor_refs: int64 (m,) reference of each
            posting ((key, ref) unique, sorted by key then ref).
        n_refs: number of references (family labels index them).
        containment: share of the smaller reference's keys, in (0, 1].
        groups: optional int64 (n_refs,) conversation codes (-1: unknown); references
            of one conversation are one family whatever they share.
        min_shared: optional; two references sharing at least this many distinct keys
            are related whatever their sizes (a passage in common that would count
            as evidence of copying, as turns of one conversation revising the same
            code have).

    Returns:
        int64 (n_refs,): each reference's family, the smallest reference index in it.

    Example:
        >>> keys = np.array([1, 1, 2, 2, 3], dtype=np.uint64)
        >>> refs = np.array([0, 1, 0, 1, 2], dtype=np.int64)
        >>> reference_families(keys, refs, 3, containment=0.5).tolist()
        [0, 0, 2]
    """
    keys = np.asarray(anchor_keys, dtype=np.uint64)
    refs = np.ascontiguousarray(anchor_refs, dtype=np.int64)
    src = [np.zeros(0, np.int64)]
    dst = [np.zeros(0, np.int64)]
    if len(keys):
        a, b = _related_by_anchors(keys, refs, n_refs, containment, max_df, min_shared)
        src.append(a)
        dst.append(b)
    if groups is not None and len(groups):
        a, b = _related_by_group(groups)
        src.append(a)
        dst.append(b)
    return connected_components_cpu(
        np.int64(n_refs),
        np.ascontiguousarray(np.concatenate(src)),
        np.ascontiguousarray(np.concatenate(dst)),
    )


def family_document_frequency(
    anchor_keys: np.ndarray, anchor_refs: np.ndarray, families: np.ndarray
) -> np.ndarray:
    """uint32 (m,): for every posting (sorted uint64 keys, int64 refs), the number of
    distinct families (int64 (n_refs,)) holding its key."""
    keys = np.asarray(anchor_keys, dtype=np.uint64)
    out = np.zeros(len(keys), dtype=np.uint32)
    if len(keys) == 0:
        return out
    fam = np.ascontiguousarray(np.asarray(families, dtype=np.int64)[np.asarray(anchor_refs)])
    distinct_groups_per_key(fam, _key_starts(keys), out)
    return out
