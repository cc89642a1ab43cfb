"""The single-shard path: one suffix array per shard, resumable.

The input parts are grouped into shards of at most ``shard_size`` input bytes
(:func:`group_shards`); :func:`shard_task` reads one shard and finds its repeated
spans with :func:`engine.substrings.spans.repeated_spans_arrays`. The result is exact
over the corpus only when it is one shard and that shard's text fits one call
(``sub_shards == 1``); :mod:`engine.substrings.pipeline` takes the cross-shard path
otherwise.

Each task writes ``_work/spans/shard-NNNNN.parquet`` atomically, stamped with the
options' fingerprint and its input parts (:mod:`engine.run.reuse`); a rerun with the
same ``--out`` and options reuses finished shards. With ``write_deduped`` the task first
writes its parts' cut documents (:func:`engine.substrings.deduped.write_cut_part`).
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.io import InputPart, ReadReport, read_part
from engine.run.atomic import write_parquet_atomic
from engine.run.memory import peak_rss_mib
from engine.run.progress import prefetch
from engine.run.reuse import reusable, stamped
from engine.substrings.deduped import DEDUPED_COUNTS, cut_texts, write_cut_part
from engine.substrings.options import SubstrOptions
from engine.substrings.spans import SPANS_SCHEMA, repeated_spans_arrays, spans_table


def group_shards(parts: list[InputPart], shard_size: int) -> list[list[InputPart]]:
    """Consecutive parts grouped into shards of at most ``shard_size`` input bytes
    (a part larger than that is a shard of its own)."""
    shards: list[list[InputPart]] = []
    current: list[InputPart] = []
    current_bytes = 0
    for part in parts:
        if current and current_bytes + part.size_bytes > shard_size:
            shards.append(current)
            current, current_bytes = [], 0
        current.append(part)
        current_bytes += part.size_bytes
    if current:
        shards.append(current)
    return shards


def shard_file(work: Path, index: int) -> Path:
    """``work/spans/shard-NNNNN.parquet``: the stamped spans of shard ``index``."""
    return work / "spans" / f"shard-{index:05d}.parquet"


def read_shard_spans(work: Path, n_shards: int) -> pa.Table:
    """The spans of every shard, in shard order (``SPANS_SCHEMA``, stamps removed)."""
    tables = [
        pq.read_table(shard_file(work, i)).replace_schema_metadata(None) for i in range(n_shards)
    ]
    return pa.concat_tables(tables) if tables else SPANS_SCHEMA.empty_table()


class _SubShards:
    """Documents of a shard collected until ``shard_size`` bytes, then one exact call
    per such sub-shard (more than one only when the shard's text outgrows its input
    bytes, e.g. a compressed file)."""

    def __init__(self, options: SubstrOptions, backend: str):
        self.options = options
        self.backend = backend
        self.tables: list[pa.Table] = []
        # with write_deduped: each document's remaining bytes (None: the cut emptied it)
        self.cut: list[bytes | None] = []
        self.counts = {"documents": 0, "bytes": 0, "sub_shards": 0}
        self.ids: list[str] = []
        self.texts: list[bytes] = []
        self.held = 0

    def add(self, doc_id: str, data: bytes) -> None:
        """Add one document (UTF-8 bytes); documents are numbered in the order added."""
        if self.held and self.held + len(data) > self.options.shard_size:
            self.flush()
        self.ids.append(doc_id)
        self.texts.append(data)
        self.held += len(data)
        self.counts["documents"] += 1
        self.counts["bytes"] += len(data)

    def flush(self) -> None:
        if not self.texts:
            return
        spans = repeated_spans_arrays(
            self.texts, min_span=self.options.min_span, keep=self.options.keep, backend=self.backend
        )
        self.tables.append(spans_table(spans, pa.array(self.ids, type=pa.string())))
        if self.options.write_deduped:
            self.cut.extend(cut_texts(self.texts, spans))
        self.counts["sub_shards"] += 1
        self.ids, self.texts, self.held = [], [], 0


def shard_task(
    index: int, parts: list[InputPart], options: SubstrOptions, backend: str, out: str
) -> dict:
    """Find the repeated spans of one shard; write its spans (and deduped) file.

    Returns:
        ``reused`` (bool), ``documents``, ``bytes`` (UTF-8), ``sub_shards``, ``spans``,
        ``bytes_marked``, ``documents_with_spans``, ``seconds``, ``report`` (the
        shard's :class:`engine.io.ReadReport` as a dict).
    """
    out_dir = Path(out)
    path = shard_file(out_dir / "_work", index)
    fingerprint = options.fingerprint()
    stored = reusable(path, fingerprint, parts)
    if stored is not None:
        return {"reused": True, **stored}
    started = time.perf_counter()
    report = ReadReport()
    shard = _SubShards(options, backend)
    part_rows: list[list[int]] = []  # per part, the row number of each document read
    for part in parts:
        batches = read_part(part, report=report, **options.read.read_part_kwargs())
        part_rows.append([])
        for batch in prefetch(batches):
            part_rows[-1].extend(batch.column("row").to_pylist())
            for doc_id, text in zip(
                batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()
            ):
                shard.add(doc_id, text.encode("utf-8"))
    shard.flush()

    spans = pa.concat_tables(shard.tables) if shard.tables else SPANS_SCHEMA.empty_table()
    result = {
        **shard.counts,
        "spans": spans.num_rows,
        "bytes_marked": int(
            pc.sum(pc.subtract(spans.column("end"), spans.column("start"))).as_py() or 0
        ),
        "documents_with_spans": len(set(spans.column("doc_id").to_pylist())),
        "seconds": round(time.perf_counter() - started, 4),
        "peak_rss_mib": peak_rss_mib(),
        "report": report.to_dict(),
    }
    if options.write_deduped:
        result["deduped"] = dict.fromkeys(DEDUPED_COUNTS, 0)
        result["deduped_files"] = []
        first = 0
        for part, rows in zip(parts, part_rows, strict=True):
            cut = shard.cut[first : first + len(rows)]
            first += len(rows)
            counts = write_cut_part(part, rows, cut, options, out_dir, report)
            for key in DEDUPED_COUNTS:
                result["deduped"][key] += counts[key]
            if counts["path"] is not None:
                result["deduped_files"].append(counts["path"])
        result["report"] = report.to_dict()  # with what writing met
    write_parquet_atomic(path, stamped(spans, fingerprint, parts, result))
    return {"reused": False, **result}
