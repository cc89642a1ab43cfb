"""Cutting spans out of many documents at once (:func:`engine.remove_spans` with a
list of documents and a spans table)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _column(spans, name: str) -> np.ndarray | list | None:
    if isinstance(spans, (pa.Table, pa.RecordBatch)):
        if name not in spans.column_names:
            return None
        column = spans.column(name)
        return column.to_pylist() if name == "doc_id" else column.to_numpy()
    if hasattr(spans, "columns") and hasattr(spans, "to_dict"):  # pandas DataFrame
        if name not in spans.columns:
            return None
        values = spans[name]
        return values.tolist() if name == "doc_id" else values.to_numpy()
    if isinstance(spans, dict):
        value = spans.get(name)
        if value is None:
            return None
        return list(value) if name == "doc_id" else np.asarray(value)
    raise TypeError(
        "spans must be the table repeated_spans returns (a pyarrow Table, a pandas "
        f"DataFrame or a dict of columns), got {type(spans).__name__}"
    )


def span_rows(spans, n_docs: int, doc_ids=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(doc_index, start, end)`` int64 arrays of ``spans``, each row's document found
    by ``doc_index`` or by ``doc_id`` among ``doc_ids`` (default "0", "1", ...)."""
    starts, ends = _column(spans, "start"), _column(spans, "end")
    if starts is None or ends is None:
        raise ValueError("spans must have 'start' and 'end' columns (byte offsets)")
    index = _column(spans, "doc_index")
    if index is None:
        ids = _column(spans, "doc_id")
        if ids is None:
            raise ValueError("spans must have a 'doc_id' or a 'doc_index' column")
        names = [str(i) for i in range(n_docs)] if doc_ids is None else [str(d) for d in doc_ids]
        if len(names) != n_docs:
            raise ValueError(f"doc_ids has {len(names)} ids for {n_docs} documents")
        position = {name: i for i, name in enumerate(names)}
        missing = [d for d in ids if d not in position]
        if missing:
            raise ValueError(
                f"spans name documents that are not among the texts, e.g. {missing[0]!r}; "
                "pass doc_ids= as given to repeated_spans"
            )
        index = np.array([position[d] for d in ids], dtype=np.int64)
    index = np.asarray(index, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= n_docs):
        raise ValueError(f"doc_index out of range for {n_docs} documents")
    return index, np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def remove_spans_many(texts, spans, doc_ids=None, cut_one=None) -> list:
    """Every document of ``texts`` with its rows of ``spans`` cut out.

    Args:
        texts: n documents (str or bytes each; a pyarrow array or pandas Series of them).
        spans: the table :func:`engine.repeated_spans` returns (``doc_id``, ``start``,
            ``end``; or ``doc_index`` instead of ``doc_id``), any row order.
        doc_ids: the ids the spans' ``doc_id`` refers to (default "0", "1", ...).
        cut_one: the one-document cut, ``cut_one(bytes, starts, ends) -> bytes``.

    Returns:
        A list of n documents, each of the type it came in (str stays str).
    """
    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = texts.to_pylist()
    elif hasattr(texts, "tolist") and hasattr(texts, "dtype"):
        texts = texts.tolist()
    texts = list(texts)
    index, starts, ends = span_rows(spans, len(texts), doc_ids)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(len(texts) + 1))
    out = []
    for i, text in enumerate(texts):
        rows = order[bounds[i] : bounds[i + 1]]
        if not rows.size:
            out.append(text)
            continue
        as_str = isinstance(text, str)
        cut = cut_one(text.encode("utf-8") if as_str else bytes(text), starts[rows], ends[rows])
        out.append(cut.decode("utf-8") if as_str else cut)
    return out
