"""Chaining of exact matches (MEMs, :mod:`kernels.seeds`) into colinear chains, and
the document bytes that chains with several reference families cover."""

from __future__ import annotations

import numba
import numpy as np

MAX_OPEN_CHAINS = 8  # chains of one (document, reference) pair that can still grow


@numba.njit(cache=True, nogil=True)
def colinear_chains(doc, ref, p, q, length, gaps, boiler_prefix, doc_norm_starts, min_span):
    """Colinear chains of MEMs per (document, reference) pair.

    A MEM joins an open chain of its pair when it advances in both texts with gaps of
    at most the pair's gap and a diagonal drift of at most the gap (the open chain
    with most matched bytes wins); a MEM inside a chain is dropped; otherwise it opens
    a chain (at most ``MAX_OPEN_CHAINS`` open per pair: the weakest is dropped).

    Args:
        doc, ref, p, q, length: int64 (n,) MEMs (:mod:`kernels.seeds`), sorted by
            (doc, ref, p, q); ``p``/``q`` offsets in the document / reference.
        gaps: int64 (n,) the allowed gap (bytes) of each MEM's pair.
        boiler_prefix: int64 prefix counts of bytes that do not count as matched
            (boilerplate, shared phrasing, uninformative) over the packed normalized
            documents: bytes before offset x of document d are
            ``boiler_prefix[doc_norm_starts[d] + x]``.
        doc_norm_starts: int64 (n_docs + 1,) document starts in that packing.
        min_span: int64 matched bytes a chain needs to be returned.

    Returns:
        int64 arrays doc, ref, p_start, p_end, q_start, q_end, matched (bytes outside
        boilerplate), one row per chain, grouped by pair.
    """
    n = doc.shape[0]
    res_doc = np.empty(n, dtype=np.int64)
    res_ref = np.empty(n, dtype=np.int64)
    res_ps = np.empty(n, dtype=np.int64)
    res_pe = np.empty(n, dtype=np.int64)
    res_qs = np.empty(n, dtype=np.int64)
    res_qe = np.empty(n, dtype=np.int64)
    res_matched = np.empty(n, dtype=np.int64)
    count = 0
    open_ps = np.empty(MAX_OPEN_CHAINS, dtype=np.int64)
    open_pe = np.empty(MAX_OPEN_CHAINS, dtype=np.int64)
    open_qs = np.empty(MAX_OPEN_CHAINS, dtype=np.int64)
    open_qe = np.empty(MAX_OPEN_CHAINS, dtype=np.int64)
    open_matched = np.empty(MAX_OPEN_CHAINS, dtype=np.int64)
    i = 0
    while i < n:
        g = i
        while g < n and doc[g] == doc[i] and ref[g] == ref[i]:
            g += 1
        base = doc_norm_starts[doc[i]]
        gap = gaps[i]
        n_open = 0
        sp = np.int64(0)
        sq = np.int64(0)
        se = np.int64(0)
        for s in range(i, g + 1):
            if s < g:
                sp = p[s]
                sq = q[s]
                se = sp + length[s]
            # close chains that can no longer grow (or everything at the group's end)
            c = 0
            while c < n_open:
                if s == g or open_pe[c] + gap < sp:
                    if open_matched[c] >= min_span:
                        res_doc[count] = doc[i]
                        res_ref[count] = ref[i]
                        res_ps[count] = open_ps[c]
                        res_pe[count] = open_pe[c]
                        res_qs[count] = open_qs[c]
                        res_qe[count] = open_qe[c]
                        res_matched[count] = open_matched[c]
                        count += 1
                    n_open -= 1
                    open_ps[c] = open_ps[n_open]
                    open_pe[c] = open_pe[n_open]
                    open_qs[c] = open_qs[n_open]
                    open_qe[c] = open_qe[n_open]
                    open_matched[c] = open_matched[n_open]
                else:
                    c += 1
            if s == g:
                break
            best = -1
            inside = False
            for c in range(n_open):
                dp = sp - open_pe[c]
                dq = sq - open_qe[c]
                if se <= open_pe[c]:
                    if sp >= open_ps[c]:
                        inside = True
                    continue
                if sq + length[s] <= open_qe[c] or dq > gap or dp > gap:
                    continue
                if dp < -length[s] or dq < -length[s] or abs(dp - dq) > gap:
                    continue
                if best < 0 or open_matched[c] > open_matched[best]:
                    best = c
            if best >= 0:
                new_start = max(sp, open_pe[best])
                added = se - new_start
                boiler = boiler_prefix[base + se] - boiler_prefix[base + new_start]
                open_matched[best] += added - boiler
                open_pe[best] = se
                open_qe[best] = max(open_qe[best], sq + length[s])
                continue
            if inside:
                continue
            if n_open == MAX_OPEN_CHAINS:  # drop the weakest open chain
                weakest = 0
                for c in range(1, n_open):
                    if open_matched[c] < open_matched[weakest]:
                        weakest = c
                n_open -= 1
                open_ps[weakest] = open_ps[n_open]
                open_pe[weakest] = open_pe[n_open]
                open_qs[weakest] = open_qs[n_open]
                open_qe[weakest] = open_qe[n_open]
                open_matched[weakest] = open_matched[n_open]
            boiler = boiler_prefix[base + se] - boiler_prefix[base + sp]
            open_ps[n_open] = sp
            open_pe[n_open] = se
            open_qs[n_open] = sq
            open_qe[n_open] = sq + length[s]
            open_matched[n_open] = length[s] - boiler
            n_open += 1
        i = g
    return (
        res_doc[:count].copy(),
        res_ref[:count].copy(),
        res_ps[:count].copy(),
        res_pe[:count].copy(),
        res_qs[:count].copy(),
        res_qe[:count].copy(),
        res_matched[:count].copy(),
    )


@numba.njit(cache=True, nogil=True)
def multi_family_cover(doc, fam, start, end, norm_starts, min_families, out):
    """Mark ``out[norm_starts[doc] + x] = 1`` where chains of ``min_families`` or more
    families cover byte x.

    Chains sorted by (doc, fam, start); each family's chains are merged first, so that
    overlapping chains of one family count once.
    """
    n = doc.shape[0]
    total = out.shape[0]
    depth = np.zeros(total + 1, dtype=np.int32)
    i = 0
    while i < n:
        cur_s = start[i]
        cur_e = end[i]
        j = i + 1
        while j < n and doc[j] == doc[i] and fam[j] == fam[i] and start[j] <= cur_e:
            cur_e = max(cur_e, end[j])
            j += 1
        base = norm_starts[doc[i]]
        depth[base + cur_s] += 1
        depth[base + cur_e] -= 1
        i = j
    running = 0
    for x in range(total):
        running += depth[x]
        if running >= min_families:
            out[x] = 1
