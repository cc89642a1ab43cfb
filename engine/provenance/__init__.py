"""Provenance against known model outputs: the reference index, matching rules,
per-document flags with evidence and their roll-up per cluster.

Matching, for one batch of documents against a :class:`ReferenceIndex`:

1. **Normalization** (:func:`kernels.normalize.normalize_packed`): every character is
   lowercased (Unicode simple mapping), every run of Unicode whitespace (CR, LF, tabs,
   NBSP, ...) becomes one ASCII space (leading and trailing runs are dropped), curly
   quotes become ``'``/``"``, Unicode dashes and the minus sign become ``-``, ``…``
   becomes ``...``, format characters (soft hyphen, zero-width joiner, BOM) are
   dropped, and then a periodic run (a unit of 1-32 bytes repeated more than 3 times)
   keeps 3 repetitions (``=====`` rule lines, ``|---|---|`` table rules,
   markdown-escaped ``\\_\\_\\_`` blanks, ``abababab``, a word repeated over and over:
   low-complexity text that would only produce junk "matches", and whose seeds are
   quadratic in the run's length). Re-wrapped lines, CRLF line ends, case and spacing
   changes therefore disappear. Optionally an offset map gives, for every normalized
   byte, the original byte range ``[source_start, source_end)`` of the character it
   came from, so that normalized ranges map back to whole characters of the original
   text (:mod:`~engine.provenance.normalization`).
2. **Anchors** (:func:`~engine.provenance.sketches.winnow_anchors`): 64-bit keys of
   ``anchor_bytes``-byte windows of the normalized text, chosen by winnowing
   (Schleimer et al. 2003) with a window of ``anchor_window`` keys: any common
   substring of at least ``anchor_bytes + anchor_window - 1`` bytes shares at least
   one anchor. The index stores ``(key, reference)`` pairs; a key's *reference
   document frequency* (distinct reference texts holding it) is the number of its
   pairs.
3. **Boilerplate and shared phrasing**: document frequencies count reference
   *families* (outputs that copy or extend one another count once:
   :mod:`~engine.provenance.families`), plus one when known human-written text holds
   the anchor (``ReferenceIndex.add_human``). An anchor whose family document
   frequency is at least
   ``max(boilerplate_min_df, ceil(boilerplate_df_fraction * n_references))`` is
   boilerplate ("As an AI language model, I ..."): it never makes a document a
   candidate. An anchor held by at least ``shared_min_families`` (2) families is
   shared phrasing: two independent outputs (or an output and human text) both say
   it, so it is the model's (or everyone's) stock text, not a trace of one output.
   The document bytes that boilerplate and shared anchors cover do not count toward
   the ``min_span`` test below (they still count toward coverage once a chain is
   evidence).
4. **Candidates** (:mod:`~engine.provenance.reference_match`): (document, reference)
   pairs that share at least ``min_shared_anchors`` (default 2) distinct
   non-boilerplate anchor keys (so a common substring of at least
   ``anchor_bytes + 2 * anchor_window - 1`` = 95 bytes outside boilerplate always
   makes its pair a candidate; one shared 32-byte window, typically a stock sentence,
   does not), plus pairs found by **MinHash co-clustering**: the document's signature
   is looked up in the references' LSH band keys and every hit is verified by the
   Jaccard similarity estimated from the full signatures (``>= minhash_threshold``).
   At most ``max_candidates`` references per document (MinHash-verified first, then
   most shared anchors).
5. **Exact seeds** (:mod:`kernels.seeds`): every left-maximal (document, reference)
   position pair of a candidate pair whose next ``seed_bytes`` bytes are equal is
   extended to a maximal exact match (MEM). On the cpu backend the pairs come from a
   hash join per candidate pair, whose work is proportional to the candidate pairs'
   text, not to all candidate references of a batch; on a GPU backend the normalized
   candidate documents and references are packed with ``0xFF`` separators and a suffix
   array and an LCP array (capped at ``seed_bytes``) are built with
   :mod:`kernels.suffix_array` / :mod:`kernels.lcp`, and every group of suffixes
   sharing ``seed_bytes`` bytes yields the same position pairs. Both give the same MEMs.
6. **Chaining** (:mod:`~engine.provenance.chains`, :mod:`kernels.chains`): MEMs of one
   (document, reference) pair, sorted by document offset, are joined into chains when
   they advance in both texts with gaps of at most ``max_gap`` bytes
   (``verified_max_gap`` for MinHash-verified pairs) and a diagonal drift of at most
   the gap: a lightly edited copy (a few words changed per sentence) is one chain of
   shorter exact spans. A chain is *evidence* when its matched bytes outside
   boilerplate that are informative (letters, digits, non-ASCII characters other than
   box drawing: see :func:`~engine.provenance.normalization.uninformative_bytes`)
   reach ``min_span``.
7. **Measures** per document (original UTF-8 bytes, :mod:`~engine.provenance.evidence`):
   ``cov_doc`` = bytes of the document inside the union of its evidence ranges /
   document bytes; ``cov_ref`` = the largest, over references, of the share of that
   reference's bytes inside its evidence ranges; ``longest_match`` = the longest
   evidence range in the document.
8. **Labels**: ``verbatim_copy`` (cov_ref >= cover_threshold and cov_doc >=
   cover_threshold), ``contains_output`` (cov_ref >= cover_threshold, cov_doc lower),
   ``partial_derivative`` (some evidence, i.e. a match or chain of at least
   ``min_span`` bytes, and cov_doc or cov_ref >= partial_threshold; a MinHash-verified
   pair also gives at least this label), ``none`` otherwise.

Everything is deterministic, and a document's result depends only on the document and
the index, never on the other documents of its batch.

Modules: :mod:`~engine.provenance.params` (parameters, labels, schemas),
:mod:`~engine.provenance.reference` (the index) with
:mod:`~engine.provenance.reference_store` (its folder) and
:mod:`~engine.provenance.reference_match` (matching), :mod:`~engine.provenance.build`
(``reference build/add/add-human``), :mod:`~engine.provenance.pipeline` (``flag``),
:mod:`~engine.provenance.rollup` (per-cluster roll-ups for ``dedup --reference``).

The names below are the package's public face: other pipelines (``dedup
--reference``) import them from here, never from the modules inside.
"""

from engine.provenance.build import add_human_text, build_reference
from engine.provenance.params import (
    CLUSTER_FLAGS_SCHEMA,
    FLAGS_SCHEMA,
    LABEL_RANK,
    LABELS,
    IndexParams,
    ProvenanceParams,
)
from engine.provenance.pipeline import FlagResult, flag
from engine.provenance.reference import ReferenceIndex
from engine.provenance.reference_store import DamagedIndex
from engine.provenance.rollup import (
    ClusterFlagStats,
    cluster_flags,
    keep_unflagged,
    prefer_unflagged_keep,
)

__all__ = [
    "CLUSTER_FLAGS_SCHEMA",
    "FLAGS_SCHEMA",
    "LABELS",
    "LABEL_RANK",
    "ClusterFlagStats",
    "DamagedIndex",
    "FlagResult",
    "IndexParams",
    "ProvenanceParams",
    "ReferenceIndex",
    "add_human_text",
    "build_reference",
    "cluster_flags",
    "flag",
    "keep_unflagged",
    "prefer_unflagged_keep",
]
