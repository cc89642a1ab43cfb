"""The near-duplicate pipeline over files, in resumable stages (``ouroboros dedup``).

1. ``signatures`` (a task per input part, :mod:`engine.neardup.signatures`): read in
   batches, MinHash, write ``_work/signatures/part-NNNNN.arrow``.
2. ``shuffle`` (a task per part, :mod:`engine.neardup.shuffle`): band keys, records
   split by key range into ``_work/shuffle-<fp>/map-NNNNN/range-RRRRR.arrow``.
3. ``edges`` (a task per key range): buckets, verified star edges, written to
   ``_work/edges-<fp>/range-RRRRR.npy``.
4. ``components`` (:mod:`engine.neardup.components`): ``cluster_id`` is the smallest
   input position of each component. Up to ``MAX_DRIVER_DOCS`` documents (or with
   ``components="driver"``): union-find in the driver with edges streamed range by
   range (8 bytes per document: 10 GB of driver memory covers about 1.2 billion
   documents). Beyond that (or ``components="distributed"``): large-star/small-star
   rounds of tasks over edge files, in ``_work/components-<fp>/``.
5. ``write`` (:mod:`engine.neardup.keep`, :mod:`engine.neardup.result`): keep flags,
   ``clusters.parquet`` streamed part by part, ``summary.json``; with a reference
   also ``flags.parquet`` and ``cluster_flags.parquet`` (:mod:`engine.neardup.flagging`);
   optionally ``deduped/`` with the kept documents in the input's own format, and
   ``edges.parquet`` (``write_edges``: every verified pair and rejected candidate pair
   with its estimated Jaccard, :mod:`engine.neardup.edges`). ``clusters.parquet`` holds
   each member's estimated Jaccard to its kept document (``similarity``,
   :mod:`engine.neardup.similarity`).

Resume: every task output is written atomically with the fingerprint of the
parameters it depends on (:mod:`engine.run.reuse`). Rerunning the same command with
the same ``--out`` reuses what matches and recomputes the rest: a new ``threshold``
redoes stages 3-5 (and 2 when bands/rows are derived from it), a new ``keep`` only
stage 5, a new ``ngram`` everything. An output folder made by another command or for
other inputs is refused, and so is one another run is using now
(:func:`engine.run.output.claim_output`). A run that reads no document is an error.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.io import InputPart, ReadOptions, ReadReport, accepts_in_memory, input_paths
from engine.io.options import DEFAULT_MAX_SKIPPED, parse_share
from engine.io.report import check_skipped
from engine.io.run_plan import plan_run
from engine.io.write_kept import write_kept
from engine.neardup.components import (
    components_partitions,
    distributed_components,
    driver_components,
    read_labels,
)
from engine.neardup.edges import write_edges_table
from engine.neardup.keep import choose_kept, dates_task, load_dates
from engine.neardup.params import DedupParams
from engine.neardup.result import DedupResult, write_clusters
from engine.neardup.shuffle import (
    choose_n_ranges,
    edges_file,
    shuffle_map_task,
    shuffle_reduce_task,
)
from engine.neardup.signatures import (
    read_signatures,
    signature_column,
    signature_file,
    signature_fingerprint,
    signature_task,
)
from engine.neardup.summary import dedup_summary, log_summary
from engine.run.atomic import write_json_atomic
from engine.run.dask_runner import session
from engine.run.output import claim_output, output_folder, remove_stale, require_documents
from engine.run.reuse import fingerprint
from engine.run.work import finish_work
from kernels.backend import resolve_backend

MAX_DRIVER_DOCS = 500_000_000  # components="auto": union-find in the driver up to this
COMPONENTS = ("auto", "driver", "distributed")


@accepts_in_memory()
def dedup(
    inputs,
    out=None,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    backend: str = "auto",
    scheduler: str = "auto",
    workers: int | None = None,
    partition_size: str | int = "auto",
    write_deduped: bool = False,
    write_edges: bool = False,
    strict: bool = False,
    max_skipped: float | str = DEFAULT_MAX_SKIPPED,
    clean_work: bool = False,
    storage_options: dict | None = None,
    progress: bool = True,
    reference: str | os.PathLike | None = None,
    components: str = "auto",
    date_column: str | None = None,
    html_text: str = "main",
    **params,
) -> DedupResult:
    """Find near-duplicate clusters in files.

    Args:
        inputs: a path or list of paths (JSONL[.gz|.zst], Parquet, WARC/WET, text
            files or folders), or an in-memory input: a pyarrow Table/RecordBatch/
            RecordBatchReader, a pandas DataFrame/Series, a Hugging Face Dataset/
            IterableDataset, a mapping of columns or an iterator of str
            (:mod:`engine.io.in_memory`; the result then aligns with its rows:
            ``result.keep``, ``result.cluster_id``, ``result.filter(obj)``).
        out: output folder for clusters.parquet, summary.json and work files; None
            keeps the result in memory (a temporary work folder is removed).
        text_column, id_column: columns to read; without id_column doc_id is
            ``<path>:<row>`` (for an in-memory input: the row number).
        backend: "auto", "cpu" or "cuda".
        scheduler: "auto" (threads in this process; from the ``ouroboros`` command a
            local cluster for large inputs: :mod:`engine.run.scheduling`), "threads",
            "local" (a Dask LocalCluster of worker processes: call it under an
            ``if __name__ == "__main__":`` guard), "local-cuda", or a Dask scheduler
            address or scheduler-file path (see :mod:`engine.run.dask_runner`).
            workers: worker processes or threads (default: the CPUs available).
        partition_size: bytes per input partition ("256MB"), or "auto" (every worker
            gets at least two parts, 16-256 MiB each); also the size of one shuffle
            range. The choices and their reasons are in ``summary["choices"]``.
            write_deduped: also write the kept documents under ``out/deduped/``.
        write_edges: also write ``out/edges.parquet``, every verified pair and
            rejected candidate pair with its estimated Jaccard
            (:mod:`engine.neardup.edges`).
        strict: malformed records raise instead of being counted and skipped.
        html_text: how WARC HTML pages become text: "main" (main content, navigation
            and other boilerplate removed) or "full" (all visible text); see
            :mod:`engine.io.html`. Other formats ignore it.
        clean_work: remove ``out/_work`` after success (:mod:`engine.run.work`; a
            rerun then starts from the inputs).
        storage_options: fsspec options for ``s3://``, ``gs://``, ``hf://``,
            ``https://`` inputs and ``out`` (flat, or per protocol ``{"s3": {...}}``);
            None: ``$OUROBOROS_STORAGE_OPTIONS``, then the file system's own
            environment (``AWS_*``, ...). See :mod:`engine.run.storage`.
        max_skipped: the run fails when more than this share (0-1, or "10%") of its
            records are skipped as damaged (:func:`engine.io.report.check_skipped`).
        reference: a reference index folder (``ouroboros reference build``): also
            flag every document (``flags.parquet``), roll flags up per cluster
            (``cluster_flags.parquet``) and keep an unflagged member of each cluster
            where one exists.
        components: "driver" (union-find in this process, 8 bytes per document),
            "distributed" (large-star/small-star rounds of tasks over edge files,
            :mod:`engine.neardup.components`) or "auto" (driver up to
            ``MAX_DRIVER_DOCS`` documents). Both give the same clusters.
        date_column: with ``keep="earliest"``, the column holding each document's
            date (ISO 8601, epoch seconds, or a Parquet timestamp/date: see
            :mod:`engine.io.dates`); default ``date``, ``warc_date`` for WARC input.
            Documents without a readable date are counted (``undated_documents``) and
            kept only when no member of their cluster has a date.
        **params: DedupParams fields (shingle, ngram, num_perm, threshold, bands,
            rows, seed, keep, max_anchors).

    Example:
        >>> result = engine.dedup(["crawl.jsonl.gz"], out="out/")  # doctest: +SKIP
        >>> result.clusters.filter(~result.clusters["keep"]).num_rows  # doctest: +SKIP
    """
    inputs = input_paths(inputs)
    dedup_params = DedupParams(**params)
    resolved = resolve_backend(backend)
    if components not in COMPONENTS:
        raise ValueError(f"components must be one of {COMPONENTS}, got {components!r}")
    if write_deduped and out is None:
        raise ValueError("write_deduped needs an output folder: pass out=...")
    if write_edges and out is None:
        raise ValueError("write_edges needs an output folder: pass out=...")
    read = ReadOptions(
        text_column=text_column,
        id_column=id_column,
        strict=strict,
        max_skipped=parse_share(max_skipped),
        html_text=html_text,
    )
    # inputs are planned before the output folder is created or claimed: a run that
    # fails here (a missing input) leaves no folder behind
    plan = plan_run(inputs, partition_size, scheduler, workers, storage_options)
    with output_folder(out, storage_options) as out_dir, claim_output(out_dir, "dedup", inputs):
        job = DedupJob(
            inputs=inputs,
            parts=plan.parts,
            plan_report=plan.report,
            out_dir=out_dir,
            in_memory=out is None,
            params=dedup_params,
            backend=resolved,
            read=read,
            partition_size=plan.partition_size,
            write_deduped=write_deduped,
            write_edges=write_edges,
            progress=progress,
            reference=None if reference is None else str(reference),
            components=components,
            date_column=date_column,
        )
        job.timings["plan"] = plan.seconds
        job.choices = plan.choices
        job.clean_work = clean_work
        with session(plan.scheduler, plan.workers, out=None if out is None else out_dir) as runner:
            return run_stages(job, runner)


@dataclass
class DedupJob:
    """Everything the stages of one dedup run share, and what each stage produced."""

    inputs: list[str]
    parts: list[InputPart]
    plan_report: ReadReport
    out_dir: Path
    in_memory: bool
    params: DedupParams
    backend: str
    read: ReadOptions
    partition_size: int
    write_deduped: bool
    progress: bool
    reference: str | None = None
    components: str = "auto"
    date_column: str | None = None
    write_edges: bool = False
    clean_work: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    choices: dict = field(default_factory=dict)
    results: dict[str, list[dict]] = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.out_dir / "_work"

    def run(self, runner, name: str, func, args_list: list[tuple]) -> list[dict]:
        """Run one stage's tasks; keep their results under ``name``."""
        results = runner.stage(name, func, args_list, show=self.progress, timings=self.timings)
        self.results[name] = results
        return results


