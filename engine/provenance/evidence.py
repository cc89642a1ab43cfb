"""From chains to a document's flags row: evidence ranges in original bytes, coverage
measures and the label (method steps 7 and 8 of :mod:`engine.provenance`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from engine.provenance.normalization import normalize_text, to_original
from engine.provenance.params import FLAGS_SCHEMA, ProvenanceParams


def covered_bytes(starts, ends) -> int:
    """Bytes in the union of the ranges ``[starts[i], ends[i])`` (int sequences)."""
    if len(starts) == 0:
        return 0
    order = np.argsort(starts, kind="stable")
    total = 0
    current_start, current_end = int(starts[order[0]]), int(ends[order[0]])
    for i in order[1:]:
        s, e = int(starts[i]), int(ends[i])
        if s > current_end:
            total += current_end - current_start
            current_start, current_end = s, e
        else:
            current_end = max(current_end, e)
    return total + current_end - current_start


def label_for(
    cov_doc: float,
    cov_ref: float,
    has_evidence: bool,
    params: ProvenanceParams,
    verified: bool = False,
) -> str:
    """The label of a document.

    ``verbatim_copy`` (cov_ref >= cover_threshold and cov_doc >= cover_threshold),
    ``contains_output`` (cov_ref >= cover_threshold, cov_doc lower),
    ``partial_derivative`` (evidence and cov_doc or cov_ref >= partial_threshold; a
    MinHash-verified pair also gives at least this label), ``none`` otherwise.
    """
    if cov_ref >= params.cover_threshold:
        return "verbatim_copy" if cov_doc >= params.cover_threshold else "contains_output"
    if has_evidence and (
        cov_doc >= params.partial_threshold or cov_ref >= params.partial_threshold
    ):
        return "partial_derivative"
    if verified:
        return "partial_derivative"
    return "none"


def empty_flags() -> pa.Table:
    """A flags table (FLAGS_SCHEMA) without rows."""
    return FLAGS_SCHEMA.empty_table()


def flags_table(rows: list[dict]) -> pa.Table:
    """The flags table from row dicts (keys = FLAGS_SCHEMA names)."""
    return pa.Table.from_pylist(rows, schema=FLAGS_SCHEMA)


def unflagged_row(doc_id: str) -> dict:
    """The flags row of a document without evidence or verified references."""
    return {
        "doc_id": doc_id,
        "label": "none",
        "cov_doc": 0.0,
        "cov_ref": 0.0,
        "longest_match": 0,
        "ref_ids": [],
        "evidence": [],
    }


def document_row(
    doc_id: str,
    raw: np.ndarray,
    chains: dict[str, np.ndarray],
    verified: list[tuple[int, float]],
    ref_ids: list[str],
    ref_bytes: np.ndarray,
    ref_text: Callable[[int], str],
    params: ProvenanceParams,
) -> dict:
    """The flags row (a dict with the FLAGS_SCHEMA names) of one document.

    Args:
        doc_id: the document's id.
        raw: uint8 (n_bytes,) the document's original UTF-8 bytes.
        chains: the document's evidence chains (:func:`engine.provenance.chains.find_chains`
            fields ``ref``, ``start``, ``end``, ``ref_start``, ``ref_end``: int64,
            normalized offsets), ordered by start.
        verified: ``(ref, jaccard)`` of the MinHash-verified references.
        ref_ids: every reference's id (global reference order).
        ref_bytes: int64 (n_refs,) every reference's original UTF-8 bytes.
        ref_text: the original text of a reference.
        params: the labelling thresholds.
    """
    evidence, per_ref = _evidence(raw, chains, ref_ids, ref_text)
    cov_doc = 0.0
    longest = 0
    if evidence:
        starts = np.array([e["start"] for e in evidence])
        ends = np.array([e["end"] for e in evidence])
        cov_doc = covered_bytes(starts, ends) / max(len(raw), 1)
        longest = int((ends - starts).max())
    ref_cov = {}
    for r, ranges in per_ref.items():
        arr = np.array(ranges)
        ref_cov[r] = covered_bytes(arr[:, 0], arr[:, 1]) / max(int(ref_bytes[r]), 1)
    cov_ref = max(ref_cov.values()) if ref_cov else 0.0
    ordered = sorted(ref_cov, key=lambda r: (-ref_cov[r], r))
    for r, _ in sorted(verified, key=lambda x: (-x[1], x[0])):
        if r not in ref_cov:
            ordered.append(r)
    return {
        "doc_id": doc_id,
        "label": label_for(cov_doc, cov_ref, bool(evidence), params, verified=bool(verified)),
        "cov_doc": float(min(cov_doc, 1.0)),
        "cov_ref": float(min(cov_ref, 1.0)),
        "longest_match": longest,
        "ref_ids": [ref_ids[r] for r in ordered],
        "evidence": evidence,
    }


def _evidence(
    raw: np.ndarray,
    chains: dict[str, np.ndarray],
    ref_ids: list[str],
    ref_text: Callable[[int], str],
) -> tuple[list[dict], dict[int, list[tuple[int, int]]]]:
    """Evidence dicts (EVIDENCE_STRUCT: original byte ranges of the document and the
    reference) of the chains, and the reference ranges per reference."""
    evidence: list[dict] = []
    per_ref: dict[int, list[tuple[int, int]]] = {}
    if len(chains["ref"]) == 0:
        return evidence, per_ref
    norm, s_map, e_map = normalize_text(raw.tobytes())
    norm_arr = np.frombuffer(norm, np.uint8)
    ref_maps: dict[int, tuple] = {}
    for c in range(len(chains["ref"])):
        r = int(chains["ref"][c])
        start, end = to_original(
            norm_arr, s_map, e_map, int(chains["start"][c]), int(chains["end"][c])
        )
        if r not in ref_maps:
            rn, rs, re_ = normalize_text(ref_text(r))
            ref_maps[r] = (np.frombuffer(rn, np.uint8), rs, re_)
        rn, rs, re_ = ref_maps[r]
        ref_start, ref_end = to_original(
            rn, rs, re_, int(chains["ref_start"][c]), int(chains["ref_end"][c])
        )
        if end <= start:
            continue
        evidence.append(
            {
                "start": start,
                "end": end,
                "ref_id": ref_ids[r],
                "ref_start": ref_start,
                "ref_end": ref_end,
            }
        )
        per_ref.setdefault(r, []).append((ref_start, ref_end))
    return evidence, per_ref
