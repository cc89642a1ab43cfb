"""``deduped/``: the documents with their repeated spans cut out (``write_deduped``).

The output has the shape of ``dedup --write-deduped``: one file per input part at
:func:`engine.io.write_kept.deduped_path` (``deduped/NNNNN-<input name>``), in the
input's own format and compression, every column kept and the text column holding the
cut text (the remaining bytes decoded as UTF-8; spans never cut a character of valid
UTF-8). WARC / WET input, whose record payloads are not rewritten, gives JSON Lines with
the record's ``url``, ``warc_record_id``, ``warc_date`` and the cut ``text``
(:mod:`engine.io.write_cut`). A document whose text is empty once cut is dropped and
counted (``deduped.documents_emptied`` in ``summary.json``); a document that was empty
to begin with is kept.

Single-shard path: the shard task writes its parts from the texts it holds
(:func:`write_cut_part`). Cross-shard path: each part is read again and cut
(:func:`cut_part_task`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.io import InputPart, ReadReport, read_part
from engine.io.write_kept import DEDUPED_DIR, write_kept
from engine.run.dask_runner import Runner
from engine.substrings.options import SubstrOptions
from engine.substrings.spans import remove_spans

DEDUPED_COUNTS = ("files", "documents", "documents_emptied")


def cut_texts(texts: list[bytes], spans: dict[str, np.ndarray]) -> list[bytes | None]:
    """Every document of one ``repeated_spans_arrays`` call with its spans cut out.

    Args:
        texts: (n_docs,) UTF-8 bytes of the documents.
        spans: the call's result (int64 (m,) arrays ordered by ``doc_index``, then
            ``start``; byte offsets).

    Returns:
        (n_docs,) the remaining bytes of each document; None for one the cut emptied.
    """
    doc_index = spans["doc_index"]
    bounds = np.searchsorted(doc_index, np.arange(len(texts) + 1))
    out = []
    for d, data in enumerate(texts):
        lo, hi = bounds[d], bounds[d + 1]
        if hi > lo:
            data = remove_spans(data, spans["start"][lo:hi], spans["end"][lo:hi]) or None
        out.append(data)
    return out


def write_cut_part(
    part: InputPart,
    rows: list[int],
    cut: list[bytes | None],
    options: SubstrOptions,
    out: str | Path,
    report: ReadReport,
) -> dict:
    """Write one part's documents with their cut texts; those the cut emptied are dropped
    (a document that was empty to begin with is kept, as it is).

    Args:
        rows: (n,) the documents' row numbers in the part's file (``read_part``'s ``row``).
        cut: (n,) their remaining UTF-8 bytes; None for a document the cut emptied.
        report: kept rows not found again in the input are recorded here.

    Returns:
        ``{"files": 0 or 1, "documents": written, "documents_emptied": dropped}`` and
        ``path``: the file written (a string), or None.
    """
    kept = [i for i, data in enumerate(cut) if data is not None]
    texts = [cut[i].decode("utf-8", errors="replace") for i in kept]
    kept_rows = np.asarray(rows, dtype=np.int64)[kept]
    written = write_kept(
        part,
        kept_rows,
        out,
        texts=texts,
        text_column=options.read.text_column,
        report=report,
    )
    return {
        "files": int(written is not None),
        "documents": len(kept) if written is not None else 0,
        "documents_emptied": len(cut) - len(kept),
        "path": None if written is None else str(written),
    }


def cut_part_task(
    part: InputPart,
    doc_offset: int,
    span_doc_index: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    options: SubstrOptions,
    out: str,
) -> dict:
    """Read one part again and write its documents with their spans cut.

    Args:
        doc_offset: global index of the part's first document.
        span_doc_index, starts, ends: int64 (k,) spans of this part's documents
            (global document index, byte offsets), ordered by document then start.

    Returns:
        ``deduped``: :func:`write_cut_part`'s counts, ``deduped_files``: the file
        written (0 or 1), ``report``: problems met while writing, as a dict (reading was
        counted by the spans stage already).
    """
    rows: list[int] = []
    cut: list[bytes | None] = []
    position = doc_offset
    cursor = 0
    for batch in read_part(part, report=ReadReport(), **options.read.read_part_kwargs()):
        for row, text in zip(batch.column("row").to_pylist(), batch.column("text").to_pylist()):
            stop = cursor
            while stop < len(span_doc_index) and span_doc_index[stop] == position:
                stop += 1
            data = text.encode("utf-8")
            if stop > cursor:
                data = remove_spans(data, starts[cursor:stop], ends[cursor:stop]) or None
            cursor = stop
            rows.append(row)
            cut.append(data)
            position += 1
    report = ReadReport()
    counts = write_cut_part(part, rows, cut, options, out, report)
    path = counts.pop("path")
    files = [] if path is None else [path]
    return {"deduped": counts, "deduped_files": files, "report": report.to_dict()}


def write_cut_parts(
    runner: Runner,
    parts: list[InputPart],
    spans: pa.Table,
    span_doc_index: np.ndarray,
    documents_per_part: list[int],
    options: SubstrOptions,
    out_dir: Path,
) -> list[dict]:
    """Replace ``out_dir/deduped/`` with one file per part (:func:`cut_part_task`).

    Args:
        spans: ``SPANS_SCHEMA`` table ordered by (global document index, start).
        span_doc_index: (len(spans),) int64 global document index of each row.
        documents_per_part: documents read from each part, in input order.

    Returns:
        The tasks' results, in part order.
    """
    shutil.rmtree(out_dir / DEDUPED_DIR, ignore_errors=True)
    starts = spans.column("start").to_numpy()
    ends = spans.column("end").to_numpy()
    offsets = np.concatenate([[0], np.cumsum(documents_per_part)]).astype(np.int64)
    bounds = np.searchsorted(span_doc_index, offsets)
    return runner.run(
        cut_part_task,
        [
            (
                part,
                int(offsets[i]),
                span_doc_index[bounds[i] : bounds[i + 1]],
                starts[bounds[i] : bounds[i + 1]],
                ends[bounds[i] : bounds[i + 1]],
                options,
                str(out_dir),
            )
            for i, part in enumerate(parts)
        ],
    )


def finish_deduped(out_dir: Path, results: list[dict]) -> tuple[dict, list[str]]:
    """The ``deduped`` counts and files of a run, from its task results (each with a
    ``deduped`` dict of :data:`DEDUPED_COUNTS` and a ``deduped_files`` list); files in
    ``out_dir/deduped/`` that this run did not write (an earlier run's) are removed.

    Returns:
        ``(counts, paths written in part order)``.
    """
    counts = {key: sum(r.get("deduped", {}).get(key, 0) for r in results) for key in DEDUPED_COUNTS}
    files = [path for r in results for path in r.get("deduped_files", [])]
    written = {Path(path).name for path in files}
    folder = out_dir / DEDUPED_DIR
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name not in written and path.is_file():
                path.unlink(missing_ok=True)
    return counts, files