def run_stages(job: DedupJob, runner) -> DedupResult:
    """The five stages, in order (see the module docstring)."""
    doc_offsets = signatures_stage(job, runner)
    n_docs = int(doc_offsets[-1])
    reports = [job.plan_report.to_dict(), *(r["report"] for r in job.results["signatures"])]
    require_documents(n_docs, job.inputs, reports)
    check_skipped(n_docs, reports, job.read.max_skipped)
    shuffle_dir, n_ranges = shuffle_stage(job, runner, doc_offsets)
    edges_dir = edges_stage(job, runner, shuffle_dir, n_ranges)
    labels, components_dir = components_stage(job, runner, edges_dir, n_ranges, n_docs)
    cluster_size = np.bincount(labels, minlength=n_docs).astype(np.int64)[labels]
    keep = keep_stage(job, runner, labels)
    provenance = None
    if job.reference is not None:
        keep, provenance = flag_stage(job, runner, labels, cluster_size, keep)
    started = time.perf_counter()
    out_dir = None if job.in_memory else job.out_dir
    clusters = write_clusters(out_dir, job.work, job.parts, labels, cluster_size, keep)
    deduped_files = write_deduped_stage(job, runner, keep, doc_offsets)
    write_edges_stage(job, edges_dir, n_ranges)
    job.timings["write"] = job.timings.get("write", 0.0) + time.perf_counter() - started
    remove_stale(job.work, {shuffle_dir.name, edges_dir.name, components_dir.name, "signatures"})

    summary = dedup_summary(job, runner.scheduler, labels, cluster_size, keep, deduped_files)
    if provenance is not None:
        summary["provenance"] = provenance["counts"]
    if not job.in_memory:
        summary["work"] = finish_work(job.out_dir, job.clean_work)
        write_json_atomic(job.out_dir / "summary.json", summary)
    log_summary(summary)
    result = DedupResult(summary, out_dir, clusters)
    if provenance is not None:
        result._flags = provenance["flags"]
        result._cluster_flags = provenance["cluster_flags"]
    return result


