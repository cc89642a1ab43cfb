"""Near-duplicate stages as plain functions over arrays (no files, no Dask).

- :func:`partition_signatures`: one partition's texts -> signatures and band keys.
- :func:`cluster_documents`: all signatures and band keys -> clusters and keep flags.

Both run on a resolved backend; results come back to the host as NumPy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.params import DedupParams
from engine.texts import pack
from kernels.backend import to_device, to_host
from kernels.hashing import MAX_HASH32
from kernels.lsh import band_keys as compute_band_keys
from kernels.lsh import candidate_edges
from kernels.minhash import signatures as compute_signatures
from kernels.union_find import connected_components


@dataclass
class PartitionSignatures:
    """Per-document arrays of one partition (host NumPy).

    Attributes:
        signatures: uint32 (n, num_perm). band_keys: uint64 (n, bands).
        n_bytes: int64 (n,) UTF-8 length of each text in bytes.
    """

    signatures: np.ndarray
    band_keys: np.ndarray
    n_bytes: np.ndarray


def partition_signatures(
    texts: pa.LargeStringArray, params: DedupParams, backend: str
) -> PartitionSignatures:
    """Signatures and band keys of one partition's texts."""
    data, offsets = pack(texts)
    sig = compute_signatures(
        data,
        offsets,
        num_perm=params.num_perm,
        ngram=params.ngram,
        shingle=params.shingle,
        seed=params.seed,
        backend=backend,
    )
    bands, rows = params.band_rows
    keys = compute_band_keys(sig, bands, rows, backend=backend)
    return PartitionSignatures(to_host(sig), to_host(keys), np.diff(offsets))


@dataclass
class Clusters:
    """Cluster assignment of ``n`` documents, indexed by global input position.

    Attributes:
        cluster_id: int64 (n,) smallest document index in the cluster.
        cluster_size: int64 (n,). keep: bool (n,), one True per cluster.
        stats: counts for summary.json.
    """

    cluster_id: np.ndarray
    cluster_size: np.ndarray
    keep: np.ndarray
    stats: dict


def has_shingles(signatures: np.ndarray) -> np.ndarray:
    """bool (n,): False for documents without any shingle (signature all 0xFFFFFFFF).

    A document with shingles has an all-max signature with probability 2**-(32K).
    """
    return ~np.all(signatures == MAX_HASH32, axis=1)


def cluster_documents(
    signatures: np.ndarray,
    band_keys: np.ndarray,
    n_bytes: np.ndarray,
    params: DedupParams,
    backend: str,
    dates: np.ndarray | None = None,
) -> Clusters:
    """Verified LSH edges -> connected components -> one kept document per cluster.

    Documents without shingles (empty after normalization) take part in no bucket:
    each is its own cluster and is kept. ``dates``: int64 (n,) for ``keep="earliest"``.
    """
    n = signatures.shape[0]
    active = np.flatnonzero(has_shingles(signatures))
    src, dst, stats = candidate_edges(
        to_device(np.ascontiguousarray(band_keys[active]), backend),
        to_device(np.ascontiguousarray(signatures[active]), backend),
        threshold=float(params.threshold),
        max_anchors=params.max_anchors,
        backend=backend,
    )
    labels_active = to_host(connected_components(len(active), src, dst, backend=backend))
    cluster_id = np.arange(n, dtype=np.int64)
    cluster_id[active] = active[labels_active]
    cluster_size = np.bincount(cluster_id, minlength=n).astype(np.int64)[cluster_id]
    keep = choose_kept(cluster_id, n_bytes, params.keep, dates)
    stats = dict(stats)
    stats["edges"] = int(len(src))
    stats["documents_without_shingles"] = int(n - len(active))
    stats["clusters"] = int(np.count_nonzero(cluster_id == np.arange(n)))
    stats["duplicate_clusters"] = int(np.count_nonzero((cluster_size > 1) & keep))
    stats["duplicates"] = int(n - np.count_nonzero(keep))
    stats["largest_cluster"] = int(cluster_size.max()) if n else 0
    return Clusters(cluster_id, cluster_size, keep, stats)


def choose_kept(
    cluster_id: np.ndarray,
    n_bytes: np.ndarray,
    policy: str,
    dates: np.ndarray | None = None,
) -> np.ndarray:
    """bool (n,): the kept member of each cluster.

    ``first``: the cluster's smallest index (its id). ``longest``: the most bytes, ties
    to the smallest index. ``earliest``: the smallest ``dates`` value (int64
    microseconds, :func:`engine.dates.parse_dates`; undated documents hold the largest
    int64), ties to the smallest index.
    """
    n = cluster_id.shape[0]
    if policy == "first":
        return cluster_id == np.arange(n)
    if policy in ("longest", "earliest"):
        if policy == "longest":
            rank = -n_bytes.astype(np.int64)
        else:
            if dates is None or len(dates) != n:
                raise ValueError("keep='earliest' needs one date per document (dates=...)")
            rank = np.asarray(dates, dtype=np.int64)
        # sort by (cluster, rank, index); the first of each cluster wins
        order = np.lexsort((np.arange(n), rank, cluster_id))
        first = np.ones(n, dtype=bool)
        first[1:] = cluster_id[order][1:] != cluster_id[order][:-1]
        keep = np.zeros(n, dtype=bool)
        keep[order[first]] = True
        return keep
    raise ValueError(f"keep must be 'first', 'longest' or 'earliest', got {policy!r}")
