"""The reference index on disk: a folder of open formats, memory-mapped when read.

Folder layout (``REFDIR``)::

    index.json                       parameters, segments, counts (written last)
    segments/seg-NNNNN/meta.parquet  ref_id, model, dataset, date (strings, nullable),
                                     text (original), n_bytes int64 (UTF-8 bytes),
                                     text_hash uint64, duplicate_text bool,
                                     conversation (string, nullable)
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
                                     reference index of it)
    anchors/gen-NNNNN/family_df.npy  uint32 (m,): per pair, the families holding its key
                                     (+1 when known human text holds it too)
    human/hum-NNNNN/keys.npy         uint64: distinct anchor keys of known human-written
                                     text added with ``add_human`` (sorted)

Segments and human parts are written once and never rewritten; every change of the
anchor table or the human keys writes a new anchor generation, and ``index.json``
(written last) names the one in use, so a crash leaves the previous index intact.

Reading (:func:`read_index`) checks everything before it is used and refuses a damaged
index with :class:`DamagedIndex` (a ``ValueError``) naming the file, what is wrong and
the fix: ``index.json`` (JSON object, format and versions, keys and their types, part
names exactly ``seg-NNNNN`` / ``hum-NNNNN`` in order and ``gen-NNNNN``, every path
inside the folder, symbolic links included), every array (present, a plain ``.npy``
read without pickle, its dtype and dimensions, lengths consistent with each other and
with ``index.json``: offsets from 0, non-decreasing, ending at the length of ``norm``;
anchor pairs sorted and unique, references and families in range) and every
``meta.parquet`` (its columns and types, rows, no missing ids, texts or sizes, sizes
matching the texts, ids unique over the index). The checks are vectorised NumPy/Arrow
passes over the memory-mapped files, chunk by chunk: no per-reference Python loop.
Format 1 indexes written before families (no ``family_containment`` /
``family_min_shared`` parameters, no ``families.npy`` / ``family_df.npy``, no
``human`` parts) or before the ``conversation`` column still load.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.provenance.params import IndexParams
from engine.run.atomic import write_npy_atomic, write_parquet_atomic

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
_SEGMENT_ARRAYS = ("norm", "norm_offsets", "signatures", "band_keys")
_ANCHOR_ARRAYS = ("keys", "refs", "families", "family_df")
REBUILD = "rebuild it with `ouroboros reference build INPUT... --out REFDIR`"


class DamagedIndex(ValueError):
    """A reference index that cannot be used as stored: a file missing, unreadable or
    inconsistent with the others, or a name in ``index.json`` leading outside the
    index folder. ``path`` is the file (or folder) at fault; the message names it,
    says what is wrong and how to fix it (on one line)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{path}: {self.problem}; the reference index is unusable: {REBUILD}")


@dataclass
class Segment:
    """One batch of references as added together (host arrays, maybe memory-mapped).

    Attributes:
        name: ``seg-NNNNN``.
        meta: META_SCHEMA table, one row per reference.
        norm: uint8 normalized texts back to back; norm_offsets: int64 (n + 1,).
        signatures: uint32 (n, num_perm); band_keys: uint64 (n, bands).
        stored_at: the index folder holding it, None until saved.
    """

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
class HumanPart:
    """Distinct anchor keys of one batch of known human-written text (sorted uint64)."""

    name: str
    keys: np.ndarray
    stored_at: Path | None = None


def stored_in(stored_at: Path | None, root: Path) -> bool:
    """Whether something recorded as stored at ``stored_at`` is already in ``root``."""
    return stored_at is not None and stored_at.resolve() == root.resolve()


def write_segment(root: Path, segment: Segment) -> None:
    """``segments/<name>/``: meta.parquet and the four arrays, each file atomically."""
    folder = root / "segments" / segment.name
    write_parquet_atomic(folder / "meta.parquet", segment.meta)
    for name in _SEGMENT_ARRAYS:
        write_npy_atomic(folder / f"{name}.npy", getattr(segment, name))
    segment.stored_at = root