def signatures_stage(job: DedupJob, runner) -> np.ndarray:
    """Stage 1; returns int64 (n_parts + 1,): each part's first global document index."""
    results = job.run(
        runner,
        "signatures",
        signature_task,
        [(part, job.params, job.backend, job.read, str(job.work)) for part in job.parts],
    )
    counts = np.array([r["documents"] for r in results], dtype=np.int64)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def shuffle_stage(job: DedupJob, runner, doc_offsets: np.ndarray) -> tuple[Path, int]:
    """Stage 2; returns the shuffle folder and the number of key ranges."""
    bands, rows = job.params.band_rows
    n_ranges = choose_n_ranges(int(doc_offsets[-1]), job.params, job.partition_size)
    sig_fp = signature_fingerprint(job.params, job.read)
    map_fp = fingerprint(sig_fp, bands, rows, n_ranges, [repr(p) for p in job.parts])
    shuffle_dir = job.work / f"shuffle-{map_fp}"
    job.run(
        runner,
        "shuffle",
        shuffle_map_task,
        [
            (
                str(signature_file(job.work, part)),
                part.index,
                int(doc_offsets[i]),
                job.params,
                n_ranges,
                job.backend,
                str(shuffle_dir),
                map_fp,
            )
            for i, part in enumerate(job.parts)
        ],
    )
    return shuffle_dir, n_ranges


