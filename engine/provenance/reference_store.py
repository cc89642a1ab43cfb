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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.run.atomic import read_json, write_npy_atomic, write_parquet_atomic

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


def read_info(root: Path) -> dict:
    """``index.json`` of the index at ``root``, checked for format and versions."""
    info_path = root / "index.json"
    if not info_path.exists():
        raise FileNotFoundError(
            f"{info_path} not found: {root} is not a reference index; build one with "
            "`ouroboros reference build INPUT... --out REFDIR`"
        )
    info = read_json(info_path)
    if info is None:
        raise ValueError(f"{info_path} is damaged (not JSON); rebuild the index")
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
    return info


def read_segment(root: Path, name: str) -> Segment:
    """A stored segment (arrays memory-mapped, metadata from Parquet)."""
    folder = root / "segments" / name
    meta = pq.read_table(folder / "meta.parquet", memory_map=True)
    arrays = {key: _load_npy(folder / f"{key}.npy") for key in _SEGMENT_ARRAYS}
    return Segment(name=name, meta=_with_conversation(meta), **arrays, stored_at=root)


def read_human(root: Path, name: str) -> HumanPart:
    """A stored part of human-text anchor keys (memory-mapped)."""
    return HumanPart(name, _load_npy(root / "human" / name / "keys.npy"), stored_at=root)


def read_anchors(root: Path, generation: str) -> dict[str, np.ndarray | None]:
    """keys, refs, families, family_df of an anchor generation (memory-mapped); the
    family arrays are None in an index saved without them."""
    folder = root / "anchors" / generation
    arrays: dict[str, np.ndarray | None] = {
        "keys": _load_npy(folder / "keys.npy"),
        "refs": _load_npy(folder / "refs.npy"),
        "families": None,
        "family_df": None,
    }
    if (folder / "family_df.npy").exists():
        arrays["families"] = _load_npy(folder / "families.npy")
        arrays["family_df"] = _load_npy(folder / "family_df.npy")
    return arrays


def _with_conversation(meta: pa.Table) -> pa.Table:
    """Metadata saved before the ``conversation`` column existed gets a null one."""
    if "conversation" in meta.column_names:
        return meta
    return meta.append_column("conversation", pa.nulls(meta.num_rows, type=pa.string()))


def _load_npy(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r", allow_pickle=False)