def write_human(root: Path, part: HumanPart) -> None:
    """``human/<name>/keys.npy``."""
    write_npy_atomic(root / "human" / part.name / "keys.npy", part.keys)
    part.stored_at = root


def write_anchors(root: Path, generation: str, arrays: dict[str, np.ndarray]) -> None:
    """The anchor generation ``generation`` (``gen-NNNNN``): ``arrays`` holds keys,
    refs, families and family_df."""
    for name in _ANCHOR_ARRAYS:
        write_npy_atomic(root / "anchors" / generation / f"{name}.npy", arrays[name])


def remove_other_generations(root: Path, generation: str) -> None:
    """Remove anchor generations other than ``generation`` (no longer referenced)."""
    for old in (root / "anchors").glob("gen-*"):
        if old.name != generation and old.is_dir():
            for file in old.iterdir():
                file.unlink(missing_ok=True)
            old.rmdir()


# ---------------------------------------------------------------------------- reading

#: index.json keys every format-1 index has, with their JSON types.
_INFO_KEYS = {
    "format": str,
    "version": int,
    "normalization_version": int,
    "params": dict,
    "segments": list,
    "anchors": str,
    "n_refs": int,
    "n_anchor_pairs": int,
    "counts": dict,
}
_SEGMENT_KEYS = ("name", "n_refs", "n_bytes", "n_norm_bytes")
#: IndexParams fields every format-1 index has; later fields are optional (default).
_REQUIRED_PARAMS = ("anchor_bytes", "anchor_window", "num_perm", "ngram", "shingle", "seed")
_PARAM_TYPES = {"shingle": (str,), "family_containment": (int, float)}
_GENERATION = re.compile(r"gen-[0-9]{5,}")
_CHUNK = 1 << 22  # elements per vectorised pass over a memory-mapped array
_NOT_NULL = ("ref_id", "text", "n_bytes", "text_hash", "duplicate_text")


@dataclass
class StoredIndex:
    """A reference index as read by :func:`read_index`, every part checked."""

    info: dict
    params: IndexParams
    segments: list[Segment]
    anchors: dict[str, np.ndarray | None]
    human: list[HumanPart]


def read_index(root: Path) -> StoredIndex:
    """The index at ``root``: ``index.json``, its segments, human parts and anchor
    generation, each checked (module docstring) before use.

    Raises:
        FileNotFoundError: ``root`` holds no ``index.json`` (not a reference index).
        DamagedIndex: anything stored is missing, unreadable or inconsistent.
    """
    info = read_info(root)
    params = _index_params(root / "index.json", info["params"])
    segments = [read_segment(root, entry, params) for entry in info["segments"]]
    n_refs = sum(s.n_refs for s in segments)
    if n_refs != info["n_refs"]:
        raise DamagedIndex(
            root / "index.json",
            f"n_refs is {info['n_refs']} but its segments hold {n_refs} references",
        )
    _check_unique_ids(root, segments)
    duplicates = sum(int(pc.sum(s.meta.column("duplicate_text")).as_py() or 0) for s in segments)
    counted = info["counts"].get("duplicate_texts", 0)
    if counted != duplicates:
        raise DamagedIndex(
            root / "index.json",
            f"counts.duplicate_texts is {counted} but the segments' duplicate_text "
            f"column marks {duplicates}",
        )
    human = [read_human(root, name) for name in info["human"]]
    anchors = read_anchors(root, info["anchors"], n_refs, info["n_anchor_pairs"])
    return StoredIndex(info, params, segments, anchors, human)


