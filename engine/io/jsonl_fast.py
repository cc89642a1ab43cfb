"""The fast path of the JSONL reader: a block of lines parsed by Arrow's JSON parser
(C++, outside the GIL) straight into the batch table, for the common case of clean
records.

:func:`parse_block` takes a block of non-blank lines with their line numbers and returns
the table the line-by-line reader (:mod:`engine.io.jsonl`) would have built from them, or
None when the block holds anything that reader handles record by record; the caller then
reads the block line by line, so the results are the same either way. None is returned
for: a malformed line or one that is not a JSON object, two objects on one line, a
duplicated key, invalid UTF-8 (Arrow's parser lets it through inside strings, so every
string is validated), a lone ``\\uD800``-``\\uDFFF`` escape (Arrow refuses it; the
slow path scrubs and counts it; valid surrogate pairs are read), a text that is missing,
null or not a string, and, with ``id_column``, an id that is missing, null or not a
string (the slow path turns numbers into ids and counts fallbacks). A byte-order mark on
the first line is left to the slow path by the caller. ``tests/io/test_jsonl_fast.py``
checks both paths give the same tables and reports on random damaged files.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from engine.io.reading import RESERVED_COLUMNS

BLOCK_BYTES = 8 * 2**20  # lines handed to one parse (bytes)


def parse_block(
    lines: list[bytes], rows: list[int], text_column: str, id_column: str | None, path: str
) -> pa.Table | None:
    """The batch table (``doc_id`` string, ``text`` large_string, ``row`` int64) of
    ``lines`` (raw JSONL lines, none blank; ``rows``: their 0-based line numbers), or
    None when the block needs the line-by-line reader (see the module docstring).

    ``path``: the file's id path, for ids ``<path>:<row>`` without ``id_column``.
    """
    if not lines:
        return None
    data = b"".join(lines)  # each line ends with its newline, but maybe the file's last
    if not data.endswith(b"\n"):
        data += b"\n"
    fields = [(text_column, pa.string())]
    if id_column is not None and id_column != text_column:
        fields.append((id_column, pa.string()))
    options = pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore")
    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=options,
        )
    except Exception:  # malformed, wrong types, bad UTF-8: the slow path says which
        return None
    if table.num_rows != len(lines):
        return None  # two objects on one line, or a line that is not an object
    try:  # the parser passes invalid UTF-8 inside strings through: check every byte
        table.validate(full=True)
    except pa.ArrowInvalid:
        return None
    text = table.column(text_column)
    if text.null_count:
        return None
    row_array = pa.array(np.asarray(rows, dtype=np.int64), type=pa.int64())
    if id_column is None:
        doc_id = pc.binary_join_element_wise(path, pc.cast(row_array, pa.string()), ":")
    else:
        doc_id = table.column(id_column)
        if doc_id.null_count:
            return None
    return pa.Table.from_arrays(
        [
            pa.chunked_array(doc_id).cast(pa.string()).combine_chunks(),
            text.cast(pa.large_string()).combine_chunks(),
            row_array,
        ],
        names=list(RESERVED_COLUMNS),
    )
