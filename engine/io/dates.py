"""Document dates for ``--keep earliest``: parsing to one comparable integer.

Dates are turned into int64 microseconds since 1970-01-01 UTC. Accepted:

- Arrow timestamp and date columns (Parquet), taken as UTC when they carry no zone;
- integers, and strings of digits: seconds since the epoch;
- ISO 8601 strings (``2023-04-01``, ``2023-04-01T12:30:00``, ``...Z``,
  ``...+02:00``; WARC-Date is one), naive ones taken as UTC.

A missing or unparseable date becomes :data:`UNDATED` (the largest int64, so an undated
document is kept only when no member of its cluster has a date); callers count them.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNDATED = np.iinfo(np.int64).max
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _parse_one(value: str) -> int:
    text = value.strip()
    if not text:
        return UNDATED
    if text.isdigit() or (text[0] == "-" and text[1:].isdigit()):
        return int(text) * 1_000_000
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return UNDATED
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_dates(values) -> tuple[np.ndarray, int]:
    """int64 (n,) microseconds since the epoch, and the number of undated values.

    Args:
        values: a pyarrow Array/ChunkedArray (strings, integers, timestamps, dates)
            or a Python sequence of str/int/None.
    """
    array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        micros = pc.cast(array, pa.timestamp("us", tz=getattr(kind, "tz", None)))
        raw = np.asarray(pc.fill_null(pc.cast(micros, pa.int64()), 0).to_numpy(), np.int64)
        valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        out = np.where(valid, raw, UNDATED).astype(np.int64)
    elif pa.types.is_integer(kind):
        raw = np.asarray(pc.fill_null(pc.cast(array, pa.int64()), 0).to_numpy(), np.int64)
        valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        out = np.where(valid, raw * 1_000_000, UNDATED).astype(np.int64)
    else:
        texts = pc.cast(array, pa.large_string()).to_pylist()
        out = np.array([UNDATED if t is None else _parse_one(t) for t in texts], dtype=np.int64)
    return out, int(np.count_nonzero(out == UNDATED))
