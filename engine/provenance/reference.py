"""The reference index: known model outputs, stored for provenance matching.

``ReferenceIndex.build(texts, ids, models=...)`` normalizes the references
(:func:`engine.provenance.matching.normalize_packed`), computes their winnowed anchors,
MinHash signatures and LSH band keys, and keeps their metadata and original text.
``save(path)`` writes a folder of open formats; ``load(path)`` memory-maps it;
``add(texts, ids, ...)`` appends a new segment without touching the stored ones
(only the merged anchor table and ``index.json`` are rewritten). Matching is
:meth:`ReferenceIndex.match` (method: :mod:`engine.provenance.matching`).

Folder layout (``REFDIR``)::

    index.json                       parameters, segments, counts (written last)
    segments/seg-NNNNN/meta.parquet  ref_id, model, dataset, date (strings, nullable),
                                     text (original), n_bytes int64 (UTF-8 bytes),
                                     text_hash uint64, duplicate_text bool
    segments/seg-NNNNN/norm.npy      uint8: the normalized texts back to back (a shard)
    segments/seg-NNNNN/norm_offsets.npy  int64 (n + 1,): reference boundaries in norm
    segments/seg-NNNNN/signatures.npy    uint32 (n, num_perm): MinHash signatures
    segments/seg-NNNNN/band_keys.npy     uint64 (n, bands): LSH band keys
    anchors/gen-NNNNN/keys.npy       uint64 (m,): anchor keys, sorted
    anchors/gen-NNNNN/refs.npy       int64 (m,): global reference index of each key
                                     ((key, ref) pairs unique, sorted by key then ref;
                                     a key's reference document frequency is its
                                     number of pairs)
    anchors/gen-NNNNN/families.npy   int64 (n,): each reference's family (smallest
                                     reference index of it; see below)
    anchors/gen-NNNNN/family_df.npy  uint32 (m,): per pair, the families holding its key
                                     (+1 when known human text holds it too)
    human/hum-NNNNN/keys.npy         uint64: distinct anchor keys of known human-written
                                     text added with ``add_human`` (sorted)

Families: references that copy or extend one another (a regeneration, a later turn
repeating an earlier answer, the same conversation shared twice) form a family
(:func:`engine.provenance.matching.reference_families`, anchor containment of at least
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
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.io.texts import as_large_string_array, pack
from engine.provenance.matching import (
    ProvenanceParams,
    anchor_buckets,
    anchor_ranges,
    covered_bytes,
    empty_flags,
    family_document_frequency,
    find_chains,
    flags_table,
    label_for,
    normalize_packed,
    normalize_text,
    reference_families,
    to_original,
    uninformative_bytes,
    winnow_anchors,
)
from engine.run.atomic import write_json_atomic, write_npy_atomic, write_parquet_atomic
from kernels.backend import resolve_backend, to_host
from kernels.lsh import band_keys as compute_band_keys
from kernels.lsh_params import optimal_bands_rows
from kernels.minhash import signatures as compute_signatures

FORMAT = "ouroboros-reference"
FORMAT_VERSION = 1
NORMALIZATION_VERSION = 3

META_SCHEMA = pa.schema(
    [
        ("ref_id", pa.string()),
        ("model", pa.string()),
        ("dataset", pa.string()),
        ("date", pa.string()),
        ("text", pa.large_string()),
        ("n_bytes", pa.int64()),
        ("text_hash", pa.uint64()),
        ("duplicate_text", pa.bool_()),
        ("conversation", pa.string()),
    ]
)


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
        for name in ("anchor_bytes", "anchor_window", "num_perm", "ngram", "family_min_shared"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
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


@dataclass
class _Segment:
    """One batch of references as added together (host arrays, maybe memory-mapped)."""

    name: str
    meta: pa.Table
    norm: np.ndarray
    norm_offsets: np.ndarray
    signatures: np.ndarray
    band_keys: np.ndarray
    stored_at: Path | None = None

    @property
    def n_refs(self) -> int:
        return self.meta.num_rows


@dataclass
class _HumanPart:
    """Distinct anchor keys of one batch of known human-written text (sorted uint64)."""

    name: str
    keys: np.ndarray
    stored_at: Path | None = None


@dataclass
class _Prepared:
    segment: _Segment
    anchor_keys: np.ndarray
    anchor_refs: np.ndarray
    report: dict = field(default_factory=dict)


def _text_hash(norm: np.ndarray) -> int:
    return int.from_bytes(hashlib.blake2b(norm.tobytes(), digest_size=8).digest(), "little")


def _strings(values, n: int, name: str) -> list[str | None]:
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


def _with_conversation(meta: pa.Table) -> pa.Table:
    """Metadata saved before the ``conversation`` column existed gets a null one."""
    if "conversation" in meta.column_names:
        return meta
    return meta.append_column("conversation", pa.nulls(meta.num_rows, type=pa.string()))


def _load_npy(path: Path) -> np.ndarray:
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return array


class ReferenceIndex:
    """Known model outputs, indexed for :meth:`match`.

    Example:
        >>> index = ReferenceIndex.build(["The answer is forty-two, because ..."], ["r1"])
        >>> index.save("refdir")  # doctest: +SKIP
        >>> flags = ReferenceIndex.load("refdir").match(["some crawl text"])  # doctest: +SKIP
    """

    def __init__(self, params: IndexParams | None = None) -> None:
        self.params = params or IndexParams()
        self._segments: list[_Segment] = []
        self.anchor_keys = np.zeros(0, dtype=np.uint64)
        self.anchor_refs = np.zeros(0, dtype=np.int64)
        self.counts: dict = {"added": 0, "duplicate_ids": 0, "empty_texts": 0, "duplicate_texts": 0}
        self.last_report: dict = {}
        self._anchors_stored_at: Path | None = None
        self._anchors_name = "gen-00000"
        self._generation = 0
        self._human: list[_HumanPart] = []
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
        prepared = self._prepare(
            texts, ids, models, datasets, dates, conversations, resolve_backend(backend)
        )
        if prepared.segment.n_refs:
            self._segments.append(prepared.segment)
            keys = np.concatenate([np.asarray(self.anchor_keys), prepared.anchor_keys])
            refs = np.concatenate([np.asarray(self.anchor_refs), prepared.anchor_refs])
            order = np.lexsort((refs, keys))
            self.anchor_keys = np.ascontiguousarray(keys[order])
            self.anchor_refs = np.ascontiguousarray(refs[order])
            self._new_generation()
        for key in ("added", "duplicate_ids", "empty_texts", "duplicate_texts"):
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
            self._human.append(_HumanPart(f"hum-{len(self._human):05d}", keys))
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

    def _prepare(self, texts, ids, models, datasets, dates, conversations, backend) -> _Prepared:
        array = as_large_string_array(texts)
        n = len(array)
        id_list = _strings(ids, n, "ids")
        if any(i is None for i in id_list):
            first = id_list.index(None)
            raise ValueError(f"ids[{first}] is None; every reference needs an id")
        columns = {
            "model": _strings(models, n, "models"),
            "dataset": _strings(datasets, n, "datasets"),
            "date": _strings(dates, n, "dates"),
            "conversation": _strings(conversations, n, "conversations"),
        }
        data, offsets = pack(array)
        norm, norm_offsets, _, _ = normalize_packed(data, offsets)
        seen_ids = set(self.ids)
        seen_hashes = self._cache.get("hashes")
        if seen_hashes is None:
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
                if len(report["duplicate_id_examples"]) < 20:
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
        keep_arr = np.asarray(keep, dtype=np.int64)
        sub = array.take(pa.array(keep_arr, type=pa.int64())) if len(keep) else array.slice(0, 0)
        sub_data, sub_offsets = pack(sub)
        sub_norm, sub_norm_offsets, _, _ = normalize_packed(sub_data, sub_offsets)
        p = self.params
        sig, keys = self._signatures(sub_data, sub_offsets, backend)
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
        base = self.n_refs
        positions, anchor_keys, counts = winnow_anchors(
            sub_norm, sub_norm_offsets, p.anchor_bytes, p.anchor_window
        )
        owner = np.repeat(np.arange(len(keep), dtype=np.int64), counts)
        distinct = ~np.asarray(duplicate_text, dtype=bool)
        selected = distinct[owner] if len(owner) else np.zeros(0, dtype=bool)
        pair_keys = anchor_keys[selected]
        pair_refs = owner[selected] + base
        if len(pair_keys):
            order = np.lexsort((pair_refs, pair_keys))
            pair_keys, pair_refs = pair_keys[order], pair_refs[order]
            unique = np.ones(len(pair_keys), dtype=bool)
            unique[1:] = (pair_keys[1:] != pair_keys[:-1]) | (pair_refs[1:] != pair_refs[:-1])
            pair_keys, pair_refs = pair_keys[unique], pair_refs[unique]
        segment = _Segment(
            name=f"seg-{len(self._segments):05d}",
            meta=meta,
            norm=sub_norm,
            norm_offsets=sub_norm_offsets,
            signatures=np.ascontiguousarray(sig),
            band_keys=np.ascontiguousarray(keys),
        )
        return _Prepared(segment, pair_keys, pair_refs.astype(np.int64), report)

    # ------------------------------------------------------------------ storage

    def fingerprint(self) -> str:
        """Hash of the parameters and the segments (changes on every add)."""
        payload = {
            "params": self.params.to_dict(),
            "segments": [[s.name, s.n_refs, int(s.norm_offsets[-1])] for s in self._segments],
        }
        if self._human:
            payload["human"] = [[h.name, int(len(h.keys))] for h in self._human]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the index to the folder ``path`` (see the module docstring).

        Segments already stored in this folder are not rewritten; ``index.json`` is
        written last, so a crash leaves the previous index intact.
        """
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        for segment in self._segments:
            folder = root / "segments" / segment.name
            if segment.stored_at is not None and segment.stored_at.resolve() == root.resolve():
                continue
            write_parquet_atomic(folder / "meta.parquet", segment.meta)
            write_npy_atomic(folder / "norm.npy", segment.norm)
            write_npy_atomic(folder / "norm_offsets.npy", segment.norm_offsets)
            write_npy_atomic(folder / "signatures.npy", segment.signatures)
            write_npy_atomic(folder / "band_keys.npy", segment.band_keys)
            segment.stored_at = root
        for part in self._human:
            if part.stored_at is not None and part.stored_at.resolve() == root.resolve():
                continue
            write_npy_atomic(root / "human" / part.name / "keys.npy", part.keys)
            part.stored_at = root
        anchors = root / "anchors" / self._anchors_name
        if self._anchors_stored_at is None or self._anchors_stored_at.resolve() != root.resolve():
            families, family_df = self.family_data()
            write_npy_atomic(anchors / "keys.npy", self.anchor_keys)
            write_npy_atomic(anchors / "refs.npy", self.anchor_refs)
            write_npy_atomic(anchors / "families.npy", families)
            write_npy_atomic(anchors / "family_df.npy", family_df)
            self._anchors_stored_at = root
        info = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "normalization_version": NORMALIZATION_VERSION,
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
        write_json_atomic(root / "index.json", info)
        # older anchor generations are no longer referenced
        for old in (root / "anchors").glob("gen-*"):
            if old.name != self._anchors_name and old.is_dir():
                for file in old.iterdir():
                    file.unlink(missing_ok=True)
                old.rmdir()
        return root

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferenceIndex:
        """Open a saved index (arrays memory-mapped, metadata read from Parquet)."""
        root = Path(path)
        info_path = root / "index.json"
        if not info_path.exists():
            raise FileNotFoundError(
                f"{info_path} not found: {root} is not a reference index; build one with "
                "`ouroboros reference build INPUT... --out REFDIR`"
            )
        info = json.loads(info_path.read_text())
        if info.get("format") != FORMAT or info.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{root} holds format {info.get('format')!r} version {info.get('version')!r}; "
                f"this ouroboros reads {FORMAT!r} version {FORMAT_VERSION}: rebuild the index"
            )
        if info.get("normalization_version") != NORMALIZATION_VERSION:
            raise ValueError(
                f"{root} was built with normalization version "
                f"{info.get('normalization_version')}; rebuild it with this ouroboros"
            )
        index = cls(IndexParams(**info["params"]))
        for entry in info["segments"]:
            folder = root / "segments" / entry["name"]
            index._segments.append(
                _Segment(
                    name=entry["name"],
                    meta=_with_conversation(
                        pq.read_table(folder / "meta.parquet", memory_map=True)
                    ),
                    norm=_load_npy(folder / "norm.npy"),
                    norm_offsets=_load_npy(folder / "norm_offsets.npy"),
                    signatures=_load_npy(folder / "signatures.npy"),
                    band_keys=_load_npy(folder / "band_keys.npy"),
                    stored_at=root,
                )
            )
        anchors = root / "anchors" / info["anchors"]
        index.anchor_keys = _load_npy(anchors / "keys.npy")
        index.anchor_refs = _load_npy(anchors / "refs.npy")
        index._anchors_name = info["anchors"]
        index._generation = int(info["anchors"].split("-")[-1])
        index._anchors_stored_at = root
        if (anchors / "family_df.npy").exists():
            index._families = _load_npy(anchors / "families.npy")
            index._family_df = _load_npy(anchors / "family_df.npy")
        for name in info.get("human", []):
            index._human.append(
                _HumanPart(name, _load_npy(root / "human" / name / "keys.npy"), stored_at=root)
            )
        index.counts = dict(info.get("counts", {}))
        return index

    # ------------------------------------------------------------------ matching

    def _global(self) -> dict:
        """Per-reference arrays over all segments (built once per index state)."""
        if "global" in self._cache:
            return self._cache["global"]
        segs = self._segments
        meta = self.meta()
        seg_starts = np.zeros(len(segs) + 1, dtype=np.int64)
        np.cumsum([s.n_refs for s in segs], out=seg_starts[1:])
        p = self.params
        if segs:
            signatures = np.concatenate([np.asarray(s.signatures) for s in segs])
            band_keys = np.concatenate([np.asarray(s.band_keys) for s in segs])
        else:
            signatures = np.zeros((0, p.num_perm), np.uint32)
            band_keys = np.zeros((0, p.bands), np.uint64)
        duplicate = np.asarray(
            meta.column("duplicate_text").to_numpy(zero_copy_only=False), dtype=bool
        )
        distinct = np.flatnonzero(~duplicate)
        bands = []
        for j in range(p.bands):
            column = band_keys[distinct, j]
            order = np.argsort(column, kind="stable")
            bands.append((column[order], distinct[order]))
        result = {
            "meta": meta,
            "ids": meta.column("ref_id").to_pylist(),
            "n_bytes": meta.column("n_bytes").to_numpy(),
            "seg_starts": seg_starts,
            "signatures": signatures,
            "bands": bands,
            "anchor_buckets": anchor_buckets(np.asarray(self.anchor_keys)),
        }
        self._cache["global"] = result
        return result

    def _ref_norm(self, ref: int) -> np.ndarray:
        g = self._global()
        s = int(np.searchsorted(g["seg_starts"], ref, side="right")) - 1
        segment = self._segments[s]
        local = ref - int(g["seg_starts"][s])
        lo, hi = int(segment.norm_offsets[local]), int(segment.norm_offsets[local + 1])
        return np.asarray(segment.norm[lo:hi])

    def _ref_text(self, ref: int) -> str:
        g = self._global()
        return g["meta"].column("text")[ref].as_py()

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
            params: :class:`engine.provenance.matching.ProvenanceParams`, or its fields as
                keyword arguments.
            backend: where suffix arrays, LCP and signatures are computed.

        Returns:
            The flags table (``engine.provenance.matching.FLAGS_SCHEMA``), one row per document
            in input order; evidence offsets are UTF-8 byte offsets into the original
            document and reference texts, end exclusive.
        """
        if params is None:
            params = ProvenanceParams(**param_kwargs)
        elif param_kwargs:
            raise ValueError("pass either params=ProvenanceParams(...) or keyword fields")
        array = as_large_string_array(texts)
        n = len(array)
        if doc_ids is None:
            ids = [str(i) for i in range(n)]
        else:
            ids = _strings(doc_ids, n, "doc_ids")
        if n == 0:
            return empty_flags()
        resolved = resolve_backend(backend)
        data, offsets = pack(array)
        result = self._match_arrays(data, offsets, params, resolved)
        rows = []
        for d in range(n):
            rows.append(self._row(ids[d], d, data, offsets, result, params))
        return flags_table(rows)

    def _candidates(self, data, offsets, norm, norm_offsets, params, backend) -> dict:
        p = self.params
        n_docs = len(offsets) - 1
        n_refs = self.n_refs
        positions, keys, counts = winnow_anchors(
            norm, norm_offsets, p.anchor_bytes, p.anchor_window
        )
        anchor_doc = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
        anchor_keys = np.asarray(self.anchor_keys)
        left, right = anchor_ranges(anchor_keys, self._global()["anchor_buckets"], keys)
        df = right - left
        family_df = np.zeros(len(df), dtype=np.int64)
        held = df > 0
        family_df[held] = self.family_data()[1][left[held]]
        boiler = family_df >= params.boilerplate_df(self.n_distinct)
        shared = family_df >= params.shared_min_families
        # byte ranges (normalized, global positions) that do not count toward min_span
        boiler_positions = positions[boiler | shared]
        useful = held & ~boiler
        if params.min_shared_anchors > 1 and useful.any():
            # count each distinct anchor key of a document once
            idx = np.flatnonzero(useful)
            order = np.lexsort((keys[idx], anchor_doc[idx]))
            idx = idx[order]
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
        hit_ref = np.asarray(self.anchor_refs)[starts + within] if len(starts) else starts
        pair_doc = hit_doc
        pair_ref = np.asarray(hit_ref, dtype=np.int64)
        score = np.ones(len(pair_doc), dtype=np.float64)
        verified_doc = np.zeros(0, np.int64)
        verified_ref = np.zeros(0, np.int64)
        verified_j = np.zeros(0, np.float64)
        if params.minhash and n_refs:
            verified_doc, verified_ref, verified_j = self._minhash_pairs(
                data, offsets, params, backend
            )
        # rank: verified pairs first (by Jaccard), then anchors shared
        key = pair_doc * n_refs + pair_ref
        unique_key, hits = np.unique(key, return_counts=True)
        enough = hits >= params.min_shared_anchors
        unique_key, hits = unique_key[enough], hits[enough]
        score = hits.astype(np.float64)
        v_key = verified_doc * n_refs + verified_ref
        all_key = np.concatenate([unique_key, v_key])
        all_score = np.concatenate([score, 1e9 + verified_j])
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
        doc, ref, all_score = doc[kept], ref[kept], all_score[kept]
        verified = np.isin(doc * n_refs + ref, v_key)
        return {
            "doc": doc,
            "ref": ref,
            "verified": verified,
            "verified_pairs": (verified_doc, verified_ref, verified_j),
            "boiler_positions": boiler_positions,
        }

    def _signatures(self, data, offsets, backend) -> tuple[np.ndarray, np.ndarray]:
        """MinHash signatures uint32 (n, num_perm) and LSH band keys uint64 (n, bands)
        of packed texts, with the index's parameters (host arrays)."""
        p = self.params
        sig = to_host(
            compute_signatures(
                data,
                offsets,
                num_perm=p.num_perm,
                ngram=p.ngram,
                shingle=p.shingle,
                seed=p.seed,
                backend=backend,
            )
        )
        return sig, to_host(compute_band_keys(sig, p.bands, p.rows, backend=backend))

    def _minhash_pairs(self, data, offsets, params, backend):
        g = self._global()
        sig, keys = self._signatures(data, offsets, backend)
        has_shingles = ~np.all(sig == np.uint32(0xFFFFFFFF), axis=1)
        docs: list[np.ndarray] = []
        refs: list[np.ndarray] = []
        for j, (sorted_keys, owners) in enumerate(g["bands"]):
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
        d = np.concatenate(docs)
        r = np.concatenate(refs)
        key = np.unique(d * self.n_refs + r)
        d, r = key // self.n_refs, key % self.n_refs
        jaccard = np.mean(sig[d] == g["signatures"][r], axis=1)
        ok = jaccard >= params.minhash_threshold
        return d[ok], r[ok], jaccard[ok]

    def _match_arrays(self, data, offsets, params, backend) -> dict:
        norm, norm_offsets, _, _ = normalize_packed(data, offsets)
        if self.n_refs == 0:
            return {"chains": None, "verified": {}}
        cand = self._candidates(data, offsets, norm, norm_offsets, params, backend)
        verified: dict[int, list[tuple[int, float]]] = {}
        for d, r, j in zip(*(x.tolist() for x in cand["verified_pairs"])):
            verified.setdefault(d, []).append((r, j))
        if len(cand["doc"]) == 0:
            return {"chains": None, "verified": verified}
        cand_docs = np.unique(cand["doc"])
        cand_refs = np.unique(cand["ref"])
        doc_slot = np.searchsorted(cand_docs, cand["doc"])
        ref_slot = np.searchsorted(cand_refs, cand["ref"])
        gaps = np.where(cand["verified"], params.verified_max_gap, params.max_gap)
        doc_norm = [norm[norm_offsets[d] : norm_offsets[d + 1]] for d in cand_docs.tolist()]
        ref_norm = [self._ref_norm(r) for r in cand_refs.tolist()]
        # boilerplate and shared-phrasing masks per candidate document
        k = self.params.anchor_bytes
        masks = [uninformative_bytes(x).astype(np.int64) for x in doc_norm]
        positions = cand["boiler_positions"]
        if len(positions):
            owner = np.searchsorted(norm_offsets, positions, side="right") - 1
            slot = np.searchsorted(cand_docs, owner)
            present = (slot < len(cand_docs)) & (
                cand_docs[np.minimum(slot, len(cand_docs) - 1)] == owner
            )
            for pos, s, o in zip(
                positions[present].tolist(), slot[present].tolist(), owner[present].tolist()
            ):
                local = pos - int(norm_offsets[o])
                masks[s][local : local + k] = 1
        chains = find_chains(
            doc_norm,
            ref_norm,
            doc_slot,
            ref_slot,
            gaps,
            masks,
            params,
            backend=backend,
            ref_family=np.asarray(self.family_data()[0])[cand_refs],
            shared_span=self.params.anchor_bytes,
        )
        chains["doc"] = cand_docs[chains["doc"]]
        chains["ref"] = cand_refs[chains["ref"]]
        return {"chains": chains, "verified": verified}

    def _row(self, doc_id, d, data, offsets, result, params) -> dict:
        none_row = {
            "doc_id": doc_id,
            "label": "none",
            "cov_doc": 0.0,
            "cov_ref": 0.0,
            "longest_match": 0,
            "ref_ids": [],
            "evidence": [],
        }
        chains = result["chains"]
        verified = result["verified"].get(d, [])
        if chains is not None and len(chains["doc"]):
            lo = int(np.searchsorted(chains["doc"], d, side="left"))
            hi = int(np.searchsorted(chains["doc"], d, side="right"))
        else:
            lo = hi = 0
        if lo == hi and not verified:
            return none_row
        g = self._global()
        raw = data[offsets[d] : offsets[d + 1]]
        n_bytes = len(raw)
        evidence = []
        per_ref: dict[int, list[tuple[int, int]]] = {}
        if hi > lo:
            norm, s_map, e_map = normalize_text(raw.tobytes())
            norm_arr = np.frombuffer(norm, np.uint8)
            ref_maps: dict[int, tuple] = {}
            for c in range(lo, hi):
                r = int(chains["ref"][c])
                start, end = to_original(
                    norm_arr, s_map, e_map, int(chains["start"][c]), int(chains["end"][c])
                )
                if r not in ref_maps:
                    rn, rs, re_ = normalize_text(self._ref_text(r))
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
                        "ref_id": g["ids"][r],
                        "ref_start": ref_start,
                        "ref_end": ref_end,
                    }
                )
                per_ref.setdefault(r, []).append((ref_start, ref_end))
        cov_doc = 0.0
        longest = 0
        if evidence:
            starts = np.array([e["start"] for e in evidence])
            ends = np.array([e["end"] for e in evidence])
            cov_doc = covered_bytes(starts, ends) / max(n_bytes, 1)
            longest = int((ends - starts).max())
        ref_cov = {}
        for r, ranges in per_ref.items():
            arr = np.array(ranges)
            ref_cov[r] = covered_bytes(arr[:, 0], arr[:, 1]) / max(int(g["n_bytes"][r]), 1)
        cov_ref = max(ref_cov.values()) if ref_cov else 0.0
        ordered = sorted(ref_cov, key=lambda r: (-ref_cov[r], r))
        for r, _ in sorted(verified, key=lambda x: (-x[1], x[0])):
            if r not in ref_cov:
                ordered.append(r)
        label = label_for(cov_doc, cov_ref, bool(evidence), params, verified=bool(verified))
        return {
            "doc_id": doc_id,
            "label": label,
            "cov_doc": float(min(cov_doc, 1.0)),
            "cov_ref": float(min(cov_ref, 1.0)),
            "longest_match": longest,
            "ref_ids": [g["ids"][r] for r in ordered],
            "evidence": evidence,
        }