def edges_stage(job: DedupJob, runner, shuffle_dir: Path, n_ranges: int) -> Path:
    """Stage 3: verified edges of every key range; returns their folder."""
    map_fp = shuffle_dir.name.removeprefix("shuffle-")
    edge_fp = fingerprint(map_fp, float(job.params.threshold), job.params.max_anchors)
    edges_dir = job.work / f"edges-{edge_fp}"
    part_indices = [part.index for part in job.parts]
    job.run(
        runner,
        "edges",
        shuffle_reduce_task,
        [
            (r, part_indices, job.params, job.backend, str(shuffle_dir), str(edges_dir))
            for r in range(n_ranges)
        ],
    )
    return edges_dir


def components_stage(
    job: DedupJob, runner, edges_dir: Path, n_ranges: int, n_docs: int
) -> tuple[np.ndarray, Path]:
    """Stage 4: int64 (n_docs,) cluster ids, in the driver or in rounds of tasks."""
    started = time.perf_counter()
    edge_files = [edges_file(edges_dir, r) for r in range(n_ranges)]
    components_dir = job.work / f"components-{edges_dir.name.removeprefix('edges-')}"
    distributed = job.components == "distributed" or (
        job.components == "auto" and n_docs > MAX_DRIVER_DOCS
    )
    if distributed:
        n_edges = sum(r["edges"] for r in job.results["edges"])
        n_partitions = components_partitions(n_docs, n_edges, job.partition_size, runner.workers)
        labels_dir = distributed_components(
            edge_files,
            n_docs,
            work=components_dir,
            runner=runner,
            n_partitions=n_partitions,
            progress=job.progress,
        )
        labels = read_labels(labels_dir, n_docs)
    else:
        labels = driver_components(edge_files, n_docs)
    job.timings["components"] = time.perf_counter() - started
    return labels, components_dir


def keep_stage(job: DedupJob, runner, labels: np.ndarray) -> np.ndarray:
    """Stage 5a: bool (n,), the kept member of each cluster under ``params.keep``."""
    started = time.perf_counter()
    n_bytes = signature_column(job.work, job.parts, "n_bytes")
    dates = None
    if job.params.keep == "earliest":
        results = job.run(
            runner, "dates", dates_task, [(p, job.read, job.date_column) for p in job.parts]
        )
        dates, job.counts["undated_documents"] = load_dates(job.parts, results, job.work)
    keep = choose_kept(labels, n_bytes, job.params.keep, dates)
    job.timings["write"] = job.timings.get("write", 0.0) + time.perf_counter() - started
    return keep


def flag_stage(job: DedupJob, runner, labels, cluster_size, keep) -> tuple[np.ndarray, dict]:
    """Stage 5b (with a reference): flags, their roll-up, keep moved to unflagged."""
    from engine.neardup.flagging import flag_clusters

    started = time.perf_counter()
    new_keep, provenance = flag_clusters(
        inputs=job.inputs,
        parts=job.parts,
        work=job.work,
        out_dir=None if job.in_memory else job.out_dir,
        reference=job.reference,
        read=job.read,
        backend=job.backend,
        partition_size=job.partition_size,
        progress=job.progress,
        runner=runner,
        labels=labels,
        cluster_size=cluster_size,
        keep=keep,
    )
    job.timings["provenance"] = time.perf_counter() - started
    return new_keep, provenance


def write_deduped_stage(job: DedupJob, runner, keep, doc_offsets) -> list[str]:
    """Stage 5c (``write_deduped``): the kept documents in each input's own format."""
    if not job.write_deduped:
        return []
    args = []
    for i, part in enumerate(job.parts):
        rows = read_signatures(job.work, part).column("row").to_numpy()
        part_keep = keep[doc_offsets[i] : doc_offsets[i + 1]]
        args.append((part, np.sort(rows[part_keep]).astype(np.int64), str(job.out_dir)))
    written = runner.stage("write-deduped", _write_kept_task, args, show=job.progress)
    return [w for w in written if w is not None]


def write_edges_stage(job: DedupJob, edges_dir: Path, n_ranges: int) -> None:
    """Stage 5d (``write_edges``): ``edges.parquet``, every verified pair and every
    rejected candidate pair with its similarity; without it, an ``edges.parquet`` left
    by an earlier run is removed (it would describe other clusters)."""
    if job.in_memory:
        return
    path = job.out_dir / "edges.parquet"
    if not job.write_edges:
        path.unlink(missing_ok=True)
        return
    written = write_edges_table(path, edges_dir, n_ranges, job.work, job.parts)
    job.counts["edges_written"], job.counts["rejected_pairs_written"] = written
    # bucket members past the per-bucket cap, whose pair with the first was not checked
    job.counts["rejected_pairs_capped"] = sum(r["rejected_capped"] for r in job.results["edges"])


def _write_kept_task(part: InputPart, kept_rows: np.ndarray, out: str) -> str | None:
    path = write_kept(part, kept_rows, out)
    return None if path is None else str(path)
