"""Disk-backed LSH shuffle: band keys split by key range into files, one reduce per range.

Map (one task per input part): read the part's signature file, compute its band
keys, and write one Arrow IPC file per key range with one record per (document,
band) of documents that have shingles: ``band`` int16, ``key`` uint64, ``doc`` int64
(global input position), ``signature`` fixed_size_list<uint32>[K]. The range of a
record is ``((key >> 32) * n_ranges) >> 32``, so ranges split the key space evenly.
A ``_DONE.json`` marker written last says the map output of a part is complete.

Reduce (one task per range): read that range from every map, group records by
(band, key), verify candidate edges against the carried signatures
(:func:`kernels.lsh.record_edges`) and write the range's edges
(``range-RRRRR.npy``: int64 (E, 2), global input positions ``a < b``, sorted by
``(a, b)``) with each edge's estimated Jaccard (``range-RRRRR.similarity.npy``:
float32 (E,), the share of equal signature slots, row-aligned with the edges). The
similarity is computed here because the reduce already holds both signatures; later
stages (``edges.parquet``, :mod:`engine.neardup.edges`) read it back instead of
gathering signatures at random. A pair found in several ranges (several bands) is in
each of their files.

The reduce also keeps the candidate pairs that failed verification
(:func:`engine.neardup.similarity.rejected_candidates`: each bucket's first member
against its other members, at most
:data:`~engine.neardup.similarity.REJECTED_PER_BUCKET` members per bucket, those below
the threshold), distinct within the range and sorted by ``(a, b)``:
``range-RRRRR.rejected.npy`` int64 (R, 2) and ``range-RRRRR.rejected_similarity.npy``
float32 (R,). They feed ``edges.parquet``'s unverified rows, which show how the share
of pairs merged falls below the threshold. Host-only NumPy. These files are written
before the edges file: the edges file and its marker say the range is complete, and a
range missing any of its files is recomputed.

No task ever holds more than one part's records or one range: memory is bounded by
the partition size and ``n_ranges``, never by the corpus. The price is disk: each
document's signature is written once per band (about ``bands * (4 * K + 18)`` bytes
per document).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.neardup.params import DedupParams
from engine.neardup.signatures import has_shingles
from engine.neardup.similarity import edge_similarity, rejected_candidates
from engine.run.atomic import (
    fixed_list,
    matrix_of,
    read_arrow,
    write_arrow_atomic,
    write_npy_atomic,
)
from engine.run.memory import peak_rss_mib
from engine.run.reuse import finished, mark_finished
from kernels.backend import to_host
from kernels.lsh import band_keys as compute_band_keys
from kernels.lsh import record_edges

RECORD_OVERHEAD_BYTES = 18  # band int16 + key uint64 + doc int64


def record_bytes(num_perm: int) -> int:
    """Bytes of one shuffle record (one document in one band)."""
    return 4 * num_perm + RECORD_OVERHEAD_BYTES


def choose_n_ranges(n_docs: int, params: DedupParams, range_bytes: int) -> int:
    """Ranges so that one range holds about ``range_bytes`` of records (at least 1)."""
    bands, _ = params.band_rows
    total = n_docs * bands * record_bytes(params.num_perm)
    return max(1, math.ceil(total / max(1, range_bytes)))


def key_ranges(keys: np.ndarray, n_ranges: int) -> np.ndarray:
    """Range index (int64) of each uint64 band key: ``((key >> 32) * n) >> 32``."""
    high = (keys >> np.uint64(32)).astype(np.uint64)
    return ((high * np.uint64(n_ranges)) >> np.uint64(32)).astype(np.int64)


def map_dir(shuffle_dir: Path, part_index: int) -> Path:
    return shuffle_dir / f"map-{part_index:05d}"


def range_file(shuffle_dir: Path, part_index: int, range_index: int) -> Path:
    return map_dir(shuffle_dir, part_index) / f"range-{range_index:05d}.arrow"


def shuffle_map_task(
    signature_path: str,
    part_index: int,
    doc_offset: int,
    params: DedupParams,
    n_ranges: int,
    backend: str,
    shuffle_dir: str,
    stage_fingerprint: str,
) -> dict:
    """Map one part's signatures to range files; returns record counts."""
    marker = map_dir(Path(shuffle_dir), part_index) / "_DONE.json"
    result = finished(marker, stage_fingerprint)
    if result is not None:
        return {"reused": True, **result}
    started = time.perf_counter()
    table = read_arrow(signature_path)
    bands, rows = params.band_rows
    signatures = matrix_of(table.column("signature"), params.num_perm, np.uint32)
    active = np.flatnonzero(has_shingles(signatures))
    signatures = np.ascontiguousarray(signatures[active])
    keys = to_host(compute_band_keys(signatures, bands, rows, backend=backend))
    docs = active.astype(np.int64) + np.int64(doc_offset)
    flat_keys = keys.reshape(-1)  # (n_active * bands,), document-major
    flat_docs = np.repeat(docs, bands)
    flat_bands = np.tile(np.arange(bands, dtype=np.int16), len(docs))
    flat_rows = np.repeat(np.arange(len(docs)), bands)
    ranges = key_ranges(flat_keys, n_ranges)
    order = np.argsort(ranges, kind="stable")
    bounds = np.searchsorted(ranges[order], np.arange(n_ranges + 1))
    for r in range(n_ranges):
        take = order[bounds[r] : bounds[r + 1]]
        write_arrow_atomic(
            range_file(Path(shuffle_dir), part_index, r),
            pa.table(
                {
                    "band": pa.array(flat_bands[take], type=pa.int16()),
                    "key": pa.array(flat_keys[take], type=pa.uint64()),
                    "doc": pa.array(flat_docs[take], type=pa.int64()),
                    "signature": fixed_list(signatures[flat_rows[take]]),
                }
            ),
        )
    result = {
        "records": int(len(flat_keys)),
        "seconds": round(time.perf_counter() - started, 4),
        "peak_rss_mib": peak_rss_mib(),
    }
    mark_finished(marker, stage_fingerprint, result)
    return {"reused": False, **result}


