"""Task fingerprints and reuse: how a rerun skips the work that is already done.

Every task output (a Parquet or Arrow IPC file) carries a *stamp* in its schema
metadata under ``ouroboros``: the fingerprint of the parameters it depends on, the
inputs it was made from (``repr`` of the input parts) and the task's small result
dict. A rerun whose fingerprint and inputs match returns the stored result instead of
recomputing; anything else recomputes and overwrites.

A task that writes several files (a shuffle map writes one per key range) records its
result last in a JSON completion marker instead (:func:`mark_finished`,
:func:`finished`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from engine.run.atomic import read_json, write_json_atomic

META_KEY = b"ouroboros"


def fingerprint(*parts) -> str:
    """16 hex digits of SHA-256 over JSON-serialisable values (stage parameters)."""
    payload = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def stamped(table: pa.Table, fingerprint: str, inputs, result: dict) -> pa.Table:
    """``table`` with a stamp in its schema metadata (see the module docstring)."""
    stamp = {"fingerprint": fingerprint, "inputs": _inputs_key(inputs), "result": result}
    return table.replace_schema_metadata({META_KEY: json.dumps(stamp).encode()})


def read_stamp(path: str | os.PathLike) -> dict | None:
    """The stamp of a Parquet (``.parquet``) or Arrow IPC file; None when the file is
    absent, unreadable or unstamped."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            schema = pq.read_schema(path)
        else:
            with pa.memory_map(str(path)) as source:
                schema = ipc.open_file(source).schema
    except (OSError, pa.ArrowInvalid):
        return None
    raw = (schema.metadata or {}).get(META_KEY)
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def reusable(path: str | os.PathLike, fingerprint: str, inputs) -> dict | None:
    """The stored result of a task output made with ``fingerprint`` from ``inputs``;
    None when it must be recomputed."""
    stamp = read_stamp(path)
    if not stamp or stamp.get("fingerprint") != fingerprint:
        return None
    if stamp.get("inputs") != _inputs_key(inputs):
        return None
    return stamp.get("result")


def _inputs_key(inputs) -> list[str]:
    """Input parts (one or a list) as the list of their ``repr``."""
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return [item if isinstance(item, str) else repr(item) for item in items]


def finished(marker: str | os.PathLike, fingerprint: str) -> dict | None:
    """The result recorded by :func:`mark_finished` in ``marker`` (a JSON completion
    marker, written last, for outputs made of several files) when ``fingerprint``
    matches; None when the work must be redone."""
    done = read_json(marker)
    if done is None or done.get("fingerprint") != fingerprint:
        return None
    return done.get("result")


def mark_finished(marker: str | os.PathLike, fingerprint: str, result: dict) -> None:
    """Record that the files a task writes before ``marker`` are complete."""
    write_json_atomic(marker, {"fingerprint": fingerprint, "result": result})
