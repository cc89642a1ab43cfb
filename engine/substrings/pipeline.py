"""The repeated-substring pipeline over files: read -> shards -> spans.parquet.

The result is always exact over the whole corpus: every substring of at least
``min_span`` bytes that occurs twice anywhere is found (:mod:`engine.substrings.spans`).

- A corpus that fits one shard (``shard_size`` bytes of text) is one suffix array:
  one task, resumable.
- A larger corpus takes the cross-shard path (:mod:`engine.substrings.cross_shard`): winnowed
  fingerprints route documents that share a substring of ``min_span`` bytes into the
  same group, and each group's suffix array finds the exact spans. Memory per call is
  about 20 bytes per byte of the group (boilerplate can chain large groups).

Each shard task (scheduled by :mod:`engine.run.dask_runner`) writes
``_work/spans/shard-NNNNN.parquet`` atomically, with its parameters in the file's
metadata; a rerun with the same ``--out`` and parameters reuses finished shards.
The driver concatenates them into ``spans.parquet``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.io.inputs import InputPart, ReadReport, parse_size, plan_parts, read_part
from engine.run.atomic import write_json_atomic, write_parquet_atomic
from engine.run.dask_runner import session
from engine.run.output import claim_output, output_folder
from engine.run.progress import Progress, prefetch
from engine.substrings.cross_shard import substr_across_shards
from engine.substrings.options import SubstrOptions
from engine.substrings.spans import SPANS_SCHEMA, remove_spans, repeated_spans_arrays
from kernels.backend import resolve_backend

log = logging.getLogger("ouroboros")

META_KEY = b"ouroboros"


@dataclass
class SubstrResult:
    """What :func:`substr` returns.

    Attributes:
        spans: pyarrow Table with the ``spans.parquet`` schema.
        summary: the ``summary.json`` content.
        out: the output folder, or None when ``out`` was not given.
    """

    spans: pa.Table
    summary: dict
    out: Path | None


def group_shards(parts: list[InputPart], shard_size: int) -> list[list[InputPart]]:
    """Consecutive parts grouped into shards of at most ``shard_size`` input bytes."""
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


def _shard_file(work: Path, index: int) -> Path:
    return work / "spans" / f"shard-{index:05d}.parquet"


def _reusable(path: Path, fingerprint: str, parts: list[InputPart]) -> dict | None:
    if not path.exists():
        return None
    try:
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    except (OSError, pa.ArrowInvalid):
        return None
    meta = json.loads(raw) if raw else None
    if not meta or meta.get("fingerprint") != fingerprint:
        return None
    if meta.get("parts") != [repr(p) for p in parts]:
        return None
    return meta["result"]


def shard_task(
    index: int, parts: list[InputPart], options: SubstrOptions, backend: str, out: str
) -> dict:
    """Find repeated spans in one shard; returns counts and the read report."""
    out_dir = Path(out)
    path = _shard_file(out_dir / "_work", index)
    fingerprint = options.fingerprint()
    reused = _reusable(path, fingerprint, parts)
    if reused is not None:
        return {"reused": True, **reused}
    started = time.perf_counter()
    report = ReadReport()
    tables: list[pa.Table] = []
    deduped: list[pa.Table] = []
    counts = {"documents": 0, "bytes": 0, "sub_shards": 0}
    ids: list[str] = []
    texts: list[bytes] = []
    held = 0

    def flush() -> None:
        nonlocal ids, texts, held
        if not texts:
            return
        spans = repeated_spans_arrays(
            texts, min_span=options.min_span, keep=options.keep, backend=backend
        )
        id_array = pa.array(ids, type=pa.string())
        tables.append(
            pa.Table.from_arrays(
                [
                    id_array.take(pa.array(spans["doc_index"])),
                    pa.array(spans["start"], type=pa.int64()),
                    pa.array(spans["end"], type=pa.int64()),
                    id_array.take(pa.array(spans["source_doc_index"])),
                    pa.array(spans["source_start"], type=pa.int64()),
                ],
                schema=SPANS_SCHEMA,
            )
        )
        if options.write_deduped:
            deduped.append(_cut_texts(ids, texts, spans))
        counts["sub_shards"] += 1
        ids, texts, held = [], [], 0

    for part in parts:
        batches = read_part(
            part,
            text_column=options.text_column,
            id_column=options.id_column,
            strict=options.strict,
            report=report,
        )
        for batch in prefetch(batches):
            for doc_id, text in zip(
                batch.column("doc_id").to_pylist(), batch.column("text").to_pylist()
            ):
                data = text.encode("utf-8")
                if held and held + len(data) > options.shard_size:
                    flush()
                ids.append(doc_id)
                texts.append(data)
                held += len(data)
                counts["documents"] += 1
                counts["bytes"] += len(data)
    flush()

    spans = pa.concat_tables(tables) if tables else SPANS_SCHEMA.empty_table()
    result = {
        **counts,
        "spans": spans.num_rows,
        "bytes_marked": int(
            pc.sum(pc.subtract(spans.column("end"), spans.column("start"))).as_py() or 0
        ),
        "documents_with_spans": len(set(spans.column("doc_id").to_pylist())),
        "seconds": round(time.perf_counter() - started, 4),
        "report": report.to_dict(),
    }
    if options.write_deduped:
        table = pa.concat_tables(deduped) if deduped else _DEDUPED_SCHEMA.empty_table()
        write_parquet_atomic(out_dir / "deduped" / f"shard-{index:05d}.parquet", table)
    meta = {"fingerprint": fingerprint, "parts": [repr(p) for p in parts], "result": result}
    spans = spans.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    write_parquet_atomic(path, spans)
    return {"reused": False, **result}


_DEDUPED_SCHEMA = pa.schema([("doc_id", pa.string()), ("text", pa.large_string())])


def _cut_texts(ids: list[str], texts: list[bytes], spans: dict) -> pa.Table:
    """Every document of a sub-shard with its spans cut out (doc_id, text)."""
    doc_index = spans["doc_index"]
    bounds = np.searchsorted(doc_index, np.arange(len(texts) + 1))
    out = []
    for d, data in enumerate(texts):
        lo, hi = bounds[d], bounds[d + 1]
        if hi > lo:
            data = remove_spans(data, spans["start"][lo:hi], spans["end"][lo:hi])
        out.append(data.decode("utf-8", errors="replace"))
    return pa.table(
        {"doc_id": pa.array(ids, type=pa.string()), "text": pa.array(out, pa.large_string())},
        schema=_DEDUPED_SCHEMA,
    )


def _counts(parts, shards, results, spans, cross) -> dict:
    counts = {"partitions": len(parts), "shards": len(shards), "spans": spans.num_rows}
    marked = pc.sum(pc.subtract(spans.column("end"), spans.column("start"))).as_py() or 0
    counts["bytes_marked"] = int(marked)
    counts["documents_with_spans"] = len(pc.unique(spans.column("doc_id"))) if len(spans) else 0
    if cross is not None:
        counts["path"] = "cross-shard"
        counts["documents"] = cross["documents"]
        counts["bytes"] = cross["bytes"]
        counts["cross_shard"] = {
            k: v
            for k, v in cross.items()
            if k not in ("documents", "bytes", "spans", "documents_per_part", "span_doc_index")
        }
        return counts
    counts["path"] = "single-shard"
    counts["shards_reused"] = sum(1 for r in results if r.get("reused"))
    counts["sub_shards"] = sum(r["sub_shards"] for r in results)
    counts["documents"] = sum(r["documents"] for r in results)
    counts["bytes"] = sum(r["bytes"] for r in results)
    return counts


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

    ``span_doc_index``, ``starts``, ``ends``: int64 (k,) spans of this part's
    documents (global document index, byte offsets), ordered by document then start.
    """
    report = ReadReport()
    ids: list[str] = []
    texts: list[str] = []
    position = doc_offset
    cursor = 0
    for batch in read_part(
        part,
        text_column=options.text_column,
        id_column=options.id_column,
        strict=options.strict,
        report=report,
    ):
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
    write_parquet_atomic(
        path,
        pa.table(
            {"doc_id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.large_string())},
            schema=_DEDUPED_SCHEMA,
        ),
    )
    return str(path)


def _write_cut_parts(parts, spans, cross, options, out_dir, runner) -> None:
    doc_index = cross["span_doc_index"]
    starts = spans.column("start").to_numpy()
    ends = spans.column("end").to_numpy()
    offsets = np.concatenate([[0], np.cumsum(cross["documents_per_part"])]).astype(np.int64)
    bounds = np.searchsorted(doc_index, offsets)
    runner.run(
        cut_part_task,
        [
            (
                part,
                int(offsets[i]),
                doc_index[bounds[i] : bounds[i + 1]],
                starts[bounds[i] : bounds[i + 1]],
                ends[bounds[i] : bounds[i + 1]],
                options,
                str(out_dir),
            )
            for i, part in enumerate(parts)
        ],
    )


def substr(
    inputs,
    out=None,
    *,
    min_span: int = 100,
    keep: str = "first",
    shard_size: str | int = "256MB",
    text_column: str = "text",
    id_column: str | None = None,
    backend: str = "auto",
    scheduler: str = "local",
    workers: int | None = None,
    partition_size: str | int = "256MB",
    write_deduped: bool = False,
    strict: bool = False,
    progress: bool = True,
) -> SubstrResult:
    """Find exact repeated substrings (>= ``min_span`` bytes) in files.

    Args:
        inputs: a path or list of paths (as for :func:`engine.neardup.pipeline.dedup`).
        out: output folder for spans.parquet, summary.json and work files; None keeps
            the result in memory.
        min_span: shortest repeated substring, in bytes. keep: "first" keeps the first
            occurrence (lowest document, then offset) and marks later copies; "none"
            marks every occurrence.
        shard_size: text bytes one suffix array may hold; the result is exact over the
            whole corpus either way (see module docstring).
        write_deduped: also write ``out/deduped/*.parquet`` (per shard, or per input
            part on the cross-shard path) with ``doc_id``
            and the text with every span cut out.
        Other arguments: as for :func:`engine.neardup.pipeline.dedup`.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    if min_span < 1:
        raise ValueError(f"min_span must be >= 1 byte, got {min_span}")
    if keep not in ("first", "none"):
        raise ValueError(f"keep must be 'first' or 'none' for substr, got {keep!r}")
    if write_deduped and out is None:
        raise ValueError("write_deduped needs an output folder: pass out=...")
    resolved = resolve_backend(backend)
    options = SubstrOptions(
        min_span=int(min_span),
        keep=keep,
        text_column=text_column,
        id_column=id_column,
        strict=strict,
        shard_size=parse_size(shard_size),
        write_deduped=write_deduped,
    )
    with output_folder(out) as out_dir:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        plan_report = ReadReport()
        parts = plan_parts([str(p) for p in inputs], parse_size(partition_size), plan_report)
        shards = group_shards(parts, options.shard_size)
        timings["plan"] = time.perf_counter() - t0

        claim_output(out_dir, "substr", [str(p) for p in inputs])
        t0 = time.perf_counter()
        cross = None
        with session(scheduler, workers) as runner:
            use_cross = len(shards) > 1
            if not use_cross:
                with Progress(len(shards), "spans", enabled=progress) as bar:
                    results = runner.run(
                        shard_task,
                        [(i, s, options, resolved, str(out_dir)) for i, s in enumerate(shards)],
                        progress=bar,
                    )
                # more text than one shard holds (e.g. a compressed file): not exact
                use_cross = sum(r["sub_shards"] for r in results) > 1
            if use_cross:
                # exact over the whole corpus: route documents that share long
                # substrings together (engine.substrings.cross_shard), whatever the shards
                with Progress(0, "spans", enabled=progress) as bar:
                    spans, cross = substr_across_shards(
                        parts,
                        options=options,
                        backend=resolved,
                        work=out_dir / "_work" / "cross",
                        scheduler=scheduler,
                        workers=workers,
                        progress=bar,
                        runner=runner,
                    )
                results = [{"report": cross.pop("report")}]
                if write_deduped:
                    shutil.rmtree(out_dir / "deduped", ignore_errors=True)
                    _write_cut_parts(parts, spans, cross, options, out_dir, runner)
            else:
                tables = [
                    pq.read_table(_shard_file(out_dir / "_work", i)).replace_schema_metadata(None)
                    for i in range(len(shards))
                ]
                spans = pa.concat_tables(tables) if tables else SPANS_SCHEMA.empty_table()
        timings["spans"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        if out is not None:
            write_parquet_atomic(out_dir / "spans.parquet", spans)
        timings["write"] = time.perf_counter() - t0

        report = plan_report
        for result in results:
            report = report.merge(ReadReport.from_dict(result["report"]))
        summary = {
            "command": "substr",
            "inputs": [str(p) for p in inputs],
            "parameters": {
                **{k: v for k, v in options.__dict__.items()},
                "partition_size": parse_size(partition_size),
            },
            "backend": resolved,
            "scheduler": scheduler,
            "counts": _counts(parts, shards, results, spans, cross),
            "read": report.to_dict(),
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
        }
        if out is not None:
            write_json_atomic(out_dir / "summary.json", summary)
        counts = summary["counts"]
        log.info(
            "%d documents, %d spans, %d of %d bytes marked for removal",
            counts["documents"],
            counts["spans"],
            counts["bytes_marked"],
            counts["bytes"],
        )
        return SubstrResult(spans, summary, None if out is None else out_dir)