def read_info(root: Path) -> dict:
    """``index.json`` of the index at ``root``, checked for format, versions, keys,
    types and part names (``human`` defaults to ``[]``)."""
    info_path = root / "index.json"
    if not info_path.exists() and not info_path.is_symlink():
        raise FileNotFoundError(
            f"{info_path} not found: {root} is not a reference index; build one with "
            "`ouroboros reference build INPUT... --out REFDIR`"
        )
    _inside(root, info_path)
    if not info_path.is_file():
        raise DamagedIndex(info_path, "is not a file")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DamagedIndex(info_path, f"cannot be read ({exc})") from exc
    except ValueError as exc:
        raise DamagedIndex(info_path, f"is not valid JSON ({exc})") from exc
    if not isinstance(info, dict):
        raise DamagedIndex(info_path, f"holds a JSON {_json_type(info)}, not an object")
    if info.get("format") != FORMAT or info.get("version") != FORMAT_VERSION:
        raise DamagedIndex(
            info_path,
            f"holds format {info.get('format')!r} version {info.get('version')!r}; "
            f"this ouroboros reads {FORMAT!r} version {FORMAT_VERSION}",
        )
    if info.get("normalization_version") != NORMALIZATION_VERSION:
        raise DamagedIndex(
            info_path,
            f"was built with normalization version {info.get('normalization_version')!r}; "
            f"this ouroboros normalizes with version {NORMALIZATION_VERSION}",
        )
    info = dict(info)
    info.setdefault("human", [])
    for key, kind in {**_INFO_KEYS, "human": list}.items():
        if key not in info:
            raise DamagedIndex(info_path, f"has no {key!r} entry")
        if kind is int:
            _check_count(info_path, key, info[key])
        elif not isinstance(info[key], kind):
            raise DamagedIndex(
                info_path,
                f"{key} is a JSON {_json_type(info[key])}, not a JSON {_json_type(kind())}",
            )
    if "fingerprint" in info and not isinstance(info["fingerprint"], str):
        raise DamagedIndex(info_path, "fingerprint is not a string")
    for key, value in info["counts"].items():
        _check_count(info_path, f"counts.{key}", value)
    for i, entry in enumerate(info["segments"]):
        if not isinstance(entry, dict):
            raise DamagedIndex(info_path, f"segments[{i}] is not an object")
        for key in _SEGMENT_KEYS:
            if key not in entry:
                raise DamagedIndex(info_path, f"segments[{i}] has no {key!r} entry")
        _check_name(info_path, f"segments[{i}].name", entry["name"], f"seg-{i:05d}")
        for key in _SEGMENT_KEYS[1:]:
            _check_count(info_path, f"segments[{i}].{key}", entry[key])
    for i, name in enumerate(info["human"]):
        _check_name(info_path, f"human[{i}]", name, f"hum-{i:05d}")
    if not _GENERATION.fullmatch(info["anchors"]):
        raise DamagedIndex(
            info_path,
            f"anchors is {info['anchors']!r}, not an anchor generation name (gen-NNNNN)",
        )
    return info


def read_segment(root: Path, entry: dict, params: IndexParams) -> Segment:
    """The segment of ``entry`` (an ``index.json`` segments item): arrays
    memory-mapped, metadata from Parquet, all checked against each other, ``entry``
    and ``params``."""
    name, n = entry["name"], entry["n_refs"]
    folder = _inside(root, root / "segments" / name)
    meta_path = folder / "meta.parquet"
    meta = _read_meta(root, meta_path)
    if meta.num_rows != n:
        raise DamagedIndex(
            meta_path, f"has {meta.num_rows} rows but index.json gives n_refs {n} for {name}"
        )
    n_bytes = int(pc.sum(meta.column("n_bytes")).as_py() or 0)
    if n_bytes != entry["n_bytes"]:
        raise DamagedIndex(
            meta_path,
            f"holds {n_bytes} text bytes (n_bytes) but index.json gives n_bytes "
            f"{entry['n_bytes']} for {name}",
        )
    norm_path = folder / "norm.npy"
    norm = _load_npy(root, norm_path, np.uint8, 1)
    if len(norm) != entry["n_norm_bytes"]:
        raise DamagedIndex(
            norm_path,
            f"holds {len(norm)} bytes but index.json gives n_norm_bytes "
            f"{entry['n_norm_bytes']} for {name}",
        )
    offsets_path = folder / "norm_offsets.npy"
    offsets = _load_npy(root, offsets_path, np.int64, 1)
    _check_offsets(offsets_path, offsets, n, len(norm))
    signatures = _load_npy(root, folder / "signatures.npy", np.uint32, 2)
    _check_shape(folder / "signatures.npy", signatures, (n, params.num_perm), "(n_refs, num_perm)")
    band_keys = _load_npy(root, folder / "band_keys.npy", np.uint64, 2)
    _check_shape(folder / "band_keys.npy", band_keys, (n, params.bands), "(n_refs, bands)")
    return Segment(
        name=name,
        meta=_with_conversation(meta),
        norm=norm,
        norm_offsets=offsets,
        signatures=signatures,
        band_keys=band_keys,
        stored_at=root,
    )


