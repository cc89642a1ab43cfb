"""In-memory inputs: tables, DataFrames, datasets and streams of text, spilled to Parquet.

The pipelines read files; an in-memory input is written, batch by batch, to one
Parquet file (:func:`spill`) that the pipeline then reads like any other input. A
``pyarrow.RecordBatchReader``, a Hugging Face ``IterableDataset`` or a generator is
consumed once and never held whole: memory is one batch of rows
(:data:`SOURCE_BATCH_ROWS`) plus one row group (:data:`ROW_GROUP_BYTES`).

Accepted (:data:`IN_MEMORY_ACCEPTED`), recognised by their type alone: pandas and
datasets are never imported for an object that does not come from them.

- with columns (``text_column``, optional ``id_column``): ``pyarrow.Table``,
  ``RecordBatch``, ``RecordBatchReader``; ``pandas.DataFrame``; ``datasets.Dataset``,
  ``datasets.IterableDataset``; a mapping of column name -> equally long columns
  (lists, NumPy or Arrow arrays, pandas Series);
- the documents themselves (no columns, no ``id_column``): ``pandas.Series``, a pyarrow
  string ``Array``/``ChunkedArray``, an iterator of ``str`` (a generator, ``iter(list)``).

A ``list`` or ``tuple`` of ``str`` is a list of paths (:func:`engine.io.input_paths`):
pass documents held in a list as ``iter(texts)`` or ``pandas.Series(texts)``.

The spilled file has the columns ``text`` (large_string), ``row_id`` (string: the row
number) and, with ``id_column``, ``id`` (string). Rows keep their number: row ``i`` of
the input is row ``i`` of the file, so the pipeline's ``row`` is the input's row.

Rows whose text is null (None, NaN, pandas NA) are written with null text and counted
by the reader as ``missing_text``; a value that is not a string (an int in an object
column) is written as null and counted as ``non_string_text``
(:meth:`SpilledInput.describe` moves it to that reason in the summary); ``bytes`` are
decoded as UTF-8, invalid bytes replaced by U+FFFD and counted. A null id takes the row
number as id (counted in ``fallback_ids``). With ``strict``, the first such row raises
:class:`~engine.io.report.InputError` naming it.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.io.report import MAX_PROBLEMS, InputError

__all__ = [
    "IN_MEMORY_ACCEPTED",
    "SOURCE_BATCH_ROWS",
    "InputRows",
    "SpilledInput",
    "in_memory_kind",
    "spill",
    "text_batches",
]

IN_MEMORY_ACCEPTED = (
    "a pyarrow Table, RecordBatch or RecordBatchReader, a pandas DataFrame or Series, a "
    "Hugging Face Dataset or IterableDataset, a mapping of column name -> column, a "
    "pyarrow string array, or an iterator of str (e.g. a generator or iter(texts))"
)
SOURCE_BATCH_ROWS = 8192  # rows taken from a source at a time
ROW_GROUP_BYTES = 8 * 2**20  # text bytes per row group of the spilled file (planning unit)
ROW_GROUP_ROWS = 2**16
TEXT, ROW_ID, USER_ID = "text", "row_id", "id"

# (module root, class name) found in type(obj).__mro__ -> kind
_NAMED_KINDS = (
    ("pandas", "DataFrame", "a pandas DataFrame"),
    ("pandas", "Series", "a pandas Series"),
    ("datasets", "IterableDataset", "a Hugging Face IterableDataset"),
    ("datasets", "Dataset", "a Hugging Face Dataset"),
)
_SPLIT_DICTS = {("datasets", "DatasetDict"), ("datasets", "IterableDatasetDict")}
DOCUMENT_KINDS = ("a pandas Series", "a pyarrow string array", "an iterator of str")


def _type_names(obj) -> set[tuple[str, str]]:
    return {(c.__module__.partition(".")[0], c.__name__) for c in type(obj).__mro__}


def in_memory_kind(obj) -> str | None:
    """What in-memory input ``obj`` is (e.g. ``"a pandas DataFrame"``); None for paths
    and for anything not accepted here (the caller then checks for paths, which
    refuses sets, NumPy arrays and open files).

    Raises:
        TypeError: for a ``DatasetDict`` (pick a split).
    """
    names = _type_names(obj)
    if names & _SPLIT_DICTS:
        splits = ", ".join(repr(k) for k in obj)
        raise TypeError(
            f"got a Hugging Face {type(obj).__name__} (splits {splits}); pass one split, "
            "e.g. dataset['train']"
        )
    for root, name, kind in _NAMED_KINDS:
        if (root, name) in names:
            return kind
    if isinstance(obj, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
        return f"a pyarrow {type(obj).__name__}"
    if isinstance(obj, (pa.Array, pa.ChunkedArray)):
        return "a pyarrow string array"
    if isinstance(obj, io.IOBase):
        return None  # an open file: refused by input_paths, never read as lines
    if isinstance(obj, Mapping):
        return "a mapping of columns"
    if isinstance(obj, Iterator) and not isinstance(obj, (str, bytes)):
        return "an iterator of str"
    return None


@dataclass
class _Stats:
    """What the spill saw that the reader will not: non-string values, bytes with
    invalid UTF-8, null ids (located examples kept up to ``MAX_PROBLEMS``)."""

    non_string: dict[int, str] = field(default_factory=dict)  # row -> type name
    non_string_count: int = 0
    invalid_utf8: int = 0
    fallback_ids: int = 0


@dataclass(frozen=True)
class InputRows:
    """Where the documents of a run sit in its in-memory input.

    Attributes:
        kind: what the input was (``"a pandas DataFrame"``).
        n_rows: rows of the input.
        rows: int64 (n_docs,), the input row of each document in the result tables
            (``clusters``, ``flags``), increasing; rows not read (null or non-string
            text) are absent.
        text_column: the input's text column (None for documents given directly).
    """

    kind: str
    n_rows: int
    rows: np.ndarray
    text_column: str | None = None

    def spread(self, values: np.ndarray, fill) -> np.ndarray:
        """(n_rows,) array of ``values`` ((n_docs,), one per document) at their rows
        and ``fill`` at the rows not read; the dtype of ``values``."""
        values = np.asarray(values)
        if len(values) != len(self.rows):
            raise RuntimeError(
                f"the run read {len(values)} documents but the input has {len(self.rows)} "
                "rows with text; the results cannot be aligned with the rows"
            )
        out = np.full(self.n_rows, fill, dtype=values.dtype)
        out[self.rows] = values
        return out


@dataclass
class SpilledInput:
    """An in-memory input written to ``path`` (see the module docstring).

    Attributes:
        path: the Parquet file. kind: what the input was (``"a pandas DataFrame"``).
        n_rows: rows of the input. has_text: bool (n_rows,), the rows the pipeline
            reads as documents (text not null after the spill).
        text_column, id_column: the input's column names (None for documents given
            directly, or without ids).
        created: whether :func:`spill` wrote ``path`` (False: a file with the same
            data was there already).
    """

    path: Path
    kind: str
    n_rows: int
    has_text: np.ndarray
    text_column: str | None
    id_column: str | None
    stats: _Stats
    created: bool = True

    @property
    def label(self) -> str:
        """How summaries name the input, e.g. ``<a pandas DataFrame, 3 rows>``."""
        return f"<{self.kind}, {self.n_rows} rows>"

    @property
    def rows(self) -> np.ndarray:
        """int64 (n_docs,): the input row of each document, in reading order."""
        return np.flatnonzero(self.has_text).astype(np.int64)

    def input_rows(self) -> InputRows:
        """The :class:`InputRows` of this input (what results keep)."""
        return InputRows(self.kind, self.n_rows, self.rows, self.text_column)

    def texts(self) -> pa.ChunkedArray:
        """large_string (n_rows,): the spilled text column (null where not read)."""
        return pq.read_table(self.path, columns=[TEXT]).column(TEXT)

    def ids(self) -> pa.ChunkedArray:
        """string (n_rows,): each row's document id (the id column, or the row number)."""
        column = USER_ID if self.id_column is not None else ROW_ID
        return pq.read_table(self.path, columns=[column]).column(column)

    def describe(self, summary: dict) -> dict:
        """``summary`` (a pipeline's ``summary.json`` content, changed in place) told
        about the input: ``inputs`` is ``[label]``, ``in_memory`` gives kind and rows,
        the parameters name the input's columns, and the read report counts what the
        spill saw (``non_string_text`` instead of ``missing_text`` for those rows)."""
        summary["inputs"] = [self.label]
        summary["in_memory"] = {"kind": self.kind, "rows": self.n_rows}
        parameters = summary.get("parameters")
        if isinstance(parameters, dict) and "text_column" in parameters:
            parameters["text_column"] = self.text_column
            parameters["id_column"] = self.id_column
        report = summary.get("read")
        if isinstance(report, dict):
            self._describe_report(report)
        return summary

    def _describe_report(self, report: dict) -> None:
        stats = self.stats
        skipped = report.setdefault("skipped", {})
        if stats.non_string_count:
            left = skipped.get("missing_text", 0) - stats.non_string_count
            skipped.pop("missing_text", None)
            if left > 0:
                skipped["missing_text"] = left
            skipped["non_string_text"] = stats.non_string_count
            report["skipped"] = dict(sorted(skipped.items()))
        report["invalid_utf8_documents"] = report.get("invalid_utf8_documents", 0) + (
            stats.invalid_utf8
        )
        report["fallback_ids"] = report.get("fallback_ids", 0) + stats.fallback_ids
        for problem in report.get("problems", []):
            if Path(str(problem.get("file", ""))).name != self.path.name:
                continue
            problem["file"] = self.label
            type_name = stats.non_string.get(problem.get("row", -1))
            if problem.get("reason") == "missing_text" and type_name is not None:
                problem["reason"] = "non_string_text"
                problem["detail"] = f"{self.text_column!r} is {type_name}, not str"


