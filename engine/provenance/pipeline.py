"""The ``flag`` pipeline over files, and reading reference files for ``reference build``.

``flag``: input parts (:func:`engine.io.inputs.plan_parts`) are flagged one task per part
(scheduled by :mod:`engine.run.dask_runner`): each task opens the reference index (memory-
mapped, once per worker process), reads its part in batches, matches every batch
(:meth:`engine.provenance.reference.ReferenceIndex.match`) and writes
``_work/flags/part-NNNNN.parquet`` atomically, with the parameters, the index
fingerprint and the part in the file's metadata; a rerun with the same ``--out``
reuses finished parts. The driver concatenates the parts in input order into
``flags.parquet`` (one row per document read, every document exactly once) and writes
``summary.json``. Documents that could not be read are counted in
``summary.json["read"]``, not listed in ``flags.parquet``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.io.inputs import (
    InputPart,
    ReadReport,
    iter_jsonl_lines,
    parse_size,
    plan_parts,
    read_part,
)
from engine.provenance.matching import FLAGS_SCHEMA, LABELS, ProvenanceParams
from engine.provenance.reference import IndexParams, ReferenceIndex
from engine.run.atomic import write_json_atomic, write_parquet_atomic
from engine.run.dask_runner import Runner, session
from engine.run.output import output_folder
from engine.run.progress import Progress, prefetch
from engine.run.summary import versions
from kernels.backend import resolve_backend

log = logging.getLogger("ouroboros")

META_KEY = b"ouroboros"
OPTIONAL_REFERENCE_COLUMNS = ("dataset", "date", "prompt", "conversation")

_INDEX_CACHE: dict[tuple[str, float], ReferenceIndex] = {}
_INDEX_LOCK = threading.Lock()


@dataclass
class FlagResult:
    """What :func:`flag` returns.

    Attributes:
        flags: pyarrow Table with the ``flags.parquet`` schema, input order (read from
            ``out`` on first use when an output folder was given: the run itself
            streams it part by part, so its memory does not grow with the corpus).
        summary: the ``summary.json`` content.
        out: the output folder, or None when ``out`` was not given.
    """

    summary: dict
    out: Path | None
    _flags: pa.Table | None = field(default=None, repr=False)

    @property
    def flags(self) -> pa.Table:
        if self._flags is None and self.out is not None:
            self._flags = pq.read_table(self.out / "flags.parquet")
        return self._flags


@dataclass(frozen=True)
class FlagReadOptions:
    text_column: str = "text"
    id_column: str | None = None
    strict: bool = False
    batch_bytes: int = 16 * 2**20


def open_index(refdir: str) -> ReferenceIndex:
    """The index at ``refdir``, loaded once per process (reloaded when it changes)."""
    info = Path(refdir) / "index.json"
    try:
        stamp = info.stat().st_mtime
    except FileNotFoundError:
        return ReferenceIndex.load(refdir)  # raises with the fix
    key = (str(Path(refdir).resolve()), stamp)
    with _INDEX_LOCK:
        index = _INDEX_CACHE.get(key)
        if index is None:
            _INDEX_CACHE.clear()
            index = ReferenceIndex.load(refdir)
            index._global()  # build shared lookup tables once
            _INDEX_CACHE[key] = index
        return index


def _part_file(work: Path, part: InputPart) -> Path:
    return work / "flags" / f"part-{part.index:05d}.parquet"


def _fingerprint(params: ProvenanceParams, read: FlagReadOptions, index_fp: str) -> str:
    import hashlib

    payload = {
        "params": params.to_dict(),
        "text_column": read.text_column,
        "id_column": read.id_column,
        "strict": read.strict,
        "index": index_fp,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _reusable(path: Path, fingerprint: str, part: InputPart) -> dict | None:
    if not path.exists():
        return None
    try:
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    except (OSError, pa.ArrowInvalid):
        return None
    meta = json.loads(raw) if raw else None
    if not meta or meta.get("fingerprint") != fingerprint or meta.get("part") != repr(part):
        return None
    return meta["result"]


def flag_task(
    part: InputPart,
    refdir: str,
    params: ProvenanceParams,
    read: FlagReadOptions,
    backend: str,
    work: str,
) -> dict:
    """Flag one input part; returns counts, seconds and the read report."""
    index = open_index(refdir)
    path = _part_file(Path(work), part)
    fingerprint = _fingerprint(params, read, index.fingerprint())
    reused = _reusable(path, fingerprint, part)
    if reused is not None:
        return {"reused": True, **reused}
    started = time.perf_counter()
    report = ReadReport()
    tables: list[pa.Table] = []
    n_bytes = 0
    batches = read_part(
        part,
        text_column=read.text_column,
        id_column=read.id_column,
        batch_bytes=read.batch_bytes,
        strict=read.strict,
        report=report,
    )
    for batch in prefetch(batches):
        texts = batch.column("text").combine_chunks()
        n_bytes += int(pc.sum(pc.binary_length(texts)).as_py() or 0)
        tables.append(index.match(texts, batch.column("doc_id"), params=params, backend=backend))
    flags = pa.concat_tables(tables) if tables else FLAGS_SCHEMA.empty_table()
    labels = flags.column("label").to_pylist()
    result = {
        "documents": flags.num_rows,
        "bytes": n_bytes,
        "labels": {label: labels.count(label) for label in LABELS},
        "seconds": round(time.perf_counter() - started, 4),
        "report": report.to_dict(),
    }
    meta = {"fingerprint": fingerprint, "part": repr(part), "result": result}
    write_parquet_atomic(path, flags.replace_schema_metadata({META_KEY: json.dumps(meta).encode()}))
    return {"reused": False, **result}


def flag(
    inputs,
    out=None,
    *,
    reference: str | os.PathLike,
    text_column: str = "text",
    id_column: str | None = None,
    backend: str = "auto",
    scheduler: str = "local",
    workers: int | None = None,
    partition_size: str | int = "256MB",
    batch_size: str | int = "16MB",
    strict: bool = False,
    progress: bool = True,
    runner: Runner | None = None,
    **params,
) -> FlagResult:
    """Flag documents of files that descend from the references in ``reference``.

    Args:
        inputs: a path or list of paths (as for :func:`engine.neardup.pipeline.dedup`).
        out: output folder for flags.parquet, summary.json and work files; None keeps
            the result in memory.
        reference: folder written by ``ouroboros reference build``.
        batch_size: text bytes matched together (memory: about 40 bytes per byte of
            candidate documents and references).
        runner: an open :class:`engine.run.dask_runner.Runner` to run on (``dedup
            --reference`` passes its own); without one a session is started.
        **params: :class:`engine.provenance.matching.ProvenanceParams` fields.
        Other arguments: as for :func:`engine.neardup.pipeline.dedup`.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    provenance_params = ProvenanceParams(**params)
    resolved = resolve_backend(backend)
    read = FlagReadOptions(
        text_column=text_column,
        id_column=id_column,
        strict=strict,
        batch_bytes=parse_size(batch_size),
    )
    refdir = str(reference)
    index = open_index(refdir)
    with output_folder(out) as out_dir:
        work = out_dir / "_work"
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        plan_report = ReadReport()
        parts = plan_parts([str(p) for p in inputs], parse_size(partition_size), plan_report)
        timings["plan"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        tasks = [(part, refdir, provenance_params, read, resolved, str(work)) for part in parts]
        with Progress(len(parts), "flag", enabled=progress) as bar:
            if runner is not None:
                results = runner.run(flag_task, tasks, progress=bar)
            else:
                with session(scheduler, workers) as own_runner:
                    results = own_runner.run(flag_task, tasks, progress=bar)
        timings["flag"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        flags = None
        if out is not None:
            _write_flags(out_dir / "flags.parquet", [_part_file(work, part) for part in parts])
        else:
            tables = [
                pq.read_table(_part_file(work, part)).replace_schema_metadata(None)
                for part in parts
            ]
            flags = pa.concat_tables(tables) if tables else FLAGS_SCHEMA.empty_table()
            flags = flags.cast(FLAGS_SCHEMA)
        n_documents = int(sum(sum(r["labels"].values()) for r in results))
        timings["write"] = time.perf_counter() - t0

        report = plan_report
        for result in results:
            report = report.merge(ReadReport.from_dict(result["report"]))
        labels = {label: sum(r["labels"][label] for r in results) for label in LABELS}
        n_bytes = sum(r["bytes"] for r in results)
        seconds = timings["flag"]
        summary = {
            "command": "flag",
            "inputs": [str(p) for p in inputs],
            "reference": {
                "path": refdir,
                "n_refs": index.n_refs,
                "fingerprint": index.fingerprint(),
                "params": index.params.to_dict(),
            },
            "parameters": {
                **provenance_params.to_dict(),
                "text_column": text_column,
                "id_column": id_column,
                "strict": strict,
                "partition_size": parse_size(partition_size),
                "batch_size": read.batch_bytes,
            },
            "backend": resolved,
            "scheduler": scheduler,
            "counts": {
                "partitions": len(parts),
                "partitions_reused": sum(1 for r in results if r.get("reused")),
                "documents": n_documents,
                "bytes": n_bytes,
                "flagged": n_documents - labels["none"],
                "labels": labels,
            },
            "read": report.to_dict(),
            "timings_s": {k: round(v, 4) for k, v in timings.items()},
            "throughput_mb_s": round(n_bytes / 1e6 / seconds, 3) if seconds > 0 else None,
            "versions": versions(),
        }
        if out is not None:
            write_json_atomic(out_dir / "summary.json", summary)
        log.info(
            "%d documents, %d flagged (%s)",
            n_documents,
            summary["counts"]["flagged"],
            ", ".join(f"{k}={v}" for k, v in labels.items()),
        )
        return FlagResult(summary, None if out is None else out_dir, flags)


def _write_flags(path: Path, part_files: list[Path]) -> None:
    """Concatenate the part files into ``path`` (atomically), one part at a time."""
    tmp = path.with_name(f".tmp-{path.name}")
    writer = pq.ParquetWriter(tmp, FLAGS_SCHEMA, compression="zstd")
    try:
        for part_file in part_files:
            table = pq.read_table(part_file).replace_schema_metadata(None)
            writer.write_table(table.cast(FLAGS_SCHEMA))
    finally:
        writer.close()
    tmp.replace(path)


# ---------------------------------------------------------------------------
# Reference files -> ReferenceIndex
# ---------------------------------------------------------------------------


def _present_columns(part: InputPart) -> list[str] | None:
    """Column names of a JSONL (first object) or Parquet part; None when unknown."""
    try:
        if part.fmt == "parquet":
            return list(pq.read_schema(part.path).names)
        if part.fmt == "jsonl":
            for _, raw in iter_jsonl_lines(part):
                if raw.strip():
                    obj = json.loads(raw)
                    return list(obj) if isinstance(obj, dict) else None
    except (OSError, ValueError, pa.ArrowInvalid):
        return None
    return None


def read_reference_files(
    inputs,
    *,
    text_column: str = "text",
    id_column: str | None = "id",
    model_column: str | None = None,
    partition_size: str | int = "256MB",
    strict: bool = False,
) -> tuple[dict, ReadReport]:
    """Read reference files into columns for :meth:`ReferenceIndex.build` / ``add``.

    ``model_column`` (and ``dataset``/``date`` when present) are read as metadata; a
    ``model_column`` that is given but absent is an error naming the columns present.
    Without ``model_column``, a column named ``model`` is used when present.

    Returns:
        ``({"texts", "ids", "models", "datasets", "dates", "prompts", "conversations"},
        read report)`` (optional columns ``prompt``: the text each output replied to;
        ``conversation``: its chat session).
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    report = ReadReport()
    parts = plan_parts([str(p) for p in inputs], parse_size(partition_size), report)
    names = ("texts", "ids", "models", "datasets", "dates", "prompts", "conversations")
    columns: dict[str, list] = {k: [] for k in names}
    for part in parts:
        present = _present_columns(part) or []
        wanted: dict[str, str] = {}
        if model_column is not None:
            wanted["models"] = model_column
        elif "model" in present:
            wanted["models"] = "model"
        for name in OPTIONAL_REFERENCE_COLUMNS:
            if name in present and name not in (text_column, id_column):
                wanted[name + "s"] = name
        extra = [c for c in dict.fromkeys(wanted.values()) if c not in ("doc_id", "text", "row")]
        for table in read_part(
            part,
            text_column=text_column,
            id_column=id_column,
            columns=extra,
            strict=strict,
            report=report,
        ):
            columns["texts"].extend(table.column("text").to_pylist())
            columns["ids"].extend(table.column("doc_id").to_pylist())
            for key in ("models", "datasets", "dates", "prompts", "conversations"):
                name = wanted.get(key)
                if name is not None and name in table.column_names:
                    columns[key].extend(table.column(name).to_pylist())
                else:
                    columns[key].extend([None] * table.num_rows)
    return columns, report


def read_human_files(
    inputs, *, text_column: str = "text", partition_size: str | int = "256MB", strict=False
) -> tuple[list[str], ReadReport]:
    """Texts of known human-written files (any input format), with the read report."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    report = ReadReport()
    texts: list[str] = []
    for part in plan_parts([str(p) for p in inputs], parse_size(partition_size), report):
        for table in read_part(
            part, text_column=text_column, id_column=None, strict=strict, report=report
        ):
            texts.extend(table.column("text").to_pylist())
    return texts, report


def add_human_text(
    refdir,
    inputs,
    *,
    text_column: str = "text",
    partition_size: str | int = "256MB",
    strict: bool = False,
) -> dict:
    """``reference add-human``: add known human-written text to the index in ``refdir``.

    Returns (and writes to ``refdir/summary.json``) the counts and read report.
    """
    started = time.perf_counter()
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    index = ReferenceIndex.load(refdir)
    texts, report = read_human_files(
        inputs, text_column=text_column, partition_size=partition_size, strict=strict
    )
    if not texts:
        raise ValueError(
            f"no text could be read from {list(map(str, inputs))} "
            f"(skipped: {report.skipped}); check the files and --text-column"
        )
    call = index.add_human(texts)
    index.save(refdir)
    size = sum(f.stat().st_size for f in Path(refdir).rglob("*") if f.is_file())
    summary = {
        "command": "reference add-human",
        "inputs": [str(p) for p in inputs],
        "parameters": {"text_column": text_column, "index": index.params.to_dict()},
        "counts": {**call, "n_refs": index.n_refs, "index_bytes": size},
        "read": report.to_dict(),
        "timings_s": {"total": round(time.perf_counter() - started, 4)},
        "versions": versions(),
    }
    write_json_atomic(Path(refdir) / "summary.json", summary)
    return summary


def build_reference(
    inputs,
    out,
    *,
    text_column: str = "text",
    id_column: str | None = "id",
    model_column: str | None = None,
    partition_size: str | int = "256MB",
    strict: bool = False,
    backend: str = "auto",
    add: bool = False,
    human=None,
    **index_params,
) -> tuple[ReferenceIndex, dict]:
    """``reference build`` (``add=False``) or ``reference add`` (``add=True``) over files.

    ``human``: optional paths of known human-written text (JSONL/Parquet/text files,
    ``text_column``), added with :meth:`ReferenceIndex.add_human`.

    Writes the index to ``out`` and ``out/summary.json`` (the last operation's
    parameters, counts incl. duplicate ids and empty texts, read report, timings).
    """
    started = time.perf_counter()
    columns, report = read_reference_files(
        inputs,
        text_column=text_column,
        id_column=id_column,
        model_column=model_column,
        partition_size=partition_size,
        strict=strict,
    )
    read_s = time.perf_counter() - started
    t0 = time.perf_counter()
    metadata = {
        "models": columns["models"],
        "datasets": columns["datasets"],
        "dates": columns["dates"],
        "prompts": columns["prompts"] if any(columns["prompts"]) else None,
        "conversations": columns["conversations"],
    }
    if add:
        if index_params:
            raise ValueError(
                "index parameters are fixed when the index is built; `reference add` "
                f"takes none (got {sorted(index_params)})"
            )
        index = ReferenceIndex.load(out)
        call = index.add(columns["texts"], columns["ids"], **metadata, backend=backend)
    else:
        if (Path(out) / "index.json").exists():
            raise ValueError(
                f"{out} already holds a reference index; use `ouroboros reference add "
                f"{out} INPUT...` to extend it, or choose another --out"
            )
        index = ReferenceIndex.build(
            columns["texts"],
            columns["ids"],
            **metadata,
            params=IndexParams(**index_params),
            backend=backend,
        )
        call = index.last_report
    human_call = {}
    if human:
        human_texts, human_report = read_human_files(
            human, text_column=text_column, partition_size=partition_size, strict=strict
        )
        human_call = index.add_human(human_texts)
        human_call["human_skipped"] = human_report.to_dict().get("skipped", {})
    index_s = time.perf_counter() - t0
    if index.n_refs == 0:
        raise ValueError(
            f"no reference documents could be read from {list(map(str, inputs))} "
            f"(skipped: {report.skipped}); check the files and --text-column"
        )
    t0 = time.perf_counter()
    index.save(out)
    size = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
    summary = {
        "command": "reference add" if add else "reference build",
        "inputs": [str(p) for p in inputs],
        "parameters": {
            "text_column": text_column,
            "id_column": id_column,
            "model_column": model_column,
            "index": index.params.to_dict(),
        },
        "counts": {
            "documents_read": len(columns["texts"]),
            "with_conversation": sum(1 for c in columns["conversations"] if c),
            "with_prompt": sum(1 for c in columns["prompts"] if c),
            **call,
            **human_call,
            "n_refs": index.n_refs,
            "index_bytes": size,
        },
        "read": report.to_dict(),
        "timings_s": {
            "read": round(read_s, 4),
            "index": round(index_s, 4),
            "write": round(time.perf_counter() - t0, 4),
        },
        "versions": versions(),
    }
    write_json_atomic(Path(out) / "summary.json", summary)
    if not add and not any(columns["conversations"]):
        log.warning(
            "the references have no 'conversation' column: outputs of one chat session "
            "then count as independent, and text they repeat to each other is treated "
            "as shared phrasing (not evidence); give multi-turn chat logs a conversation "
            "column (and a prompt column) for full recall, or build with "
            "--family-min-shared 8"
        )
    if call.get("duplicate_ids"):
        log.warning(
            "%d reference ids occur more than once; the first of each was kept",
            call["duplicate_ids"],
        )
    return index, summary