def read_human(root: Path, name: str) -> HumanPart:
    """A stored part of human-text anchor keys (memory-mapped, strictly increasing)."""
    path = _inside(root, root / "human" / name) / "keys.npy"
    keys = _load_npy(root, path, np.uint64, 1)
    at = _first_bad(len(keys) - 1, lambda lo, hi: keys[lo + 1 : hi + 1] <= keys[lo:hi])
    if at is not None:
        raise DamagedIndex(path, f"keys are not sorted and distinct at position {at + 1}")
    return HumanPart(name, keys, stored_at=root)


def read_anchors(
    root: Path, generation: str, n_refs: int, n_pairs: int
) -> dict[str, np.ndarray | None]:
    """keys, refs, families, family_df of an anchor generation (memory-mapped), checked
    against ``n_refs`` references and ``n_pairs`` pairs; the family arrays are None in
    an index saved without them."""
    folder = _inside(root, root / "anchors" / generation)
    keys_path, refs_path = folder / "keys.npy", folder / "refs.npy"
    keys = _load_npy(root, keys_path, np.uint64, 1)
    if len(keys) != n_pairs:
        raise DamagedIndex(
            keys_path, f"holds {len(keys)} keys but index.json gives n_anchor_pairs {n_pairs}"
        )
    refs = _load_npy(root, refs_path, np.int64, 1)
    if len(refs) != len(keys):
        raise DamagedIndex(refs_path, f"holds {len(refs)} entries but keys.npy {len(keys)}")
    at = _first_bad(len(keys) - 1, lambda lo, hi: keys[lo + 1 : hi + 1] < keys[lo:hi])
    if at is not None:
        raise DamagedIndex(keys_path, f"keys are not sorted at position {at + 1}")

    def unordered(lo: int, hi: int) -> np.ndarray:
        same = keys[lo + 1 : hi + 1] == keys[lo:hi]
        return same & (refs[lo + 1 : hi + 1] <= refs[lo:hi])

    at = _first_bad(len(keys) - 1, unordered)
    if at is not None:
        raise DamagedIndex(
            refs_path,
            f"(key, ref) pairs repeat or are not sorted by reference at position {at + 1}",
        )
    _check_range(refs_path, refs, 0, n_refs - 1, "reference indices")
    arrays: dict[str, np.ndarray | None] = {
        "keys": keys,
        "refs": refs,
        "families": None,
        "family_df": None,
    }
    families_path, df_path = folder / "families.npy", folder / "family_df.npy"
    present = [p.exists() or p.is_symlink() for p in (families_path, df_path)]
    if present == [False, False]:  # saved before family data existed: recomputed
        return arrays
    if not all(present):
        missing, other = (families_path, df_path) if not present[0] else (df_path, families_path)
        raise DamagedIndex(missing, f"is missing while {other.name} is present")
    families = _load_npy(root, families_path, np.int64, 1)
    if len(families) != n_refs:
        raise DamagedIndex(families_path, f"holds {len(families)} entries for {n_refs} references")

    def not_a_family(lo: int, hi: int) -> np.ndarray:
        own = np.asarray(families[lo:hi])
        valid = (own >= 0) & (own <= np.arange(lo, hi))
        head = np.where(valid, own, 0)
        return ~valid | (np.asarray(families[head]) != head)

    at = _first_bad(len(families), not_a_family)
    if at is not None:
        raise DamagedIndex(
            families_path,
            f"reference {at} has family {int(families[at])}, which is not the smallest "
            "reference of a family at or before it",
        )
    family_df = _load_npy(root, df_path, np.uint32, 1)
    if len(family_df) != len(keys):
        raise DamagedIndex(df_path, f"holds {len(family_df)} entries but keys.npy {len(keys)}")
    _check_range(df_path, family_df, 1, n_refs + 1, "family document frequencies")
    arrays["families"], arrays["family_df"] = families, family_df
    return arrays