def spill(
    obj,
    folder: str | os.PathLike,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    strict: bool = False,
) -> SpilledInput:
    """Write in-memory input ``obj`` to ``folder/input-<sha256 of the file>.parquet``,
    one source batch at a time (the same data always gets the same name, so a rerun
    into the same output folder resumes).

    Raises:
        TypeError: ``obj`` is not an accepted in-memory input.
        InputError: a column is missing or its type cannot hold text / ids; with
            ``strict``, a row without string text.
        ValueError: ``obj`` has no rows; ``id_column`` for documents given directly.
    """
    kind = in_memory_kind(obj)
    if kind is None:
        raise TypeError(f"expected {IN_MEMORY_ACCEPTED}; got {type(obj).__name__}")
    if id_column is not None and kind in DOCUMENT_KINDS:
        raise ValueError(
            f"id_column={id_column!r} needs a table with columns; {kind} holds the "
            "documents only. Pass a DataFrame or a mapping with both columns"
        )
    folder = Path(folder)
    names = [TEXT, ROW_ID] + ([USER_ID] if id_column is not None else [])
    schema = pa.schema([(TEXT, pa.large_string())] + [(n, pa.string()) for n in names[1:]])
    temporary = folder / f".tmp-{uuid.uuid4().hex[:12]}-input.parquet"
    stats, has_text, n_rows = _Stats(), [], 0
    try:
        with pq.ParquetWriter(temporary, schema, compression="zstd", compression_level=1) as out:
            pending: list[pa.Table] = []
            for texts, ids in _source_batches(obj, kind, text_column, id_column):
                table = _spill_batch(texts, ids, n_rows, stats, strict, text_column, schema)
                has_text.append(table.column(TEXT).is_valid().to_numpy(zero_copy_only=False))
                n_rows += table.num_rows
                pending.append(table)
                if _due(pending):
                    _write_row_group(out, pending)
            _write_row_group(out, pending)
        if n_rows == 0:
            raise ValueError(f"{kind} holds no rows: nothing to do")
        path = folder / f"input-{_file_digest(temporary)}.parquet"
        created = not path.exists()
        if created:  # else the same data is there already (maybe in use by another run)
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    documents_given = kind in DOCUMENT_KINDS
    return SpilledInput(
        path=path,
        kind=kind,
        n_rows=n_rows,
        has_text=np.concatenate(has_text).astype(np.bool_),
        text_column=None if documents_given else text_column,
        id_column=id_column,
        stats=stats,
        created=created,
    )