def edges_file(edges_dir: Path, range_index: int) -> Path:
    return edges_dir / f"range-{range_index:05d}.npy"


def similarity_file(edges_dir: Path, range_index: int) -> Path:
    """float32 (E,): estimated Jaccard of each edge of :func:`edges_file`, same order."""
    return edges_dir / f"range-{range_index:05d}.similarity.npy"


def rejected_file(edges_dir: Path, range_index: int) -> Path:
    """int64 (R, 2): candidate pairs of the range that failed verification, ``a < b``,
    sorted by ``(a, b)``, distinct."""
    return edges_dir / f"range-{range_index:05d}.rejected.npy"


def rejected_similarity_file(edges_dir: Path, range_index: int) -> Path:
    """float32 (R,): estimated Jaccard of each pair of :func:`rejected_file`, same order."""
    return edges_dir / f"range-{range_index:05d}.rejected_similarity.npy"


def _range_files(edges_dir: Path, range_index: int) -> list[Path]:
    """The files of a finished range, the edges file last (it is written last)."""
    return [
        similarity_file(edges_dir, range_index),
        rejected_file(edges_dir, range_index),
        rejected_similarity_file(edges_dir, range_index),
        edges_file(edges_dir, range_index),
    ]


def shuffle_reduce_task(
    range_index: int,
    part_indices: list[int],
    params: DedupParams,
    backend: str,
    shuffle_dir: str,
    edges_dir: str,
) -> dict:
    """Verified edges of one key range and its rejected candidate pairs; writes int64
    (E, 2) edges with their float32 (E,) similarities, int64 (R, 2) rejected pairs with
    theirs, and returns counts (``rejected_pairs``: R; ``rejected_capped``: bucket
    members past the per-bucket cap, not checked)."""
    files = _range_files(Path(edges_dir), range_index)
    similarity_path, rejected_path, rejected_similarity_path, path = files
    marker = path.with_suffix(".json")
    stage_fingerprint = Path(edges_dir).name  # the folder is named by the fingerprint
    result = finished(marker, stage_fingerprint)
    if result is not None and all(f.exists() for f in files):
        return {"reused": True, **result}
    started = time.perf_counter()
    table = pa.concat_tables(
        [read_arrow(range_file(Path(shuffle_dir), p, range_index)) for p in part_indices]
    )
    if table.num_rows:
        bands, keys = table.column("band").to_numpy(), table.column("key").to_numpy()
        docs = table.column("doc").to_numpy()
        signatures = matrix_of(table.column("signature"), params.num_perm, np.uint32)
        src, dst, stats = record_edges(
            bands,
            keys,
            docs,
            signatures,
            threshold=float(params.threshold),
            max_anchors=params.max_anchors,
            backend=backend,
        )
        edges = np.stack([to_host(src), to_host(dst)], axis=1).astype(np.int64)
        similarity = edge_similarity(edges, docs, signatures)
        rejected, rejected_similarity, capped = rejected_candidates(
            bands, keys, docs, signatures, threshold=float(params.threshold)
        )
    else:
        stats = {"candidate_pairs": 0, "verified_edges": 0, "unverified": 0}
        edges = np.zeros((0, 2), dtype=np.int64)
        similarity = np.zeros(0, dtype=np.float32)
        rejected, rejected_similarity, capped = edges[:0], similarity[:0], 0
    # the edges file last: with the marker, it says the range is complete
    write_npy_atomic(similarity_path, similarity)
    write_npy_atomic(rejected_path, rejected)
    write_npy_atomic(rejected_similarity_path, rejected_similarity)
    write_npy_atomic(path, edges)
    result = {
        **stats,
        "records": int(table.num_rows),
        "edges": int(len(edges)),
        "rejected_pairs": int(len(rejected)),
        "rejected_capped": capped,
        "seconds": round(time.perf_counter() - started, 4),
        "peak_rss_mib": peak_rss_mib(),
    }
    mark_finished(marker, stage_fingerprint, result)
    return {"reused": False, **result}
