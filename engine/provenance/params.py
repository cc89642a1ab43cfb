"""Parameters, labels and output schemas of provenance matching.

:class:`IndexParams` are fixed when a reference index is built; :class:`ProvenanceParams`
are chosen per ``flag`` run. The method they parametrize is described in
:mod:`engine.provenance`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from kernels.lsh_params import optimal_bands_rows

LABELS = ("verbatim_copy", "contains_output", "partial_derivative", "none")
LABEL_RANK = {label: rank for rank, label in enumerate(LABELS)}  # 0 = strongest

EVIDENCE_STRUCT = pa.struct(
    [
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("ref_id", pa.string()),
        ("ref_start", pa.int64()),
        ("ref_end", pa.int64()),
    ]
)
FLAGS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("label", pa.string()),
        ("cov_doc", pa.float64()),
        ("cov_ref", pa.float64()),
        ("longest_match", pa.int64()),
        ("ref_ids", pa.list_(pa.string())),
        ("evidence", pa.list_(EVIDENCE_STRUCT)),
    ]
)
CLUSTER_FLAGS_SCHEMA = pa.schema(
    [
        ("cluster_id", pa.int64()),
        ("label", pa.string()),
        ("provenance_score", pa.float64()),
        ("frac_members_flagged", pa.float64()),
        ("ref_ids", pa.list_(pa.string())),
        ("origin_doc_id", pa.string()),
    ]
)

MIN_VERIFIED_GAP = 256  # default verified_max_gap: max(MIN_VERIFIED_GAP, max_gap)


def _check_positive_ints(obj, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_fractions(obj, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")


@dataclass(frozen=True)
class ProvenanceParams:
    """Matching and labelling parameters (the index's own parameters are fixed at build).

    Attributes:
        min_span: informative bytes (letters, digits, non-ASCII; of normalized text)
            a match or chain needs outside boilerplate and shared phrasing to count as
            evidence. 100 by default, the span length the substring stage uses
            (``engine.repeated_spans``); ``bench/RESULTS.md`` has the recall / false
            positive trade-off of other values. Candidate pairs always include those
            with a common substring of at least
            ``anchor_bytes + min_shared_anchors * anchor_window - 1`` bytes (95 by
            default) outside boilerplate (unless it repeats the same ``anchor_bytes``
            bytes, so that its anchors share one key).
        seed_bytes: shortest exact span (bytes) that can join a chain.
        max_gap: largest gap (bytes, in the document and in the reference) between two
            spans of one chain; edits of a word or two fit.
        verified_max_gap: the gap (bytes) allowed for MinHash-verified (document,
            reference) pairs, whose copies may be edited more densely; at least
            ``max_gap``. None (the default): ``max(256, max_gap)``.
        cover_threshold: cov_ref (and cov_doc) at or above which a document is
            ``verbatim_copy`` / ``contains_output``.
        partial_threshold: cov_doc or cov_ref at or above which evidence makes a
            ``partial_derivative``.
        boilerplate_min_df, boilerplate_df_fraction: an anchor held by at least
            ``max(boilerplate_min_df, ceil(boilerplate_df_fraction * n_references))``
            distinct reference texts is boilerplate.
        max_candidates: references examined per document (most shared anchors first).
        min_shared_anchors: distinct non-boilerplate anchor keys a document must share
            with a reference for the pair to be a candidate (MinHash-verified pairs are
            candidates regardless). 2 by default: one shared 32-byte window is too
            little to examine a reference for; with 1, any match of at least
            ``anchor_bytes + anchor_window - 1`` bytes (63) is found.
        shared_min_families: reference families (known human text counting as one)
            holding an anchor at and above which it is shared phrasing: its bytes do not
            count toward ``min_span``. 2: text that two independent outputs share is
            stock phrasing; a large value turns the rule off.
        minhash: use MinHash co-clustering with the references.
        minhash_threshold: estimated Jaccard a band-key hit needs to be verified.
        minhash_max_bucket: references examined per band-key hit (bounds work on
            degenerate buckets).
    """

    min_span: int = 100
    seed_bytes: int = 16
    max_gap: int = 64
    verified_max_gap: int | None = None
    cover_threshold: float = 0.8
    partial_threshold: float = 0.2
    boilerplate_min_df: int = 10
    boilerplate_df_fraction: float = 0.001
    max_candidates: int = 32
    min_shared_anchors: int = 2
    shared_min_families: int = 2
    minhash: bool = True
    minhash_threshold: float = 0.5
    minhash_max_bucket: int = 64

    def __post_init__(self) -> None:
        _check_positive_ints(self, ("min_span", "seed_bytes", "max_gap"))
        if self.verified_max_gap is None:
            object.__setattr__(self, "verified_max_gap", max(MIN_VERIFIED_GAP, self.max_gap))
        _check_positive_ints(
            self,
            (
                "verified_max_gap",
                "boilerplate_min_df",
                "max_candidates",
                "min_shared_anchors",
                "minhash_max_bucket",
                "shared_min_families",
            ),
        )
        if self.seed_bytes > self.min_span:
            raise ValueError(
                f"seed_bytes ({self.seed_bytes}) must be <= min_span ({self.min_span}); "
                "lower seed_bytes or raise min_span"
            )
        if self.verified_max_gap < self.max_gap:
            raise ValueError(
                f"verified_max_gap ({self.verified_max_gap}) must be >= max_gap "
                f"({self.max_gap}); raise verified_max_gap"
            )
        _check_fractions(self, ("cover_threshold", "partial_threshold", "minhash_threshold"))
        if self.partial_threshold > self.cover_threshold:
            raise ValueError(
                f"partial_threshold ({self.partial_threshold}) must be <= cover_threshold "
                f"({self.cover_threshold}); e.g. partial_threshold=0.2, cover_threshold=0.8"
            )
        fraction = self.boilerplate_df_fraction
        if not isinstance(fraction, (int, float)) or not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"boilerplate_df_fraction must be in [0, 1], got {fraction!r}")

    def boilerplate_df(self, n_references: int) -> int:
        """Anchor document frequency at and above which an anchor is boilerplate."""
        relative = math.ceil(float(self.boilerplate_df_fraction) * n_references)
        return max(int(self.boilerplate_min_df), relative)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IndexParams:
    """Parameters fixed when an index is built (every ``add`` reuses them).

    Attributes:
        anchor_bytes: length of an anchor window of normalized text, in bytes.
        anchor_window: winnowing window, in anchor positions; matches of at least
            ``anchor_bytes + anchor_window - 1`` bytes always share an anchor.
        num_perm, ngram, shingle, seed: MinHash signature parameters (see
            :func:`engine.minhash`).
        bands, rows: LSH banding of the signatures; default: derived for a Jaccard
            threshold of 0.5 (datasketch's criterion).
        family_containment: two references belong to one family when the anchor keys
            they share reach this share of the smaller one's keys ...
        family_min_shared: ... or this many keys (one key per about 16 bytes: 32
            keys, some 500 bytes in common, a passage rather than a stock phrase).
            Lower (8: about what a document needs to count as evidence) for
            references from multi-turn chats without conversation ids: turns that
            revise one another then stay one family (higher recall, a few more false
            positives on independent outputs; see bench/RESULTS.md).
    """

    anchor_bytes: int = 32
    anchor_window: int = 32
    num_perm: int = 64
    ngram: int = 5
    shingle: str = "word"
    seed: int = 42
    bands: int | None = None
    rows: int | None = None
    family_containment: float = 0.5
    family_min_shared: int = 32

    def __post_init__(self) -> None:
        _check_positive_ints(
            self, ("anchor_bytes", "anchor_window", "num_perm", "ngram", "family_min_shared")
        )
        fc = self.family_containment
        if isinstance(fc, bool) or not isinstance(fc, (int, float)) or not 0.0 < fc <= 1.0:
            raise ValueError(f"family_containment must be in (0, 1], got {fc!r}")
        if self.anchor_bytes < 8:
            raise ValueError(f"anchor_bytes must be >= 8, got {self.anchor_bytes}; e.g. 32")
        if self.shingle not in ("word", "char"):
            raise ValueError(f"shingle must be 'word' or 'char', got {self.shingle!r}")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (they are then derived)")
        if self.bands is None:
            bands, rows = optimal_bands_rows(0.5, int(self.num_perm))
            object.__setattr__(self, "bands", bands)
            object.__setattr__(self, "rows", rows)
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands * rows must be at most num_perm={self.num_perm} "
                f"(got bands={self.bands}, rows={self.rows}); lower them or raise num_perm"
            )

    def to_dict(self) -> dict:
        return asdict(self)
