"""LSH band keys and verified candidate edges.

Band keys: signature row ``d`` (uint32 (K,)) is cut into ``bands`` bands of ``rows``
values; ``band_keys[d, j]`` (uint64) hashes band ``j`` (:func:`kernels.hashing.band_seed`
and :func:`kernels.hashing.combine`). Documents that share a key in some band are
candidates.

Candidate edges: within one band, documents sorted by (key, document index) form
buckets of equal keys. Each bucket is walked in order with a short list of anchors:
a member is compared with the anchors (Jaccard estimated from the full signatures:
the fraction of equal positions); it is linked to the first anchor it matches and
otherwise becomes an anchor itself. This gives star edges (never all pairs), every
edge verified, so a chance key collision cannot chain unrelated documents together,
and a bucket holding two families still links each family. At most ``max_anchors``
anchors are kept per bucket; members beyond that which match none are counted
(``unverified``) and left unlinked.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda

from kernels import traffic
from kernels.backend import array_module, launch_config, to_device
from kernels.hashing import band_seed, combine

DEFAULT_MAX_ANCHORS = 32
_LOCAL_ANCHORS = 64  # size of the per-thread anchor list on the device (>= max_anchors)


# --------------------------------------------------------------------------- band keys


@numba.njit(parallel=True, cache=True, nogil=True)
def band_keys_cpu(signatures, bands, rows):
    """CPU twin of :func:`band_keys_kernel`: uint64 (n_docs, bands)."""
    n_docs = signatures.shape[0]
    out = np.empty((n_docs, bands), dtype=np.uint64)
    for d in numba.prange(n_docs):
        for j in range(bands):
            h = band_seed(j)
            for r in range(rows):
                h = combine(h, signatures[d, j * rows + r])
            out[d, j] = h
    return out


@cuda.jit
def band_keys_kernel(signatures, bands, rows, out):
    """One thread per (document, band) pair, flattened."""
    i = cuda.grid(1)
    n_docs = signatures.shape[0]
    if i >= n_docs * bands:
        return
    d = i // bands
    j = i - d * bands
    h = np.uint64(band_seed(j))
    for r in range(rows):
        h = np.uint64(combine(h, signatures[d, j * rows + r]))
    out[d, j] = h


def band_keys(signatures, bands: int, rows: int, *, backend: str = "cpu"):
    """LSH band keys of signatures (uint32 (n, K)) -> uint64 (n, bands).

    Raises ValueError when ``bands * rows`` exceeds K.
    """
    if signatures.ndim != 2 or signatures.dtype != np.uint32:
        raise ValueError("signatures must be a 2-d uint32 array (n_docs, num_perm)")
    if bands < 1 or rows < 1 or bands * rows > signatures.shape[1]:
        raise ValueError(
            f"bands * rows must be between 1 and num_perm={signatures.shape[1]}, "
            f"got bands={bands}, rows={rows}"
        )
    if backend == "cpu":
        return band_keys_cpu(np.ascontiguousarray(signatures), bands, rows)
    xp = array_module(backend)
    out = xp.empty((signatures.shape[0], bands), dtype=np.uint64)
    if signatures.shape[0] == 0:
        return out
    blocks, threads = launch_config(signatures.shape[0] * bands)
    traffic.launch(
        band_keys_kernel, (blocks, threads), to_device(signatures, backend), bands, rows, out
    )
    return out


# --------------------------------------------------------------------------- edges


@numba.njit(cache=True, nogil=True)
def _bucket_edges_cpu(
    sorted_docs, start, end, signatures, min_matches, max_anchors, anchors, src, unverified
):
    """Anchor walk over one bucket ``sorted_docs[start:end]`` (see module docstring)."""
    num_perm = signatures.shape[1]
    n_anchors = 0
    for i in range(start, end):
        doc = sorted_docs[i]
        linked = False
        for t in range(n_anchors):
            anchor = anchors[t]
            matches = 0
            for k in range(num_perm):
                if signatures[anchor, k] == signatures[doc, k]:
                    matches += 1
            if matches >= min_matches:
                src[i] = anchor
                linked = True
                break
        if not linked:
            if n_anchors < max_anchors:
                anchors[n_anchors] = doc
                n_anchors += 1
            else:
                unverified[i] = True


@numba.njit(parallel=True, cache=True, nogil=True)
def bucket_edges_cpu(sorted_docs, bucket_starts, signatures, min_matches, max_anchors):
    """CPU twin of :func:`bucket_edges_kernel`.

    Args:
        sorted_docs: int64 (m,) document indices sorted by (band key, index).
        bucket_starts: int64 (n_buckets + 1,) bucket boundaries into ``sorted_docs``.
        signatures: uint32 (n_docs, K). min_matches: equal positions needed (int).
        max_anchors: anchors kept per bucket (int, <= 64).

    Returns:
        src int64 (m,): for position i, the anchor ``sorted_docs[i]`` links to, or -1;
        unverified bool (m,): members left unlinked because the anchor list was full.
    """
    m = sorted_docs.shape[0]
    src = np.full(m, -1, dtype=np.int64)
    unverified = np.zeros(m, dtype=np.bool_)
    n_buckets = bucket_starts.shape[0] - 1
    for bkt in numba.prange(n_buckets):
        anchors = np.empty(max_anchors, dtype=np.int64)
        _bucket_edges_cpu(
            sorted_docs,
            bucket_starts[bkt],
            bucket_starts[bkt + 1],
            signatures,
            min_matches,
            max_anchors,
            anchors,
            src,
            unverified,
        )
    return src, unverified


@cuda.jit
def bucket_edges_kernel(
    sorted_docs, bucket_starts, signatures, min_matches, max_anchors, src, unverified
):
    """One thread per bucket; the same anchor walk as ``_bucket_edges_cpu``."""
    bkt = cuda.grid(1)
    if bkt >= bucket_starts.shape[0] - 1:
        return
    anchors = cuda.local.array(_LOCAL_ANCHORS, dtype=numba.int64)
    num_perm = signatures.shape[1]
    n_anchors = 0
    for i in range(bucket_starts[bkt], bucket_starts[bkt + 1]):
        doc = sorted_docs[i]
        linked = False
        for t in range(n_anchors):
            anchor = anchors[t]
            matches = 0
            for k in range(num_perm):
                if signatures[anchor, k] == signatures[doc, k]:
                    matches += 1
            if matches >= min_matches:
                src[i] = anchor
                linked = True
                break
        if not linked:
            if n_anchors < max_anchors:
                anchors[n_anchors] = doc
                n_anchors += 1
            else:
                unverified[i] = True


def _check_edge_params(threshold: float, max_anchors: int) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if not 1 <= max_anchors <= _LOCAL_ANCHORS:
        raise ValueError(f"max_anchors must be in [1, {_LOCAL_ANCHORS}], got {max_anchors}")


def matches_needed(threshold: float, num_perm: int) -> int:
    """Equal signature slots (int) two documents need to pass verification: the
    smallest count whose share of ``num_perm`` is at least ``threshold``."""
    return int(np.ceil(threshold * num_perm - 1e-9))


def _edges_in_sorted_buckets(
    sorted_rows, is_head, signatures, min_matches, max_anchors, backend, stats
):
    """Anchor-walk every bucket of a sorted run of rows.

    Args:
        sorted_rows: int64 (m,) row indices into ``signatures``, bucket by bucket.
        is_head: bool (m,) True where a new bucket starts (``is_head[0]`` is True).
        signatures: uint32 (rows, K) on the backend.

    Returns:
        (src, dst) int64 arrays of row indices: verified edges (anchor, member).
    """
    xp = array_module(backend)
    ops = traffic.host_ops(backend)  # host waits counted on the device
    m = sorted_rows.shape[0]
    heads = ops.nonzero(xp, is_head)
    sizes = xp.diff(xp.concatenate([heads, xp.asarray([m], dtype=heads.dtype)]))
    multi = sizes > 1  # buckets of one member produce nothing and are dropped
    if not bool(ops.read_scalar(multi.any())):
        empty = xp.zeros(0, dtype=np.int64)
        return empty, empty
    member_counts = ops.select(sizes, multi)
    bucket_starts = xp.zeros(member_counts.shape[0] + 1, dtype=np.int64)
    bucket_starts[1:] = xp.cumsum(member_counts)
    in_multi = multi[xp.cumsum(is_head) - 1]  # per position: its bucket has > 1 member
    members = xp.ascontiguousarray(ops.select(sorted_rows, in_multi))
    stats["candidate_pairs"] += int(ops.read_scalar(member_counts.sum())) - int(
        member_counts.shape[0]
    )
    if backend == "cpu":
        src, unverified = bucket_edges_cpu(
            members, bucket_starts, signatures, min_matches, max_anchors
        )
    else:
        src = xp.full(members.shape[0], -1, dtype=np.int64)
        unverified = xp.zeros(members.shape[0], dtype=np.bool_)
        blocks, threads = launch_config(member_counts.shape[0], 64)
        traffic.launch(
            bucket_edges_kernel,
            (blocks, threads),
            members,
            bucket_starts,
            signatures,
            min_matches,
            max_anchors,
            src,
            unverified,
        )
    linked = src >= 0
    stats["verified_edges"] += int(ops.read_scalar(linked.sum()))
    stats["unverified"] += int(ops.read_scalar(unverified.sum()))
    return ops.select(src, linked), ops.select(members, linked)


def _dedupe_edges(all_src, all_dst, xp, ops):
    """Concatenate edge lists, orient them (src < dst), sort and drop repeats
    (``ops``: :func:`kernels.traffic.host_ops` of the backend)."""
    if not all_src:
        empty = xp.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    src = xp.concatenate(all_src)
    dst = xp.concatenate(all_dst)
    lo = xp.minimum(src, dst)
    hi = xp.maximum(src, dst)
    order = xp.lexsort(xp.stack([hi, lo]))
    lo = lo[order]
    hi = hi[order]
    keep = xp.ones(lo.shape[0], dtype=np.bool_)
    keep[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return ops.select(lo, keep), ops.select(hi, keep)


def _new_stats() -> dict:
    return {"candidate_pairs": 0, "verified_edges": 0, "unverified": 0}


def candidate_edges(
    band_keys,
    signatures,
    *,
    threshold: float,
    max_anchors: int = DEFAULT_MAX_ANCHORS,
    backend: str = "cpu",
):
    """Verified star edges from all bands, deduplicated (all documents in memory).

    Args:
        band_keys: uint64 (n_docs, bands). signatures: uint32 (n_docs, K).
        threshold: minimum estimated Jaccard for an edge (0 < threshold <= 1).
        max_anchors: anchors kept per bucket (1..64).

    Returns:
        (src, dst, stats): int64 (E,) arrays with src < dst, sorted by (src, dst), on the
        backend's array module; stats is a dict of host ints: ``candidate_pairs``
        (bucket members past the first), ``verified_edges`` (before deduplication),
        ``unverified`` (members left unlinked because a bucket's anchor list was full).
    """
    _check_edge_params(threshold, max_anchors)
    xp = array_module(backend)
    n_docs, bands = band_keys.shape
    min_matches = matches_needed(threshold, signatures.shape[1])
    d_signatures = to_device(signatures, backend)
    stats = _new_stats()
    all_src, all_dst = [], []
    doc_index = xp.arange(n_docs, dtype=np.int64)
    if n_docs >= 2:
        for j in range(bands):
            keys = xp.ascontiguousarray(band_keys[:, j])
            # by key, then document index; one dtype (uint64: int64 would promote to float)
            order = xp.lexsort(xp.stack([doc_index.astype(np.uint64), keys]))
            sorted_keys = keys[order]
            is_head = xp.empty(n_docs, dtype=np.bool_)
            is_head[0] = True
            is_head[1:] = sorted_keys[1:] != sorted_keys[:-1]
            with traffic.stage("lsh.band"):
                src, dst = _edges_in_sorted_buckets(
                    doc_index[order],
                    is_head,
                    d_signatures,
                    min_matches,
                    max_anchors,
                    backend,
                    stats,
                )
            all_src.append(src)
            all_dst.append(dst)
    src, dst = _dedupe_edges(all_src, all_dst, xp, traffic.host_ops(backend))
    return src, dst, stats


def record_edges(
    bands,
    keys,
    docs,
    signatures,
    *,
    threshold: float,
    max_anchors: int = DEFAULT_MAX_ANCHORS,
    backend: str = "cpu",
):
    """Verified star edges from shuffled (band, key, document, signature) records.

    The reduce step of a disk-backed LSH shuffle: one record per (document, band),
    carrying the document's full signature so verification needs nothing else.
    Buckets are runs of equal (band, key); members are ordered by document, so the
    result equals :func:`candidate_edges` restricted to the records' buckets.

    Args:
        bands: int (m,) band index. keys: uint64 (m,) band keys. docs: int64 (m,)
            global document indices. signatures: uint32 (m, K), one row per record.

    Returns:
        (src, dst, stats) as :func:`candidate_edges`, in global document indices.
    """
    _check_edge_params(threshold, max_anchors)
    xp = array_module(backend)
    m = int(docs.shape[0])
    stats = _new_stats()
    if m < 2:
        empty = xp.zeros(0, dtype=np.int64)
        return empty, empty.copy(), stats
    docs = xp.asarray(docs)
    keys = xp.asarray(keys)
    bands = xp.asarray(bands)
    # by (band, key, doc); stacked as uint64 (mixing int64 and uint64 would give float64)
    order = xp.lexsort(xp.stack([docs.astype(np.uint64), keys, bands.astype(np.uint64)]))
    sorted_keys = keys[order]
    sorted_bands = bands[order]
    is_head = xp.empty(m, dtype=np.bool_)
    is_head[0] = True
    is_head[1:] = (sorted_keys[1:] != sorted_keys[:-1]) | (sorted_bands[1:] != sorted_bands[:-1])
    src, dst = _edges_in_sorted_buckets(
        order.astype(np.int64),
        is_head,
        to_device(signatures, backend),
        matches_needed(threshold, signatures.shape[1]),
        max_anchors,
        backend,
        stats,
    )
    src, dst = _dedupe_edges([docs[src]], [docs[dst]], xp, traffic.host_ops(backend))
    return src, dst, stats
