"""Atomic file writes and the per-partition signature files.

Every output is written to a temporary name in its folder and renamed when complete,
so a file is either whole or absent (a crash leaves at most a ``.tmp-*`` file, which
the next run ignores and overwrites).

Signature files (Arrow IPC, one per input partition): columns ``doc_id`` string,
``row`` int64, ``n_bytes`` int64, ``signature`` fixed_size_list<uint32>[num_perm];
schema metadata ``ouroboros`` holds JSON
with the parameter fingerprint, the input part and its read report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

META_KEY = b"ouroboros"


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")


def write_bytes_atomic(path: str | os.PathLike, payload: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    with open(tmp, "wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: str | os.PathLike, obj: dict) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def write_parquet_atomic(path: str | os.PathLike, table: pa.Table) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


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


def write_signature_file(
    path: str | os.PathLike,
    *,
    doc_ids: pa.Array,
    rows: np.ndarray,
    n_bytes: np.ndarray,
    signatures: np.ndarray,
    meta: dict,
) -> None:
    """Write one partition's signature file atomically (see module docstring)."""
    table = pa.table(
        {
            "doc_id": doc_ids,
            "row": pa.array(rows, type=pa.int64()),
            "n_bytes": pa.array(n_bytes, type=pa.int64()),
            "signature": fixed_list(signatures),
        }
    ).replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def read_signature_meta(path: str | os.PathLike) -> dict | None:
    """The metadata of a signature file, or None when it is absent or unreadable."""
    try:
        with pa.memory_map(str(path)) as source:
            schema = ipc.open_file(source).schema
    except (OSError, pa.ArrowInvalid):
        return None
    raw = (schema.metadata or {}).get(META_KEY)
    return json.loads(raw) if raw else None


def read_signature_file(path: str | os.PathLike) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return ipc.open_file(source).read_all()


def write_arrow_atomic(path: str | os.PathLike, table: pa.Table) -> None:
    """Write an Arrow IPC file atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def write_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write a ``.npy`` file atomically (never pickled; fsynced before the rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: str | os.PathLike) -> dict | None:
    """A JSON file's content, or None when it is absent or damaged."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def fingerprint(*parts) -> str:
    """Short stable hash of JSON-serialisable values (stage parameters)."""
    import hashlib

    payload = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class OutputInUse(ValueError):
    """The output folder holds the results of another command or other inputs."""


def claim_output(out: Path, command: str, inputs: list[str]) -> None:
    """Record which command and inputs own ``out``; refuse a folder owned by others.

    Rerunning the same command on the same inputs resumes (changed parameters only
    recompute the stages that depend on them). Anything else is refused, because
    mixing two runs' work files would give wrong results.
    """
    marker = out / "_work" / "run.json"
    claim = {"command": command, "inputs": [str(p) for p in inputs]}
    existing = read_json(marker)
    if existing is not None and existing != claim:
        raise OutputInUse(
            f"{out} holds the results of `ouroboros {existing.get('command')}` on "
            f"{existing.get('inputs')}; this run is `ouroboros {command}` on {claim['inputs']}. "
            "Choose another --out, or delete that folder to start over."
        )
    if existing is None:
        if out.exists() and any(p.name != "_work" for p in out.iterdir()):
            raise OutputInUse(
                f"{out} is not empty and was not made by ouroboros; choose another --out"
            )
        write_json_atomic(marker, claim)


@contextmanager
def output_folder(out: str | os.PathLike | None) -> Iterator[Path]:
    """The output folder of a run: ``out`` (created), or a temporary folder that is
    removed when the run ends (``out=None``: results are returned in memory)."""
    if out is not None:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    temp = tempfile.mkdtemp(prefix="ouroboros-")
    try:
        yield Path(temp)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
