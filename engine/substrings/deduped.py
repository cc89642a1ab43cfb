"""``deduped/*.parquet``: every document with its spans cut out (``write_deduped``).

One file per shard on the single-shard path (written by its shard task, from the
texts it holds), one per input part on the cross-shard path (the part is read again).
Columns: ``doc_id`` string, ``text`` large_string (the remaining bytes decoded as UTF-8;
spans never cut a character of valid UTF-8).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.io import InputPart, ReadReport, read_part
from engine.run.atomic import write_parquet_atomic
from engine.run.dask_runner import Runner
from engine.substrings.options import SubstrOptions
from engine.substrings.spans import remove_spans

DEDUPED_SCHEMA = pa.schema([("doc_id", pa.string()), ("text", pa.large_string())])


def deduped_table(ids: list[str], texts: list[str]) -> pa.Table:
    """A ``DEDUPED_SCHEMA`` table of (n,) ids and their cut texts."""
    return pa.table(
        {"doc_id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.large_string())},
        schema=DEDUPED_SCHEMA,
    )


def cut_texts(ids: list[str], texts: list[bytes], spans: dict[str, np.ndarray]) -> pa.Table:
    """Every document of one ``repeated_spans_arrays`` call with its spans cut out.

    Args:
        ids: (n_docs,) document ids; texts: their UTF-8 bytes.
        spans: the call's result (int64 (m,) arrays ordered by ``doc_index``, then
            ``start``; byte offsets).
    """
    doc_index = spans["doc_index"]
    bounds = np.searchsorted(doc_index, np.arange(len(texts) + 1))
    out = []
    for d, data in enumerate(texts):
        lo, hi = bounds[d], bounds[d + 1]
        if hi > lo:
            data = remove_spans(data, spans["start"][lo:hi], spans["end"][lo:hi])
        out.append(data.decode("utf-8", errors="replace"))
    return deduped_table(ids, out)


def cut_part_task(
    part: InputPart,
    doc_offset: int,
    span_doc_index: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    options: SubstrOptions,
    out: str,
) -> str:
    """Write ``deduped/part-NNNNN.parquet``: the part's documents with their spans cut.

    Args:
        doc_offset: global index of the part's first document.
        span_doc_index, starts, ends: int64 (k,) spans of this part's documents
            (global document index, byte offsets), ordered by document then start.

    Returns:
        The path written.
    """
    ids: list[str] = []
    texts: list[str] = []
    position = doc_offset
    cursor = 0
    report = ReadReport()  # counted by the spans stage already
    for batch in read_part(part, report=report, **options.read.read_part_kwargs()):
        for doc_id, text in zip(
            batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()
        ):
            stop = cursor
            while stop < len(span_doc_index) and span_doc_index[stop] == position:
                stop += 1
            if stop > cursor:
                data = remove_spans(text.encode("utf-8"), starts[cursor:stop], ends[cursor:stop])
                text = data.decode("utf-8", errors="replace")
            cursor = stop
            ids.append(doc_id)
            texts.append(text)
            position += 1
    path = Path(out) / "deduped" / f"part-{part.index:05d}.parquet"
    write_parquet_atomic(path, deduped_table(ids, texts))
    return str(path)


def write_cut_parts(
    runner: Runner,
    parts: list[InputPart],
    spans: pa.Table,
    span_doc_index: np.ndarray,
    documents_per_part: list[int],
    options: SubstrOptions,
    out_dir: Path,
) -> list[str]:
    """Replace ``out_dir/deduped/`` with one file per part (:func:`cut_part_task`).

    Args:
        spans: ``SPANS_SCHEMA`` table ordered by (global document index, start).
        span_doc_index: (len(spans),) int64 global document index of each row.
        documents_per_part: documents read from each part, in input order.
    """
    shutil.rmtree(out_dir / "deduped", ignore_errors=True)
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
