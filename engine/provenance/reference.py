"""The reference index: known model outputs, stored for provenance matching.

``ReferenceIndex.build(texts, ids, models=...)`` normalizes the references
(:func:`kernels.normalize.normalize_packed`), computes their winnowed anchors, MinHash
signatures and LSH band keys (:mod:`engine.provenance.sketches`), and keeps their
metadata and original text. ``save(path)`` writes a folder of open formats
(:mod:`engine.provenance.reference_store` has the layout); ``load(path)`` memory-maps
it; ``add(texts, ids, ...)`` appends a new segment without touching the stored ones
(only the merged anchor table and ``index.json`` are rewritten). Matching is
:meth:`ReferenceIndex.match` (:mod:`engine.provenance.reference_match`).

Families: references that copy or extend one another (a regeneration, a later turn
repeating an earlier answer, the same conversation shared twice) form a family
(:func:`engine.provenance.families.reference_families`, anchor containment of at least
``family_containment``). Document frequencies used for matching count families, not
references, so that text shared by two *independent* outputs (stock phrasing) is told
apart from text that one output and its own copies hold. Known human-written text
(``add_human``: a pre-LLM crawl sample, licences, documentation) counts as one more
family: text a reference shares with it is not evidence of model origin.

Policies: a reference id seen before (in this call or in the index) is skipped and
counted (``duplicate_ids``; the first one is kept). A reference whose normalized text
is empty is skipped and counted (``empty_texts``). A reference whose normalized text
equals an earlier one's is stored (its id and metadata stay searchable in
``meta.parquet``) but marked ``duplicate_text`` and given no anchors and no band
entries: it is matched through the first copy, and document frequencies count each
distinct text once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.io.texts import as_large_string_array, pack
from engine.provenance import reference_store as store
from engine.provenance.evidence import empty_flags
from engine.provenance.families import family_document_frequency, reference_families
from engine.provenance.params import IndexParams, ProvenanceParams
from engine.provenance.reference_match import ReferenceTables, match_packed, reference_tables
from engine.provenance.reference_store import META_SCHEMA, HumanPart, Segment
from engine.provenance.sketches import minhash_sketch, winnow_anchors
from engine.run import reuse
from engine.run.atomic import write_json_atomic
from kernels.backend import resolve_backend
from kernels.normalize import normalize_packed

_COUNTS = ("added", "duplicate_ids", "empty_texts", "duplicate_texts")
_METADATA = ("model", "dataset", "date", "conversation")
MAX_DUPLICATE_ID_EXAMPLES = 20


@dataclass
class _Prepared:
    """A new segment with its anchor postings (global reference indices) and counts."""

    segment: Segment
    anchor_keys: np.ndarray
    anchor_refs: np.ndarray
    report: dict = field(default_factory=dict)


def _text_hash(norm: np.ndarray) -> int:
    return int.from_bytes(hashlib.blake2b(norm.tobytes(), digest_size=8).digest(), "little")


def _strings(values, n: int, name: str) -> list[str | None]:
    """``values`` (None, a list, an Arrow or NumPy array, a Series) as n strings or
    None entries; None gives n Nones."""
    if values is None:
        return [None] * n
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = values.to_pylist()
    elif hasattr(values, "tolist"):
        values = values.tolist()
    values = [None if v is None else str(v) for v in values]
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries but there are {n} texts")
    return values


class ReferenceIndex:
    """Known model outputs, indexed for :meth:`match`.

    Example:
        >>> index = ReferenceIndex.build(["The answer is forty-two, because ..."], ["r1"])
        >>> index.save("refdir")  # doctest: +SKIP
        >>> flags = ReferenceIndex.load("refdir").match(["some crawl text"])  # doctest: +SKIP
    """

    def __init__(self, params: IndexParams | None = None) -> None:
        self.params = params or IndexParams()
        self._segments: list[Segment] = []
        self.anchor_keys = np.zeros(0, dtype=np.uint64)
        self.anchor_refs = np.zeros(0, dtype=np.int64)
        self.counts: dict = {key: 0 for key in _COUNTS}
        self.last_report: dict = {}
        self._anchors_stored_at: Path | None = None
        self._anchors_name = "gen-00000"
        self._generation = 0
        self._human: list[HumanPart] = []
        self._families: np.ndarray | None = None
        self._family_df: np.ndarray | None = None
        self._cache: dict = {}

    # ------------------------------------------------------------------ basics

    @property
    def n_refs(self) -> int:
        """References held (duplicate texts included, skipped ids not)."""
        return sum(s.n_refs for s in self._segments)

    @property
    def n_distinct(self) -> int:
        """References whose normalized text is not a copy of an earlier one."""
        return self.n_refs - int(self.counts.get("duplicate_texts", 0))

    def meta(self) -> pa.Table:
        """All references' metadata (META_SCHEMA), global reference order."""
        if not self._segments:
            return META_SCHEMA.empty_table()
        return pa.concat_tables([s.meta for s in self._segments])

    @property
    def ids(self) -> list[str]:
        """Every reference's id, global reference order."""
        return self.meta().column("ref_id").to_pylist()

    def __len__(self) -> int:
        return self.n_refs

    def __repr__(self) -> str:
        return f"ReferenceIndex(n_refs={self.n_refs}, segments={len(self._segments)})"

    # ------------------------------------------------------------------ build / add

    @classmethod
    def build(
        cls,
        texts,
        ids,
        *,
        models=None,
        datasets=None,
        dates=None,
        prompts=None,
        conversations=None,
        params: IndexParams | None = None,
        backend: str = "auto",
    ) -> ReferenceIndex:
        """Index reference texts.

        Args:
            texts: n reference texts (list of str, pyarrow string array, pandas Series).
            ids: n reference ids (turned into str); a repeated id keeps its first text.
            models, datasets, dates: optional n strings each (None entries allowed).
            prompts: optional n strings: what each output was a reply to (the user's
                turns). They are added as known human text (:meth:`add_human`), so
                text a model only echoed from its prompt is not evidence.
            conversations: optional n strings: the conversation (chat session) of each
                output. Outputs of one conversation are one family (they repeat and
                revise each other, so what they share is not independent phrasing).
            params: :class:`IndexParams`.
            backend: where signatures are computed ("auto", "cpu", "cuda").

        Returns:
            The index; ``last_report`` holds the counts of this call.
        """
        index = cls(params)
        index.add(
            texts,
            ids,
            models=models,
            datasets=datasets,
            dates=dates,
            prompts=prompts,
            conversations=conversations,
            backend=backend,
        )
        return index

    def add(
        self,
        texts,
        ids,
        *,
        models=None,
        datasets=None,
        dates=None,
        prompts=None,
        conversations=None,
        backend: str = "auto",
    ) -> dict:
        """Add references as a new segment (same rules as :meth:`build`).

        Returns:
            The report of this call: ``added``, ``duplicate_ids`` (skipped, with up to
            20 ``duplicate_id_examples``), ``empty_texts`` (skipped),
            ``duplicate_texts`` (stored, matched through the first copy), and with
            ``prompts`` the :meth:`add_human` counts.
        """
        texts = as_large_string_array(texts)
        metadata = dict(zip(_METADATA, (models, datasets, dates, conversations)))
        prepared = self._prepare(texts, ids, metadata, resolve_backend(backend))
        if prepared.segment.n_refs:
            self._segments.append(prepared.segment)
            keys = np.concatenate([np.asarray(self.anchor_keys), prepared.anchor_keys])
            refs = np.concatenate([np.asarray(self.anchor_refs), prepared.anchor_refs])
            order = np.lexsort((refs, keys))
            self.anchor_keys = np.ascontiguousarray(keys[order])
            self.anchor_refs = np.ascontiguousarray(refs[order])
            self._new_generation()
        for key in _COUNTS:
            self.counts[key] = int(self.counts.get(key, 0)) + int(prepared.report[key])
        self._cache.clear()
        report = dict(prepared.report)
        if prompts is not None:
            given = _strings(prompts, len(texts), "prompts")
            report.update(self.add_human([p for p in given if p]))
        self.last_report = report
        return report

    def add_human(self, texts) -> dict:
        """Add known human-written text (kept as anchor keys only, never as text).

        Text that a reference shares with it no longer counts as evidence (it adds one
        to the family document frequency of the keys it holds), e.g. a licence or a
        famous quotation that a model reproduced. Use text written before language
        models or otherwise known to be human.

        Args:
            texts: n texts (list of str, pyarrow string array, pandas Series).

        Returns:
            ``{"human_texts": n, "human_bytes": UTF-8 bytes, "human_keys": distinct
            anchor keys added}``.
        """
        array = as_large_string_array(texts)
        data, offsets = pack(array)
        norm, norm_offsets, _, _ = normalize_packed(data, offsets)
        p = self.params
        _, keys, _ = winnow_anchors(norm, norm_offsets, p.anchor_bytes, p.anchor_window)
        keys = np.unique(keys)
        report = {
            "human_texts": len(array),
            "human_bytes": int(offsets[-1]),
            "human_keys": int(len(keys)),
        }
        if len(array):
            self._human.append(HumanPart(f"hum-{len(self._human):05d}", keys))
            self._new_generation()
        for key in ("human_texts", "human_bytes"):
            self.counts[key] = int(self.counts.get(key, 0)) + report[key]
        self._cache.clear()
        self.last_report = report
        return report

    def _new_generation(self) -> None:
        """The anchor table or the human keys changed: family data is recomputed."""
        self._generation += 1
        self._anchors_name = f"gen-{self._generation:05d}"
        self._anchors_stored_at = None
        self._families = None
        self._family_df = None

    def family_data(self) -> tuple[np.ndarray, np.ndarray]:
        """``(families int64 (n_refs,), family_df uint32 (m,))`` (see the module docstring).

        Stored with the index; computed here after ``add``/``add_human`` or for an
        index saved without them.
        """
        if self._families is None or self._family_df is None:
            conversation = self.meta().column("conversation")
            groups = pc.dictionary_encode(conversation).combine_chunks().indices
            groups = np.asarray(pc.fill_null(groups, -1).to_numpy(), dtype=np.int64)
            families = reference_families(
                self.anchor_keys,
                self.anchor_refs,
                self.n_refs,
                float(self.params.family_containment),
                groups=groups,
                min_shared=int(self.params.family_min_shared),
            )
            family_df = family_document_frequency(self.anchor_keys, self.anchor_refs, families)
            if self._human and len(family_df):
                human = np.unique(np.concatenate([np.asarray(h.keys) for h in self._human]))
                keys = np.asarray(self.anchor_keys)
                at = np.minimum(np.searchsorted(human, keys), max(len(human) - 1, 0))
                if len(human):
                    family_df += (human[at] == keys).astype(np.uint32)
            self._families, self._family_df = families, family_df
        return self._families, self._family_df

    def _prepare(self, texts, ids, metadata: dict, backend: str) -> _Prepared:
        """The segment of the new references among ``texts`` (ids not seen before,
        non-empty normalized text), with its anchor postings and report."""
        array = as_large_string_array(texts)
        n = len(array)
        id_list = _strings(ids, n, "ids")
        if any(i is None for i in id_list):
            raise ValueError(f"ids[{id_list.index(None)}] is None; every reference needs an id")
        columns = {name: _strings(metadata[name], n, name + "s") for name in _METADATA}
        data, offsets = pack(array)
        norm, norm_offsets, _, _ = normalize_packed(data, offsets)
        keep, duplicate_text, hashes, report = self._select_new(id_list, norm, norm_offsets)
        keep_arr = np.asarray(keep, dtype=np.int64)
        sub = array.take(pa.array(keep_arr, type=pa.int64())) if len(keep) else array.slice(0, 0)
        sub_data, sub_offsets = pack(sub)
        sub_norm, sub_norm_offsets, _, _ = normalize_packed(sub_data, sub_offsets)
        sig, band_keys = minhash_sketch(sub_data, sub_offsets, self.params, backend)
        meta = pa.Table.from_arrays(
            [
                pa.array([id_list[i] for i in keep], type=pa.string()),
                *(
                    pa.array([columns[c][i] for i in keep], type=pa.string())
                    for c in ("model", "dataset", "date")
                ),
                sub,
                pa.array(np.diff(sub_offsets), type=pa.int64()),
                pa.array(np.asarray(hashes, dtype=np.uint64), type=pa.uint64()),
                pa.array(duplicate_text, type=pa.bool_()),
                pa.array([columns["conversation"][i] for i in keep], type=pa.string()),
            ],
            schema=META_SCHEMA,
        )
        pair_keys, pair_refs = self._anchor_postings(sub_norm, sub_norm_offsets, duplicate_text)
        segment = Segment(
            name=f"seg-{len(self._segments):05d}",
            meta=meta,
            norm=sub_norm,
            norm_offsets=sub_norm_offsets,
            signatures=np.ascontiguousarray(sig),
            band_keys=np.ascontiguousarray(band_keys),
        )
        return _Prepared(segment, pair_keys, pair_refs, report)

    def _select_new(self, id_list, norm, norm_offsets) -> tuple[list, list, list, dict]:
        """``(keep, duplicate_text, text_hashes, report)``: the positions of the texts
        to store (ids not seen before, non-empty normalized text), whether each repeats
        an earlier normalized text, their hashes, and the counts of this call."""
        seen_ids = set(self.ids)
        seen_hashes = set(self.meta().column("text_hash").to_pylist())
        keep: list[int] = []
        duplicate_text: list[bool] = []
        hashes: list[int] = []
        report = {
            "added": 0,
            "duplicate_ids": 0,
            "duplicate_id_examples": [],
            "empty_texts": 0,
            "duplicate_texts": 0,
        }
        for i, ref_id in enumerate(id_list):
            if ref_id in seen_ids:
                report["duplicate_ids"] += 1
                if len(report["duplicate_id_examples"]) < MAX_DUPLICATE_ID_EXAMPLES:
                    report["duplicate_id_examples"].append(ref_id)
                continue
            seen_ids.add(ref_id)
            piece = norm[norm_offsets[i] : norm_offsets[i + 1]]
            if len(piece) == 0:
                report["empty_texts"] += 1
                continue
            digest = _text_hash(piece)
            is_dup = digest in seen_hashes
            seen_hashes.add(digest)
            keep.append(i)
            duplicate_text.append(is_dup)
            hashes.append(digest)
            report["duplicate_texts"] += int(is_dup)
        report["added"] = len(keep)
        return keep, duplicate_text, hashes, report

    def _anchor_postings(self, norm, norm_offsets, duplicate_text) -> tuple[np.ndarray, ...]:
        """Unique ``(key uint64, ref int64)`` anchor postings, sorted by key then ref, of
        new references (global indices after the held ones; duplicate texts have none)."""
        p = self.params
        _, anchor_keys, counts = winnow_anchors(norm, norm_offsets, p.anchor_bytes, p.anchor_window)
        owner = np.repeat(np.arange(len(duplicate_text), dtype=np.int64), counts)
        distinct = ~np.asarray(duplicate_text, dtype=bool)
        selected = distinct[owner] if len(owner) else np.zeros(0, dtype=bool)
        pair_keys = anchor_keys[selected]
        pair_refs = owner[selected] + self.n_refs
        if len(pair_keys):
            order = np.lexsort((pair_refs, pair_keys))
            pair_keys, pair_refs = pair_keys[order], pair_refs[order]
            unique = np.ones(len(pair_keys), dtype=bool)
            unique[1:] = (pair_keys[1:] != pair_keys[:-1]) | (pair_refs[1:] != pair_refs[:-1])
            pair_keys, pair_refs = pair_keys[unique], pair_refs[unique]
        return pair_keys, pair_refs.astype(np.int64)

    # ------------------------------------------------------------------ storage

    def fingerprint(self) -> str:
        """Hash of the parameters and the segments (changes on every add)."""
        payload = {
            "params": self.params.to_dict(),
            "segments": [[s.name, s.n_refs, int(s.norm_offsets[-1])] for s in self._segments],
        }
        if self._human:
            payload["human"] = [[h.name, int(len(h.keys))] for h in self._human]
        return reuse.fingerprint(payload)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the index to the folder ``path`` (layout:
        :mod:`engine.provenance.reference_store`).

        Segments already stored in this folder are not rewritten; ``index.json`` is
        written last, so a crash leaves the previous index intact.
        """
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        for segment in self._segments:
            if not store.stored_in(segment.stored_at, root):
                store.write_segment(root, segment)
        for part in self._human:
            if not store.stored_in(part.stored_at, root):
                store.write_human(root, part)
        if not store.stored_in(self._anchors_stored_at, root):
            families, family_df = self.family_data()
            arrays = {
                "keys": self.anchor_keys,
                "refs": self.anchor_refs,
                "families": families,
                "family_df": family_df,
            }
            store.write_anchors(root, self._anchors_name, arrays)
            self._anchors_stored_at = root
        write_json_atomic(root / "index.json", self._info())
        store.remove_other_generations(root, self._anchors_name)
        return root

    def _info(self) -> dict:
        """The content of ``index.json``."""
        return {
            "format": store.FORMAT,
            "version": store.FORMAT_VERSION,
            "normalization_version": store.NORMALIZATION_VERSION,
            "params": self.params.to_dict(),
            "segments": [
                {
                    "name": s.name,
                    "n_refs": s.n_refs,
                    "n_bytes": int(pc.sum(s.meta.column("n_bytes")).as_py() or 0),
                    "n_norm_bytes": int(s.norm_offsets[-1]),
                }
                for s in self._segments
            ],
            "anchors": self._anchors_name,
            "human": [h.name for h in self._human],
            "n_refs": self.n_refs,
            "n_anchor_pairs": int(len(self.anchor_keys)),
            "counts": self.counts,
            "fingerprint": self.fingerprint(),
        }

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferenceIndex:
        """Open a saved index (arrays memory-mapped, metadata read from Parquet).

        Everything read is checked first (:func:`engine.provenance.reference_store.read_index`).

        Raises:
            FileNotFoundError: ``path`` holds no ``index.json``.
            DamagedIndex: (a ``ValueError``) a file of the index is missing, unreadable,
                inconsistent with the others or outside the folder; the message names
                it and says to rebuild the index.
        """
        root = Path(path)
        stored = store.read_index(root)
        info = stored.info
        index = cls(stored.params)
        index._segments = stored.segments
        anchors = stored.anchors
        index.anchor_keys, index.anchor_refs = anchors["keys"], anchors["refs"]
        index._families, index._family_df = anchors["families"], anchors["family_df"]
        index._anchors_name = info["anchors"]
        index._generation = int(info["anchors"].split("-")[-1])
        index._anchors_stored_at = root
        index._human = stored.human
        index.counts = dict(info["counts"])
        return index

    # ------------------------------------------------------------------ matching

    def lookups(self) -> ReferenceTables:
        """What matching reads of the index, over all segments (built once per index
        state: after ``add``/``add_human`` it is rebuilt)."""
        if "tables" not in self._cache:
            self._cache["tables"] = reference_tables(
                self.params,
                self._segments,
                self.meta(),
                self.n_distinct,
                (self.anchor_keys, self.anchor_refs),
                self.family_data(),
            )
        return self._cache["tables"]

    def match(
        self,
        texts,
        doc_ids=None,
        *,
        params: ProvenanceParams | None = None,
        backend: str = "auto",
        **param_kwargs,
    ) -> pa.Table:
        """Flag documents that descend from the references.

        Args:
            texts: n documents (list of str, pyarrow string array, pandas Series).
            doc_ids: n ids (str); default "0", "1", ...
            params: :class:`engine.provenance.params.ProvenanceParams`, or its fields as
                keyword arguments.
            backend: where suffix arrays, LCP and signatures are computed.

        Returns:
            The flags table (``engine.provenance.FLAGS_SCHEMA``), one row per document
            in input order; evidence offsets are UTF-8 byte offsets into the original
            document and reference texts, end exclusive.
        """
        if params is None:
            params = ProvenanceParams(**param_kwargs)
        elif param_kwargs:
            raise ValueError("pass either params=ProvenanceParams(...) or keyword fields")
        array = as_large_string_array(texts)
        n = len(array)
        ids = [str(i) for i in range(n)] if doc_ids is None else _strings(doc_ids, n, "doc_ids")
        if n == 0:
            return empty_flags()
        data, offsets = pack(array)
        return match_packed(self.lookups(), ids, data, offsets, params, resolve_backend(backend))
