"""Atomic file writes: every output is whole or absent.

A file is written under a temporary name in its own folder (``.tmp-<random>-<name>``)
and renamed when complete. A crash leaves at most such a temporary file; resuming a run
in the same output folder removes them (:func:`engine.run.output.claim_output`).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

TEMPORARY_PREFIX = ".tmp-"


def temporary_path(path: Path) -> Path:
    """A fresh temporary name beside ``path`` (the one naming scheme of the engine)."""
    return path.with_name(f"{TEMPORARY_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block succeeds,
    remove it when the block raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | os.PathLike, payload: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())


def write_json_atomic(path: str | os.PathLike, obj: dict) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def write_parquet_atomic(path: str | os.PathLike, table: pa.Table) -> None:
    """One Parquet file (zstd) written atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


@contextmanager
def parquet_writer_atomic(path: str | os.PathLike, schema: pa.Schema) -> Iterator:
    """A ``pyarrow.parquet.ParquetWriter`` (zstd) for writing a large table in pieces;
    the file appears under ``path`` only when the block succeeds."""
    with atomic_path(path) as tmp:
        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        try:
            yield writer
        finally:
            writer.close()


def write_arrow_atomic(path: str | os.PathLike, table: pa.Table) -> None:
    """One Arrow IPC file written atomically."""
    with atomic_path(path) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


def read_arrow(path: str | os.PathLike) -> pa.Table:
    """An Arrow IPC file, memory-mapped."""
    with pa.memory_map(str(path)) as source:
        return ipc.open_file(source).read_all()


def write_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """A ``.npy`` file written atomically (never pickled; fsynced before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def read_json(path: str | os.PathLike) -> dict | None:
    """A JSON file's content, or None when it is absent or damaged."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def fixed_list(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """A (n, w) NumPy matrix as an Arrow fixed_size_list array (zero-copy)."""
    n, width = matrix.shape
    flat = pa.array(np.ascontiguousarray(matrix).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, width)


def matrix_of(column: pa.ChunkedArray | pa.Array, width: int, dtype) -> np.ndarray:
    """Inverse of :func:`fixed_list`: an (n, width) NumPy matrix."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    values = column.flatten().to_numpy(zero_copy_only=False)
    return np.ascontiguousarray(values.astype(dtype, copy=False).reshape(-1, width))
