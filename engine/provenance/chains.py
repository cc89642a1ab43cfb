"""Evidence chains between candidate documents and references (method steps 5 and 6
of :mod:`engine.provenance`): exact seeds, extended to maximal exact matches, chained
when they advance together in both texts."""

from __future__ import annotations

import numpy as np

from engine.provenance.params import ProvenanceParams
from kernels.backend import to_device, to_host
from kernels.chains import colinear_chains, multi_family_cover
from kernels.lcp import lcp_array
from kernels.seeds import SEPARATOR, hash_join_seeds, suffix_array_seeds
from kernels.suffix_array import suffix_array

CHAIN_FIELDS = ("doc", "ref", "start", "end", "ref_start", "ref_end", "matched")


def find_chains(
    doc_norm: list[bytes] | list[np.ndarray],
    ref_norm: list[np.ndarray],
    pair_doc: np.ndarray,
    pair_ref: np.ndarray,
    pair_gap: np.ndarray,
    boiler_masks: list[np.ndarray],
    params: ProvenanceParams,
    backend: str = "cpu",
    ref_family: np.ndarray | None = None,
    shared_span: int = 32,
) -> dict[str, np.ndarray]:
    """Evidence chains between documents and references.

    Args:
        doc_norm: n_d normalized documents (bytes or uint8 arrays).
        ref_norm: n_r normalized references (uint8 arrays).
        pair_doc, pair_ref: int64 (m,) candidate pairs (indices into the lists).
        pair_gap: int64 (m,) allowed gap (bytes) of each pair.
        boiler_masks: n_d arrays (0/1 per normalized byte of each document): bytes that
            do not count as matched (boilerplate, shared phrasing, uninformative).
        params: ``seed_bytes``, ``min_span`` and ``shared_min_families`` are used.
        backend: "cpu" (hash join per pair, :func:`kernels.seeds.hash_join_seeds`) or a
            GPU backend such as "cuda" (suffix array and LCP on the device,
            :func:`kernels.seeds.suffix_array_seeds`); both give the same chains.
        ref_family: optional int64 (n_r,) family of each reference. With it, document
            bytes that chains (of at least ``shared_span`` bytes) with references of
            ``shared_min_families`` or more families cover are shared phrasing, like
            bytes under shared anchors: this catches stock passages that independent
            outputs hold with small variations, which exact anchors miss.

    Returns:
        dict of int64 arrays ``doc, ref, start, end, ref_start, ref_end, matched``
        (normalized byte offsets, end exclusive), ordered by (doc, start, ref).
    """
    empty = {name: np.zeros(0, dtype=np.int64) for name in CHAIN_FIELDS}
    n_d, n_r = len(doc_norm), len(ref_norm)
    if n_d == 0 or n_r == 0 or len(pair_doc) == 0:
        return empty
    pieces = [np.frombuffer(t, np.uint8) if isinstance(t, bytes) else t for t in doc_norm]
    pieces.extend(ref_norm)
    data, starts = _pack(pieces)
    order = np.argsort(pair_doc * n_r + pair_ref, kind="stable")
    pair_keys = np.ascontiguousarray((pair_doc * n_r + pair_ref)[order], dtype=np.int64)
    gap_sorted = np.asarray(pair_gap, dtype=np.int64)[order]
    seeds = _seeds(data, starts, pieces, n_d, n_r, pair_keys, int(params.seed_bytes), backend)
    if len(seeds[0]) == 0:
        return empty
    order = np.lexsort((seeds[3], seeds[2], seeds[1], seeds[0]))
    doc, ref, p, q, length = (values[order] for values in seeds)
    gaps = gap_sorted[np.searchsorted(pair_keys, doc * n_r + ref)]
    norm_starts = np.zeros(n_d + 1, dtype=np.int64)
    np.cumsum(np.array([len(x) + 1 for x in pieces[:n_d]], dtype=np.int64), out=norm_starts[1:])
    # boiler[norm_starts[d] + 1 + x] marks byte x of document d, so that its prefix sum
    # at norm_starts[d] + x counts the marked bytes before offset x
    boiler = np.zeros(int(norm_starts[-1]) + 1, dtype=np.int64)
    for d, mask in enumerate(boiler_masks):
        boiler[norm_starts[d] + 1 : norm_starts[d] + 1 + len(mask)] = mask
    mems = (doc, ref, p, q, length, gaps)
    min_families = int(params.shared_min_families)
    if ref_family is not None and min_families <= len(np.unique(ref_family)):
        shared = _shared_phrasing(mems, boiler, norm_starts, ref_family, min_families, shared_span)
        boiler[1:] = np.maximum(boiler[1:], shared[:-1])
    chains = colinear_chains(*mems, np.cumsum(boiler), norm_starts, np.int64(params.min_span))
    result = dict(zip(CHAIN_FIELDS, chains))
    order = np.lexsort((result["ref"], result["start"], result["doc"]))
    return {name: values[order] for name, values in result.items()}


