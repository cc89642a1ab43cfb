"""Replacement texts for the kept rows of a part: what ``write_kept(..., texts=...)`` uses.

A pipeline that changes the text of the documents it keeps (``substr --write-deduped``
cuts the repeated spans out) writes them in the input's own format, every other column
as it was: :class:`CutTexts` holds the new text of each kept row and puts it in place:

- JSONL: the line is parsed, the ``text_column`` key set, the object written back as
  one line of JSON (UTF-8, key order kept);
- Parquet / Arrow IPC: the text column of a batch is replaced (same type: string,
  large_string, binary as UTF-8, or dictionary-encoded);
- text files: the file's content is the new text;
- WARC / WET, where rewriting a record's payload would leave its HTTP headers and
  digests wrong: :func:`warc_cut_lines` gives one JSON line per kept record with
  :data:`~engine.io.warc.WARC_COLUMNS` (``url``, ``warc_record_id``, ``warc_date``) and
  ``text``; the output is a ``.jsonl`` file (``.jsonl.gz`` for gzipped input).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa

from engine.io.plan import InputPart
from engine.io.report import InputError
from engine.io.warc import WARC_COLUMN_HEADERS, WARC_COLUMNS, WarcRecord, iter_warc_records

__all__ = ["CutTexts", "warc_cut_lines"]


class CutTexts:
    """The replacement text of each kept row of one part.

    Args:
        rows: (n,) int64 row numbers (as ``read_part``'s ``row``), any order, unique.
        texts: (n,) the new text of each row, aligned with ``rows``.
        text_column: the JSONL key / column the text is stored under.

    Attributes:
        rows: (n,) int64, sorted; ``texts`` in the same order.
    """

    def __init__(self, rows: np.ndarray, texts: Sequence[str], text_column: str) -> None:
        rows = np.asarray(rows)
        if len(texts) != rows.size:
            raise ValueError(
                f"texts must give one text per kept row: {rows.size} rows, {len(texts)} texts"
            )
        if not isinstance(text_column, str) or not text_column:
            raise ValueError(f"text_column must be a column name, got {text_column!r}")
        order = np.argsort(rows, kind="stable")
        self.rows = rows[order].astype(np.int64, copy=False)
        if self.rows.size > 1 and not np.all(self.rows[1:] > self.rows[:-1]):
            raise ValueError("kept_rows must not repeat a row when texts are given")
        self.texts = [texts[i] for i in order.tolist()]
        self.text_column = text_column

    def text(self, row: int) -> str:
        """The new text of kept row ``row``."""
        return self.texts[int(np.searchsorted(self.rows, row))]

    def json_line(self, row: int, line: bytes) -> bytes:
        """JSONL line ``row`` (a JSON object, as read) with its text replaced; ends in ``\\n``."""
        decoded = line.decode("utf-8", errors="replace")
        if row == 0 and decoded.startswith("\ufeff"):
            decoded = decoded[1:]
        obj = json.loads(decoded)
        obj[self.text_column] = self.text(row)
        try:
            return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a \ud800-style escape: keep it escaped
            return (json.dumps(obj) + "\n").encode("ascii")

    def replace_column(self, batch: pa.RecordBatch, rows: np.ndarray) -> pa.RecordBatch:
        """``batch`` (whose rows are the kept rows ``rows``, (len(batch),) int64) with its
        text column replaced by the new texts, in the column's own type."""
        index = batch.schema.get_field_index(self.text_column)
        if index < 0:
            raise InputError(
                f"text column {self.text_column!r} is not in the input; cannot write cut texts"
            )
        field = batch.schema.field(index)
        values = [self.texts[i] for i in np.searchsorted(self.rows, rows).tolist()]
        return batch.set_column(index, field, _typed_texts(values, field.type))


def _typed_texts(values: list[str], arrow_type: pa.DataType) -> pa.Array:
    """``values`` as an array of ``arrow_type`` (string, binary or dictionary of either)."""
    value_type = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type):
        array = pa.array([v.encode("utf-8") for v in values], type=value_type)
    else:
        array = pa.array(values, type=value_type)
    if pa.types.is_dictionary(arrow_type):
        array = array.dictionary_encode().cast(arrow_type)
    return array


def warc_cut_lines(part: InputPart, kept: np.ndarray, cut: CutTexts) -> Iterator[bytes]:
    """One JSON line per kept record of a WARC / WET part: its WARC columns and new text.

    Args:
        kept: (k,) int64 sorted kept record numbers (``row``).

    Yields:
        ``{"url", "warc_record_id", "warc_date", "text"}`` as UTF-8 JSON lines, in file
        order. Damaged records were counted by ``read_part`` and kept nothing: skipped.

    Raises:
        InputError: the file cannot be read.
    """
    gzipped = part.compression == "gzip" or part.path.lower().endswith(".gz")
    records = iter_warc_records(
        part.path, gzipped=gzipped, want=lambda _: False, storage_options=part.storage_options
    )
    last = int(kept[-1]) if kept.size else -1
    try:
        for record in records:
            if not isinstance(record, WarcRecord):
                continue
            if record.row > last:
                break
            at = np.searchsorted(kept, record.row)
            if at == kept.size or kept[at] != record.row:
                continue
            try:
                headers = record.parse().rec_headers
            except Exception:  # warcio raises many types; read_part counted the record too
                continue
            values = {name: headers.get_header(WARC_COLUMN_HEADERS[name]) for name in WARC_COLUMNS}
            values["text"] = cut.text(record.row)
            yield (json.dumps(values, ensure_ascii=False) + "\n").encode("utf-8", "replace")
    except OSError as err:
        raise InputError(f"cannot read {part.path} to write kept rows: {err}") from err
    finally:
        records.close()