# ---------------------------------------------------------------------------- checks


def _inside(root: Path, path: Path) -> Path:
    """``path``, refused unless it resolves (symbolic links followed) inside ``root``."""
    try:
        resolved, base = path.resolve(), root.resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop
        raise DamagedIndex(path, f"cannot be resolved ({exc})") from exc
    if resolved != base and base not in resolved.parents:
        raise DamagedIndex(path, f"resolves to {resolved}, outside the index folder {base}")
    return path


def _json_type(value) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _check_count(info_path: Path, key: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DamagedIndex(info_path, f"{key} is {value!r}, not a count (an integer >= 0)")


def _check_name(info_path: Path, key: str, name, expected: str) -> None:
    """Part names are exactly those the writer gives, in order (a name out of order
    would be reused, and overwritten, by the next ``add``)."""
    if name != expected:
        raise DamagedIndex(info_path, f"{key} is {name!r}; the index writes {expected!r} there")


def _index_params(info_path: Path, params: dict) -> IndexParams:
    known = {f.name for f in fields(IndexParams)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise DamagedIndex(info_path, f"params has unknown entries {unknown}")
    for key in _REQUIRED_PARAMS + ("bands", "rows"):
        if key not in params:
            raise DamagedIndex(info_path, f"params has no {key!r} entry")
    for key, value in params.items():
        kinds = _PARAM_TYPES.get(key, (int,))
        allowed = value is None and key in ("bands", "rows")
        if not allowed and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise DamagedIndex(
                info_path,
                f"params.{key} is {value!r}, not of type {' or '.join(k.__name__ for k in kinds)}",
            )
    try:
        return IndexParams(**params)
    except (TypeError, ValueError) as exc:
        raise DamagedIndex(info_path, f"params: {exc}") from exc


def _load_npy(root: Path, path: Path, dtype, ndim: int) -> np.ndarray:
    """A plain ``.npy`` array memory-mapped (never unpickled), of ``dtype`` (native
    byte order) and ``ndim`` dimensions."""
    _inside(root, path)
    if not path.is_file():
        raise DamagedIndex(path, "is not a file" if path.exists() else "is missing")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # any damage: numpy raises ValueError, EOFError, OSError...
        if "pickle" in str(exc) or "Python objects" in str(exc):
            raise DamagedIndex(
                path,
                "is not a plain .npy array (pickled objects, or not NumPy data at all); "
                "pickles are never loaded",
            ) from exc
        raise DamagedIndex(path, f"is not a readable .npy array ({exc})") from exc
    if not isinstance(array, np.ndarray):
        if hasattr(array, "close"):
            array.close()
        raise DamagedIndex(path, f"is not a .npy array (an {type(array).__name__})")
    expected = np.dtype(dtype)
    if array.dtype != expected or array.ndim != ndim:
        raise DamagedIndex(
            path,
            f"holds {array.dtype.name} ({array.dtype.str}) of shape {array.shape}; "
            f"expected {expected.name} ({expected.str}) with {ndim} dimension(s)",
        )
    return array


def _check_shape(path: Path, array: np.ndarray, shape: tuple, described: str) -> None:
    if array.shape != shape:
        raise DamagedIndex(path, f"has shape {array.shape}, expected {shape} {described}")


def _check_offsets(path: Path, offsets: np.ndarray, n: int, n_norm: int) -> None:
    """n + 1 offsets from 0, non-decreasing, ending at the length of norm."""
    if len(offsets) != n + 1:
        raise DamagedIndex(path, f"holds {len(offsets)} offsets for {n} references (n + 1)")
    if offsets[0] != 0:
        raise DamagedIndex(path, f"starts at {int(offsets[0])}, not 0")
    at = _first_bad(n, lambda lo, hi: offsets[lo + 1 : hi + 1] < offsets[lo:hi])
    if at is not None:
        raise DamagedIndex(path, f"offsets decrease at position {at + 1}")
    if offsets[-1] != n_norm:
        raise DamagedIndex(path, f"ends at {int(offsets[-1])}, but norm.npy holds {n_norm} bytes")


def _check_range(path: Path, array: np.ndarray, low: int, high: int, what: str) -> None:
    if len(array) and (int(array.min()) < low or int(array.max()) > high):
        raise DamagedIndex(
            path,
            f"{what} span [{int(array.min())}, {int(array.max())}], outside [{low}, {high}]",
        )


def _first_bad(n: int, bad) -> int | None:
    """The first i in [0, n) where ``bad(lo, hi)`` (a bool array for [lo, hi)) holds;
    one vectorised pass per chunk, so a memory-mapped array is read piece by piece."""
    for lo in range(0, max(n, 0), _CHUNK):
        hits = np.flatnonzero(bad(lo, min(n, lo + _CHUNK)))
        if len(hits):
            return lo + int(hits[0])
    return None


def _read_meta(root: Path, path: Path) -> pa.Table:
    """``meta.parquet``: META_SCHEMA (``conversation`` may be absent), no nulls where
    the writer never puts one, n_bytes the UTF-8 length of each text."""
    _inside(root, path)
    if not path.is_file():
        raise DamagedIndex(path, "is not a file" if path.exists() else "is missing")
    try:
        meta = pq.read_table(path, memory_map=True)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise DamagedIndex(path, f"is not a readable Parquet file ({exc})") from exc
    expected = [f for f in META_SCHEMA if f.name in meta.column_names or f.name != "conversation"]
    if meta.column_names != [f.name for f in expected]:
        raise DamagedIndex(
            path, f"has columns {meta.column_names}, expected {[f.name for f in expected]}"
        )
    for field in expected:
        actual = meta.schema.field(field.name).type
        if actual != field.type:
            raise DamagedIndex(path, f"column {field.name} is {actual}, expected {field.type}")
    for name in _NOT_NULL:
        if meta.column(name).null_count:
            raise DamagedIndex(path, f"column {name} has {meta.column(name).null_count} nulls")
    lengths = pc.binary_length(meta.column("text")).to_numpy()
    wrong = np.flatnonzero(lengths != meta.column("n_bytes").to_numpy())
    if len(wrong):
        raise DamagedIndex(
            path, f"row {int(wrong[0])}: n_bytes does not match the UTF-8 length of its text"
        )
    return meta


def _check_unique_ids(root: Path, segments: list[Segment]) -> None:
    """Reference ids are unique over the index (the writer skips repeated ones)."""
    if not segments:
        return
    ids = pa.chunked_array([s.meta.column("ref_id") for s in segments])
    if pc.count_distinct(ids).as_py() == len(ids):
        return
    codes = np.asarray(pc.dictionary_encode(ids).combine_chunks().indices)
    first = np.ones(len(codes), dtype=bool)
    first[np.unique(codes, return_index=True)[1]] = False
    at = int(np.flatnonzero(first)[0])
    starts = np.cumsum([0] + [s.n_refs for s in segments])
    segment = segments[int(np.searchsorted(starts, at, side="right")) - 1]
    raise DamagedIndex(
        root / "segments" / segment.name / "meta.parquet",
        f"ref_id {ids[at].as_py()!r} repeats a reference id held earlier in the index",
    )


def _with_conversation(meta: pa.Table) -> pa.Table:
    """Metadata saved before the ``conversation`` column existed gets a null one."""
    if "conversation" in meta.column_names:
        return meta
    return meta.append_column("conversation", pa.nulls(meta.num_rows, type=pa.string()))