def text_batches(obj, text_column: str = "text") -> Iterator[pa.LargeStringArray]:
    """The text of in-memory input ``obj``, as large_string arrays of up to
    :data:`SOURCE_BATCH_ROWS` rows, in row order (for the array-level API).

    Raises:
        InputError (a ValueError): a row whose text is null or not a string, naming it.
    """
    kind = in_memory_kind(obj)
    if kind is None:
        raise TypeError(f"expected {IN_MEMORY_ACCEPTED}; got {type(obj).__name__}")
    first_row = 0
    for texts, _ in _source_batches(obj, kind, text_column, None):
        try:
            array = _text_array(texts, first_row, _Stats(), strict=True, text_column=text_column)
        except InputError as err:
            raise InputError(f"{kind}: {err}; drop or fill missing documents") from None
        if array.null_count:
            row = first_row + int(np.flatnonzero(~array.is_valid().to_numpy(False))[0])
            raise InputError(f"{kind}: row {row} is null; drop or fill missing documents")
        first_row += len(array)
        yield array


def _source_batches(obj, kind: str, text_column: str, id_column: str | None) -> Iterator:
    """(texts, ids or None) per batch of rows; each a pyarrow array, a pandas Series or
    a list of Python values."""
    columns = [text_column] + ([id_column] if id_column is not None else [])
    if kind in DOCUMENT_KINDS:
        if kind == "an iterator of str":
            while batch := list(itertools.islice(obj, SOURCE_BATCH_ROWS)):
                yield batch, None
            return
        for start in range(0, len(obj), SOURCE_BATCH_ROWS):
            yield _slice(obj, start, start + SOURCE_BATCH_ROWS), None
        return
    for table in _table_batches(obj, kind, columns):
        _check_columns(kind, columns, _column_names(table))
        ids = table[id_column] if id_column is not None else None
        yield table[text_column], ids


