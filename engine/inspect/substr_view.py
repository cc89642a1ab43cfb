"""What ``inspect`` shows of a substr output: documents with their removed ranges.

A view is a JSON-ready dict::

    {"kind": "substr", "out": str,
     "documents": [{"doc_id": str, "bytes_marked": int, "chars": int | null,
                    "note": str | null,
                    "segments": segment list (engine.inspect.marks): the text with
                        the ranges to remove as ``mark`` segments,
                    "spans": [{"start", "end" (UTF-8 byte offsets, end exclusive),
                        "source_doc_id", "source_start" (where the kept copy is),
                        "text" (the removed bytes, truncated)}]}]}
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.inspect.documents import DocumentReader, input_folder_hint
from engine.inspect.marks import byte_slice, marked_ranges, truncate_segments, truncate_text
from engine.inspect.outputs import OutputFolder


def most_marked(folder: OutputFolder, top: int) -> list[str]:
    """Ids of the ``top`` documents with the most bytes to remove (ties: input order
    of their first span)."""
    table = folder.table(columns=["doc_id", "start", "end"])
    if table.num_rows == 0:
        return []
    grouped = (
        table.append_column("index", pa.array(np.arange(table.num_rows)))
        .append_column("bytes", pc.subtract(table.column("end"), table.column("start")))
        .group_by("doc_id")
        .aggregate([("bytes", "sum"), ("index", "min")])
    )
    order = np.lexsort(
        (grouped.column("index_min").to_numpy(), -grouped.column("bytes_sum").to_numpy())
    )[:top]
    return [grouped.column("doc_id")[int(i)].as_py() for i in order]


def substr_view(
    folder: OutputFolder,
    doc_ids: list[str],
    *,
    max_chars: int = 2000,
    excerpt_chars: int = 200,
    reader: DocumentReader | None = None,
) -> dict:
    """The view of ``doc_ids`` (see the module docstring)."""
    table = folder.table()
    texts = (reader or DocumentReader(folder)).by_id(doc_ids) if doc_ids else {}
    documents = []
    for doc_id in doc_ids:
        spans = table.filter(pc.equal(table.column("doc_id"), doc_id)).sort_by("start")
        text = texts.get(doc_id)
        if spans.num_rows == 0 and text is None:
            raise ValueError(
                f"no document {doc_id!r} in {folder.path}/spans.parquet nor in its inputs"
            )
        documents.append(
            _document(folder, doc_id, spans.to_pylist(), text, max_chars, excerpt_chars)
        )
    return {"kind": "substr", "out": str(folder.path), "documents": documents}


def _document(folder, doc_id, spans, text, max_chars, excerpt_chars) -> dict:
    document = {
        "doc_id": doc_id,
        "bytes_marked": sum(s["end"] - s["start"] for s in spans),
        "chars": None,
        "note": None,
        "segments": [],
        "spans": [],
    }
    if text is None:
        document["note"] = f"text {input_folder_hint(folder.path)}"
    else:
        document["chars"] = len(text)
        segments = marked_ranges(text, [(s["start"], s["end"]) for s in spans])
        document["segments"], document["note"] = truncate_segments(segments, max_chars)
    for span in spans:
        excerpt = None
        if text is not None:
            excerpt = truncate_text(byte_slice(text, span["start"], span["end"]), excerpt_chars)[0]
        document["spans"].append(
            {**{k: v for k, v in span.items() if k != "doc_id"}, "text": excerpt}
        )
    return document
