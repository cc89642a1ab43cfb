"""Matching a batch of documents against a reference index (method steps 2 to 8 of
:mod:`engine.provenance`): anchors and MinHash give candidate pairs, chains of exact
matches give evidence, evidence gives each document's flags row.

A document's row depends only on the document and the index, never on the other
documents of its batch (candidate pairs are per document, and seeds are only taken
between a document and its own candidates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine.provenance.chains import CHAIN_FIELDS, find_chains
from engine.provenance.evidence import document_row, flags_table, unflagged_row
from engine.provenance.normalization import uninformative_bytes
from engine.provenance.params import IndexParams, ProvenanceParams
from engine.provenance.reference_store import Segment
from engine.provenance.sketches import anchor_buckets, anchor_ranges, minhash_sketch, winnow_anchors
from kernels.normalize import normalize_packed


@dataclass
class ReferenceTables:
    """What matching reads of an index, over all its segments (built once per index
    state by :meth:`engine.provenance.reference.ReferenceIndex.lookups`).

    Attributes:
        params: the index's :class:`IndexParams`.
        n_refs: references held; n_distinct: those whose text is not a copy.
        meta: META_SCHEMA table of all references (global order); ids: their ids;
            n_bytes: int64 (n_refs,) their original UTF-8 bytes.
        segments: the segments; seg_starts: int64 (n_segments + 1,) first global
            reference of each.
        signatures: uint32 (n_refs, num_perm).
        bands: per LSH band, ``(sorted band keys uint64, reference int64)`` of the
            distinct references.
        anchor_keys, anchor_refs: the anchor postings (uint64 / int64 (m,));
            anchor_buckets: their :func:`anchor_buckets` table.
        families: int64 (n_refs,); family_df: uint32 (m,) (see
            :mod:`engine.provenance.families`).
    """

    params: IndexParams
    n_refs: int
    n_distinct: int
    meta: pa.Table
    ids: list[str]
    n_bytes: np.ndarray
    segments: list[Segment]
    seg_starts: np.ndarray
    signatures: np.ndarray
    bands: list[tuple[np.ndarray, np.ndarray]]
    anchor_keys: np.ndarray
    anchor_refs: np.ndarray
    anchor_buckets: tuple[np.ndarray, int]
    families: np.ndarray
    family_df: np.ndarray

    def ref_norm(self, ref: int) -> np.ndarray:
        """uint8: the normalized text of reference ``ref`` (global index)."""
        s = int(np.searchsorted(self.seg_starts, ref, side="right")) - 1
        segment = self.segments[s]
        local = ref - int(self.seg_starts[s])
        lo, hi = int(segment.norm_offsets[local]), int(segment.norm_offsets[local + 1])
        return np.asarray(segment.norm[lo:hi])

    def ref_text(self, ref: int) -> str:
        """The original text of reference ``ref`` (global index)."""
        return self.meta.column("text")[ref].as_py()


def reference_tables(
    params: IndexParams,
    segments: list[Segment],
    meta: pa.Table,
    n_distinct: int,
    anchors: tuple[np.ndarray, np.ndarray],
    family_data: tuple[np.ndarray, np.ndarray],
) -> ReferenceTables:
    """:class:`ReferenceTables` of an index's segments, anchor postings
    ``(keys, refs)`` and ``(families, family_df)``."""
    seg_starts = np.zeros(len(segments) + 1, dtype=np.int64)
    np.cumsum([s.n_refs for s in segments], out=seg_starts[1:])
    if segments:
        signatures = np.concatenate([np.asarray(s.signatures) for s in segments])
        band_keys = np.concatenate([np.asarray(s.band_keys) for s in segments])
    else:
        signatures = np.zeros((0, params.num_perm), np.uint32)
        band_keys = np.zeros((0, params.bands), np.uint64)
    duplicate = np.asarray(meta.column("duplicate_text").to_numpy(zero_copy_only=False), bool)
    distinct = np.flatnonzero(~duplicate)
    bands = []
    for j in range(params.bands):
        column = band_keys[distinct, j]
        order = np.argsort(column, kind="stable")
        bands.append((column[order], distinct[order]))
    anchor_keys, anchor_refs = np.asarray(anchors[0]), np.asarray(anchors[1])
    return ReferenceTables(
        params=params,
        n_refs=int(seg_starts[-1]),
        n_distinct=n_distinct,
        meta=meta,
        ids=meta.column("ref_id").to_pylist(),
        n_bytes=meta.column("n_bytes").to_numpy(),
        segments=segments,
        seg_starts=seg_starts,
        signatures=signatures,
        bands=bands,
        anchor_keys=anchor_keys,
        anchor_refs=anchor_refs,
        anchor_buckets=anchor_buckets(anchor_keys),
        families=np.asarray(family_data[0]),
        family_df=np.asarray(family_data[1]),
    )


def match_packed(
    tables: ReferenceTables,
    doc_ids: list[str],
    data: np.ndarray,
    offsets: np.ndarray,
    params: ProvenanceParams,
    backend: str,
) -> pa.Table:
    """The flags table (FLAGS_SCHEMA) of packed documents (``data`` uint8, ``offsets``
    int64 (n + 1,)), one row per document in order; evidence offsets are original UTF-8
    byte offsets into the document and reference texts."""
    chains, verified = _match_arrays(tables, data, offsets, params, backend)
    rows = []
    for d, doc_id in enumerate(doc_ids):
        lo = int(np.searchsorted(chains["doc"], d, side="left"))
        hi = int(np.searchsorted(chains["doc"], d, side="right"))
        if lo == hi and d not in verified:
            rows.append(unflagged_row(doc_id))
            continue
        rows.append(
            document_row(
                doc_id,
                data[offsets[d] : offsets[d + 1]],
                {name: values[lo:hi] for name, values in chains.items()},
                verified.get(d, []),
                tables.ids,
                tables.n_bytes,
                tables.ref_text,
                params,
            )
        )
    return flags_table(rows)


def _match_arrays(tables, data, offsets, params, backend) -> tuple[dict, dict]:
    """``(chains, verified)``: evidence chains of all documents (:func:`find_chains`
    fields, global reference indices, ordered by document) and ``{doc: [(ref,
    jaccard), ...]}`` of the MinHash-verified pairs."""
    no_chains = {name: np.zeros(0, dtype=np.int64) for name in CHAIN_FIELDS}
    norm, norm_offsets, _, _ = normalize_packed(data, offsets)
    if tables.n_refs == 0:
        return no_chains, {}
    cand = _candidates(tables, data, offsets, norm, norm_offsets, params, backend)
    verified: dict[int, list[tuple[int, float]]] = {}
    for d, r, j in zip(*(x.tolist() for x in cand["verified_pairs"])):
        verified.setdefault(d, []).append((r, j))
    if len(cand["doc"]) == 0:
        return no_chains, verified
    cand_docs = np.unique(cand["doc"])
    cand_refs = np.unique(cand["ref"])
    doc_norm = [norm[norm_offsets[d] : norm_offsets[d + 1]] for d in cand_docs.tolist()]
    masks = _boiler_masks(
        doc_norm, cand_docs, norm_offsets, cand["boiler_positions"], tables.params.anchor_bytes
    )
    chains = find_chains(
        doc_norm,
        [tables.ref_norm(r) for r in cand_refs.tolist()],
        np.searchsorted(cand_docs, cand["doc"]),
        np.searchsorted(cand_refs, cand["ref"]),
        np.where(cand["verified"], params.verified_max_gap, params.max_gap),
        masks,
        params,
        backend=backend,
        ref_family=tables.families[cand_refs],
        shared_span=tables.params.anchor_bytes,
    )
    chains["doc"] = cand_docs[chains["doc"]]
    chains["ref"] = cand_refs[chains["ref"]]
    return chains, verified


def _boiler_masks(doc_norm, cand_docs, norm_offsets, positions, anchor_bytes) -> list:
    """Per candidate document, int64 0/1 per normalized byte: uninformative bytes and
    the ``anchor_bytes`` windows of boilerplate and shared anchors (``positions``:
    global offsets into the packed normalized batch)."""
    masks = [uninformative_bytes(x).astype(np.int64) for x in doc_norm]
    if len(positions) == 0:
        return masks
    owner = np.searchsorted(norm_offsets, positions, side="right") - 1
    slot = np.searchsorted(cand_docs, owner)
    present = (slot < len(cand_docs)) & (cand_docs[np.minimum(slot, len(cand_docs) - 1)] == owner)
    for pos, s, o in zip(
        positions[present].tolist(), slot[present].tolist(), owner[present].tolist()
    ):
        local = pos - int(norm_offsets[o])
        masks[s][local : local + anchor_bytes] = 1
    return masks


def _candidates(tables, data, offsets, norm, norm_offsets, params, backend) -> dict:
    """Candidate (doc, ref) pairs, at most ``max_candidates`` per document
    (MinHash-verified first, then most shared anchors): int64 ``doc``, ``ref``, bool
    ``verified``, the ``verified_pairs`` (doc, ref, jaccard) and the global positions of
    boilerplate and shared anchors (``boiler_positions``)."""
    hit_doc, hit_ref, boiler_positions = _anchor_hits(tables, norm, norm_offsets, params)
    verified_doc = np.zeros(0, np.int64)
    verified_ref = np.zeros(0, np.int64)
    verified_j = np.zeros(0, np.float64)
    if params.minhash and tables.n_refs:
        verified_doc, verified_ref, verified_j = _minhash_pairs(
            tables, data, offsets, params, backend
        )
    doc, ref, verified = _ranked_pairs(
        hit_doc, hit_ref, verified_doc, verified_ref, verified_j, tables.n_refs, params
    )
    return {
        "doc": doc,
        "ref": ref,
        "verified": verified,
        "verified_pairs": (verified_doc, verified_ref, verified_j),
        "boiler_positions": boiler_positions,
    }


def _anchor_hits(tables, norm, norm_offsets, params) -> tuple[np.ndarray, ...]:
    """``(doc, ref, boiler_positions)``: one (doc, ref) row per distinct
    non-boilerplate anchor key a document shares with a reference, and the global
    positions of the document anchors that are boilerplate or shared phrasing."""
    p = tables.params
    positions, keys, counts = winnow_anchors(norm, norm_offsets, p.anchor_bytes, p.anchor_window)
    anchor_doc = np.repeat(np.arange(len(norm_offsets) - 1, dtype=np.int64), counts)
    left, right = anchor_ranges(tables.anchor_keys, tables.anchor_buckets, keys)
    df = right - left
    family_df = np.zeros(len(df), dtype=np.int64)
    held = df > 0
    family_df[held] = tables.family_df[left[held]]
    boiler = family_df >= params.boilerplate_df(tables.n_distinct)
    shared = family_df >= params.shared_min_families
    boiler_positions = positions[boiler | shared]
    useful = held & ~boiler
    if params.min_shared_anchors > 1 and useful.any():
        # count each distinct anchor key of a document once
        idx = np.flatnonzero(useful)
        idx = idx[np.lexsort((keys[idx], anchor_doc[idx]))]
        repeat = np.zeros(len(idx), dtype=bool)
        repeat[1:] = (anchor_doc[idx[1:]] == anchor_doc[idx[:-1]]) & (
            keys[idx[1:]] == keys[idx[:-1]]
        )
        useful[idx[repeat]] = False
    hit_doc = np.repeat(anchor_doc[useful], df[useful])
    starts = np.repeat(left[useful], df[useful])
    within = np.arange(len(starts), dtype=np.int64) - np.repeat(
        np.cumsum(df[useful]) - df[useful], df[useful]
    )
    hit_ref = tables.anchor_refs[starts + within] if len(starts) else starts
    return hit_doc, np.asarray(hit_ref, dtype=np.int64), boiler_positions


def _ranked_pairs(hit_doc, hit_ref, verified_doc, verified_ref, verified_j, n_refs, params):
    """``(doc, ref, verified)``: candidate pairs, by document, at most ``max_candidates``
    each: MinHash-verified pairs first (by Jaccard), then pairs sharing at least
    ``min_shared_anchors`` anchors (most first)."""
    unique_key, hits = np.unique(hit_doc * n_refs + hit_ref, return_counts=True)
    enough = hits >= params.min_shared_anchors
    unique_key, hits = unique_key[enough], hits[enough]
    v_key = verified_doc * n_refs + verified_ref
    all_key = np.concatenate([unique_key, v_key])
    all_score = np.concatenate([hits.astype(np.float64), 1e9 + verified_j])
    order = np.lexsort((all_key, -all_score))
    all_key, all_score = all_key[order], all_score[order]
    first = np.unique(all_key, return_index=True)[1]
    all_key, all_score = all_key[first], all_score[first]
    doc = all_key // max(n_refs, 1)
    ref = all_key % max(n_refs, 1)
    order = np.lexsort((ref, -all_score, doc))
    doc, ref, all_score = doc[order], ref[order], all_score[order]
    rank = np.arange(len(doc)) - np.searchsorted(doc, doc, side="left")
    kept = rank < params.max_candidates
    doc, ref = doc[kept], ref[kept]
    return doc, ref, np.isin(doc * n_refs + ref, v_key)


def _minhash_pairs(tables, data, offsets, params, backend):
    """``(doc, ref, jaccard)`` of the documents' LSH band-key hits among the references
    whose Jaccard similarity, estimated from the full signatures, reaches
    ``minhash_threshold``."""
    sig, keys = minhash_sketch(data, offsets, tables.params, backend)
    has_shingles = ~np.all(sig == np.uint32(0xFFFFFFFF), axis=1)
    docs: list[np.ndarray] = []
    refs: list[np.ndarray] = []
    for j, (sorted_keys, owners) in enumerate(tables.bands):
        lo = np.searchsorted(sorted_keys, keys[:, j], side="left")
        hi = np.searchsorted(sorted_keys, keys[:, j], side="right")
        hi = np.minimum(hi, lo + params.minhash_max_bucket)
        width = np.where(has_shingles, hi - lo, 0)
        if not width.any():
            continue
        d = np.repeat(np.arange(len(width), dtype=np.int64), width)
        start = np.repeat(lo, width)
        within = np.arange(len(d)) - np.repeat(np.cumsum(width) - width, width)
        docs.append(d)
        refs.append(owners[start + within].astype(np.int64))
    if not docs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    n_refs = tables.n_refs
    key = np.unique(np.concatenate(docs) * n_refs + np.concatenate(refs))
    d, r = key // n_refs, key % n_refs
    jaccard = np.mean(sig[d] == tables.signatures[r], axis=1)
    ok = jaccard >= params.minhash_threshold
    return d[ok], r[ok], jaccard[ok]