def _pack(pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(data, starts)``: the pieces back to back, each followed by ``SEPARATOR``
    (uint8), and the int64 (n + 1,) slot starts (:mod:`kernels.seeds` layout)."""
    lengths = np.array([len(x) + 1 for x in pieces], dtype=np.int64)
    starts = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    data = np.full(int(starts[-1]), SEPARATOR, dtype=np.uint8)
    for slot, piece in enumerate(pieces):
        data[starts[slot] : starts[slot] + len(piece)] = piece
    return data, starts


def _seeds(data, starts, pieces, n_d, n_r, pair_keys, seed, backend) -> tuple[np.ndarray, ...]:
    """MEMs ``(doc, ref, p, q, length)`` of the candidate pairs (``pair_keys`` sorted
    int64 ``doc * n_r + ref``): a hash join on "cpu", suffix-array groups on a GPU."""
    if backend == "cpu":
        return hash_join_seeds(
            data,
            starts,
            np.int64(n_d),
            np.ascontiguousarray(pair_keys // n_r),
            np.ascontiguousarray(pair_keys % n_r),
            np.int64(seed),
        )
    owner = np.full(int(starts[-1]), -1, dtype=np.int32)
    for slot, piece in enumerate(pieces):
        owner[starts[slot] : starts[slot] + len(piece)] = slot
    device_data = to_device(data, backend)
    device_sa = suffix_array(device_data, backend=backend)
    lcp = to_host(lcp_array(device_data, device_sa, backend=backend, max_lcp=seed))
    sa = to_host(device_sa)
    return suffix_array_seeds(
        data, sa, lcp, owner, starts, np.int64(n_d), np.int64(n_r), np.int64(seed), pair_keys
    )


def _shared_phrasing(mems, boiler, norm_starts, ref_family, min_families, shared_span):
    """int64 (len(boiler),) 0/1: document bytes (``norm_starts[d] + x`` for byte x of
    document d) that chains of at least ``shared_span`` bytes with references of
    ``min_families`` or more families cover."""
    shared = np.zeros(len(boiler), dtype=np.int64)
    every = colinear_chains(*mems, np.cumsum(boiler), norm_starts, np.int64(0))
    c_doc, c_ref, c_start, c_end = every[0], every[1], every[2], every[3]
    long_enough = (c_end - c_start) >= shared_span
    c_doc, c_start, c_end = c_doc[long_enough], c_start[long_enough], c_end[long_enough]
    c_fam = np.asarray(ref_family, dtype=np.int64)[c_ref[long_enough]]
    if len(c_doc):
        order = np.lexsort((c_start, c_fam, c_doc))
        multi_family_cover(
            c_doc[order],
            c_fam[order],
            c_start[order],
            c_end[order],
            norm_starts,
            np.int64(min_families),
            shared,
        )
    return shared
