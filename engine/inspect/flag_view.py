"""What ``inspect`` shows of a flag output: documents with their evidence highlighted.

A view is a JSON-ready dict::

    {"kind": "flag", "out": str, "reference": str (index folder),
     "documents": [{"doc_id": str, "label": str, "cov_doc": float, "cov_ref": float,
                    "longest_match": int (bytes), "ref_ids": [str],
                    "chars": int | null, "note": str | null,
                    "segments": segment list (engine.inspect.marks): the text with
                        its evidence ranges as ``mark`` segments,
                    "evidence": [{"start", "end" (UTF-8 byte offsets in the
                        document), "ref_id", "ref_start", "ref_end" (byte offsets
                        in the reference text), "text" (the document's bytes),
                        "ref_text" (the reference's bytes; null when the index
                        does not hold it)}]}]}

Reference texts come from the index folder recorded in ``summary.json``
(:class:`engine.provenance.ReferenceIndex`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.inspect.documents import DocumentReader, input_folder_hint
from engine.inspect.marks import byte_slice, marked_ranges, truncate_segments, truncate_text
from engine.inspect.outputs import OutputFolder
from engine.provenance import ReferenceIndex

FLAGS = "flags.parquet"


def most_flagged(folder: OutputFolder, top: int) -> list[str]:
    """Ids of the ``top`` flagged documents with the highest ``cov_doc`` (then the
    longest match, then input order)."""
    table = folder.table(FLAGS, columns=["doc_id", "label", "cov_doc", "longest_match"])
    flagged = np.flatnonzero(table.column("label").to_numpy(zero_copy_only=False) != "none")
    cov = table.column("cov_doc").to_numpy()[flagged]
    longest = table.column("longest_match").to_numpy()[flagged]
    order = np.lexsort((flagged, -longest, -cov))[:top]
    return [table.column("doc_id")[int(i)].as_py() for i in flagged[order]]


def reference_texts(path: str | None, ref_ids: set[str]) -> dict[str, str]:
    """``{ref_id: text}`` of the references asked for (empty without an index)."""
    if not path or not ref_ids:
        return {}
    meta = ReferenceIndex.load(path).meta()
    meta = meta.filter(pc.is_in(meta.column("ref_id"), value_set=pa.array(sorted(ref_ids))))
    return dict(zip(meta.column("ref_id").to_pylist(), meta.column("text").to_pylist()))


def flag_view(
    folder: OutputFolder,
    doc_ids: list[str],
    *,
    max_chars: int = 2000,
    excerpt_chars: int = 300,
    reader: DocumentReader | None = None,
) -> dict:
    """The view of ``doc_ids`` (see the module docstring)."""
    table = folder.table(FLAGS)
    ids = table.column("doc_id").to_numpy(zero_copy_only=False)
    rows = []
    for doc_id in doc_ids:
        hits = np.flatnonzero(ids == doc_id)
        if len(hits) == 0:
            raise ValueError(f"no document {doc_id!r} in {folder.path}/{FLAGS}")
        rows.append(table.slice(int(hits[0]), 1).to_pylist()[0])
    texts = (reader or DocumentReader(folder)).by_id(doc_ids) if doc_ids else {}
    wanted_refs = {e["ref_id"] for row in rows for e in row["evidence"]}
    references = reference_texts(folder.reference_path, wanted_refs)
    documents = [
        _document(folder, row, texts.get(row["doc_id"]), references, max_chars, excerpt_chars)
        for row in rows
    ]
    return {
        "kind": "flag",
        "out": str(folder.path),
        "reference": folder.reference_path,
        "documents": documents,
    }


def _document(folder, row, text, references, max_chars, excerpt_chars) -> dict:
    document = {key: row[key] for key in ("doc_id", "label", "cov_doc", "cov_ref", "longest_match")}
    document.update(ref_ids=row["ref_ids"], chars=None, note=None, segments=[], evidence=[])
    if text is None:
        document["note"] = f"text {input_folder_hint(folder.path)}"
    else:
        document["chars"] = len(text)
        ranges = [(e["start"], e["end"]) for e in row["evidence"]]
        segments = marked_ranges(text, ranges)
        document["segments"], document["note"] = truncate_segments(segments, max_chars)
    for e in row["evidence"]:
        ref = references.get(e["ref_id"])
        document["evidence"].append(
            {
                **e,
                "text": _excerpt(text, e["start"], e["end"], excerpt_chars),
                "ref_text": _excerpt(ref, e["ref_start"], e["ref_end"], excerpt_chars),
            }
        )
    return document


def _excerpt(text: str | None, start: int, end: int, limit: int) -> str | None:
    """Bytes ``[start, end)`` of ``text`` cut to ``limit`` characters (None without text)."""
    return None if text is None else truncate_text(byte_slice(text, start, end), limit)[0]