def _table_batches(obj, kind: str, columns: list[str]) -> Iterator:
    """Batches of the table-like ``obj`` holding (at least) ``columns``."""
    if kind == "a Hugging Face Dataset":
        _check_columns(kind, columns, obj.column_names)
        dataset = obj.select_columns(columns).with_format("arrow")
        yield from dataset.iter(batch_size=SOURCE_BATCH_ROWS)
    elif kind == "a Hugging Face IterableDataset":
        if obj.column_names is not None:
            _check_columns(kind, columns, obj.column_names)
            obj = obj.select_columns(columns)
        yield from obj.with_format("arrow").iter(batch_size=SOURCE_BATCH_ROWS)
    elif kind == "a pyarrow RecordBatchReader":
        _check_columns(kind, columns, obj.schema.names)
        yield from obj
    elif kind in ("a pyarrow Table", "a pyarrow RecordBatch"):
        _check_columns(kind, columns, obj.schema.names)
        table = pa.Table.from_batches([obj]) if isinstance(obj, pa.RecordBatch) else obj
        yield from table.select(columns).to_batches(max_chunksize=SOURCE_BATCH_ROWS)
    elif kind == "a pandas DataFrame":
        _check_columns(kind, columns, [str(c) for c in obj.columns])
        for start in range(0, len(obj), SOURCE_BATCH_ROWS):
            yield obj.iloc[start : start + SOURCE_BATCH_ROWS]
    else:  # a mapping of columns
        _check_columns(kind, columns, [str(k) for k in obj])
        lengths = {name: len(obj[name]) for name in columns}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"the columns of the mapping differ in length: {lengths}")
        for start in range(0, lengths[columns[0]], SOURCE_BATCH_ROWS):
            end = start + SOURCE_BATCH_ROWS
            yield {name: _slice(obj[name], start, end) for name in columns}


def _column_names(table) -> list[str]:
    if isinstance(table, Mapping):
        return list(table)
    if isinstance(table, (pa.Table, pa.RecordBatch)):
        return table.schema.names
    return [str(c) for c in table.columns]  # a pandas DataFrame slice


def _slice(values, start: int, end: int):
    if hasattr(values, "iloc"):  # pandas: by position, whatever the index
        return values.iloc[start:end]
    return values[start:end]


def _check_columns(kind: str, wanted: list[str], names: list[str]) -> None:
    missing = [name for name in wanted if name not in names]
    if missing:
        raise InputError(
            f"{kind} has no column {missing[0]!r}; its columns: {list(names)}. "
            "Pass text_column= (and id_column=) naming its columns"
        )


