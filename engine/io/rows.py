"""Results aligned with the rows of an in-memory input, and the one-liners a builder
wants: the same object with fewer rows (:func:`select_rows`) or with its text column
replaced (:func:`replace_text`).

Both return the kind of object they are given: a pyarrow ``Table``/``RecordBatch``/
string array, a pandas ``DataFrame``/``Series``, a Hugging Face ``Dataset`` (rows
chosen with ``select``) or ``IterableDataset`` (filtered lazily, as it streams), a
mapping of columns (a dict), a ``list``/``tuple`` of documents. A stream the run has
consumed (an iterator, a ``RecordBatchReader``) cannot be given again: they raise a
``TypeError`` that says what to use instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from engine.io.in_memory import InputRows, in_memory_kind

__all__ = ["InputRows", "replace_text", "select_rows"]


def select_rows(obj, mask: np.ndarray):
    """``obj`` with only the rows where ``mask`` (bool (n_rows,)) is True; same kind.

    Raises:
        TypeError: ``obj`` is a consumed stream or not a kind listed in the module doc.
        ValueError: ``obj`` has another number of rows than ``mask``.
    """
    mask = np.asarray(mask, dtype=np.bool_)
    kind = _kind(obj)
    if kind == "a Hugging Face IterableDataset":
        return obj.filter(lambda _, i: bool(mask[i]), with_indices=True)
    _check_length(obj, kind, len(mask))
    if kind == "a Hugging Face Dataset":
        return obj.select(np.flatnonzero(mask))
    if kind == "a mapping of columns":
        return {name: _select_column(column, mask) for name, column in obj.items()}
    return _select_column(obj, mask)


def replace_text(obj, text_column: str, texts: pa.Array, keep: np.ndarray):
    """``obj`` with its text (its ``text_column``, or the documents themselves) replaced
    by ``texts`` and only the rows where ``keep`` is True; same kind.

    ``texts``: large_string (n_rows,); a null keeps the row's original value (a row the
    run did not read).
    """
    keep = np.asarray(keep, dtype=np.bool_)
    kind = _kind(obj)
    if kind == "a Hugging Face IterableDataset":
        values = texts.to_pylist()

        def cut(example, i):
            return {text_column: example[text_column] if values[i] is None else values[i]}

        mapped = obj.map(cut, with_indices=True)
        return mapped.filter(lambda _, i: bool(keep[i]), with_indices=True)
    _check_length(obj, kind, len(keep))
    if kind == "a Hugging Face Dataset":
        original = obj.features[text_column]
        column = texts.cast(pa.string()) if str(original.dtype) == "string" else texts
        names = obj.column_names
        replaced = obj.remove_columns(text_column).add_column(text_column, column)
        return replaced.select_columns(names).select(np.flatnonzero(keep))
    if kind in ("a pyarrow Table", "a pyarrow RecordBatch"):
        index = obj.schema.get_field_index(text_column)
        column = _like(texts, obj.schema.field(index).type)
        if isinstance(obj, pa.Table):
            replaced = obj.set_column(index, obj.schema.field(index).with_type(column.type), column)
        else:
            arrays = list(obj.columns)
            arrays[index] = column
            replaced = pa.RecordBatch.from_arrays(arrays, names=obj.schema.names)
        return replaced.filter(pa.array(keep))
    if kind == "a pyarrow string array":
        return _like(texts, obj.type).filter(pa.array(keep))
    if kind == "a pandas DataFrame":
        replaced = obj.copy()
        replaced[text_column] = _merged(texts, obj[text_column].tolist())
        return replaced[keep]
    if kind == "a pandas Series":
        merged = _merged(texts, obj.tolist())
        return type(obj)(merged, index=obj.index, name=obj.name)[keep]
    if kind == "a mapping of columns":
        replaced = dict(obj)
        replaced[text_column] = _merged(texts, list(obj[text_column]))
        return {name: _select_column(column, keep) for name, column in replaced.items()}
    return _select_column(type(obj)(_merged(texts, list(obj))), keep)  # list or tuple


def _kind(obj) -> str:
    if isinstance(obj, (list, tuple)):
        return "a list"
    kind = in_memory_kind(obj)
    if kind == "an iterator of str" or isinstance(obj, (Iterator, pa.RecordBatchReader)):
        raise TypeError(
            f"{type(obj).__name__} is a stream the run consumed; pass the object again in "
            "a form that can be read twice (a list, a DataFrame, a Dataset, a Table), or "
            "use the row-aligned arrays of the result"
        )
    if kind is None:
        raise TypeError(
            "expected a pyarrow Table/RecordBatch/string array, a pandas DataFrame or "
            "Series, a Hugging Face Dataset or IterableDataset, a mapping of columns or a "
            f"list of documents; got {type(obj).__name__}"
        )
    return kind


def _check_length(obj, kind: str, n_rows: int) -> None:
    if kind == "a mapping of columns":
        lengths = {len(column) for column in obj.values()}
        n = lengths.pop() if len(lengths) == 1 else -1
    else:
        n = obj.num_rows if isinstance(obj, (pa.Table, pa.RecordBatch)) else len(obj)
    if n != n_rows:
        raise ValueError(
            f"{kind} with {n} rows given; the result has {n_rows} rows: pass the object "
            "the run read (the same rows, in the same order)"
        )


def _select_column(column, mask: np.ndarray):
    if isinstance(column, (pa.Table, pa.RecordBatch, pa.Array, pa.ChunkedArray)):
        return column.filter(pa.array(mask))
    if isinstance(column, np.ndarray) or hasattr(column, "iloc"):  # NumPy, pandas
        return column[mask]
    selected = [value for value, chosen in zip(column, mask, strict=True) if chosen]
    return type(column)(selected) if isinstance(column, tuple) else selected


def _merged(texts: pa.Array, original: list) -> list:
    """Python list: ``texts`` where not null, else the original value."""
    return [old if new is None else new for new, old in zip(texts.to_pylist(), original)]


def _like(texts: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    """``texts`` as ``arrow_type`` when that is a string type, else large_string."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return texts.cast(arrow_type)
    return texts