def _spill_batch(texts, ids, first_row, stats, strict, text_column, schema) -> pa.Table:
    """One source batch as a table of the spilled schema."""
    text = _text_array(texts, first_row, stats, strict=strict, text_column=text_column)
    if strict and text.null_count:
        row = first_row + int(np.flatnonzero(~text.is_valid().to_numpy(False))[0])
        raise InputError(f"row {row}: {text_column!r} is null")
    rows = np.arange(first_row, first_row + len(text), dtype=np.int64)
    row_ids = pc.cast(pa.array(rows), pa.string())
    arrays = [text, row_ids]
    if ids is not None:
        arrays.append(_id_array(ids, row_ids, stats))
        if len(arrays[-1]) != len(text):
            raise ValueError(f"ids and texts differ in length: {len(arrays[-1])} vs {len(text)}")
    return pa.Table.from_arrays(arrays, schema=schema)


def _text_array(values, first_row: int, stats: _Stats, *, strict: bool, text_column: str):
    """large_string array of one batch of text values (see the module docstring)."""
    if hasattr(values, "iloc"):  # pandas Series: Arrow when its values allow
        try:
            values = pa.Array.from_pandas(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            values = values.tolist()
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        return _python_texts(values, first_row, stats, strict=strict, text_column=text_column)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    kind = values.type
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.large_string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_view(kind):
        return values.cast(pa.large_string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        try:
            return values.cast(pa.large_string())
        except pa.ArrowInvalid:  # invalid UTF-8: decode value by value
            return _python_texts(values.to_pylist(), first_row, stats, strict, text_column)
    raise InputError(
        f"text column {text_column!r} has type {kind}, not string; pass text_column= "
        "naming a string column"
    )


def _is_view(arrow_type: pa.DataType) -> bool:
    return str(arrow_type) in ("string_view", "binary_view")


def _python_texts(values, first_row, stats: _Stats, strict: bool, text_column: str) -> pa.Array:
    """large_string array of Python values: str kept, bytes decoded (invalid UTF-8
    replaced and counted), missing values null, anything else null and counted."""
    texts: list[str | None] = []
    for i, value in enumerate(values):
        if isinstance(value, str):
            texts.append(value)
            continue
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            text = data.decode("utf-8", errors="replace")
            stats.invalid_utf8 += text.encode("utf-8") != data
            texts.append(text)
            continue
        texts.append(None)
        row = first_row + i
        if _is_missing(value):
            if strict:
                raise InputError(f"row {row}: {text_column!r} is null")
            continue
        if strict:
            raise InputError(f"row {row}: {text_column!r} is {type(value).__name__}, not str")
        stats.non_string_count += 1
        if len(stats.non_string) < MAX_PROBLEMS:
            stats.non_string[row] = type(value).__name__
    return pa.array(texts, type=pa.large_string())


def _is_missing(value) -> bool:
    """None, NaN or pandas' NA / NaT (recognised without importing pandas)."""
    if value is None or (isinstance(value, float) and value != value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _id_array(values, row_ids: pa.Array, stats: _Stats) -> pa.Array:
    """string array of one batch of ids; null ids take the row number (counted)."""
    if hasattr(values, "iloc"):
        try:
            values = pa.Array.from_pandas(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            values = values.tolist()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, pa.Array):
        try:
            ids = pc.cast(values, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise InputError(
                f"id column has type {values.type}, which cannot be cast to string ({err}); "
                "pass another id_column"
            ) from err
    else:
        ids = pa.array(
            [None if _is_missing(v) else v if isinstance(v, str) else str(v) for v in values],
            type=pa.string(),
        )
    if ids.null_count:
        stats.fallback_ids += ids.null_count
        ids = pc.if_else(ids.is_null(), row_ids, ids)
    return ids


def _due(pending: list[pa.Table]) -> bool:
    rows = sum(t.num_rows for t in pending)
    text_bytes = sum(t.column(TEXT).nbytes for t in pending)
    return rows >= ROW_GROUP_ROWS or text_bytes >= ROW_GROUP_BYTES


def _write_row_group(writer: pq.ParquetWriter, pending: list[pa.Table]) -> None:
    """Write the pending batches as one row group (a planning unit) and clear them."""
    if pending:
        table = pa.concat_tables(pending)
        writer.write_table(table, row_group_size=max(table.num_rows, 1))
        pending.clear()


def _file_digest(path: Path) -> str:
    """16 hex digits of the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()[:16]
