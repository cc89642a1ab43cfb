"""Distributed connected components on disk: alternating large-star / small-star.

The algorithm of Kiveris et al. 2014 ("Connected Components in MapReduce and
Beyond"), run as rounds of Dask tasks (:mod:`engine.run.dask_runner`) over files, so that no
task holds more than one partition's edges and the driver holds only counts.

Nodes are ``0..n_nodes-1``, split into ``n_partitions`` contiguous node ranges
(partition ``p`` owns ``[p * n // P, (p + 1) * n // P)``). An undirected edge is kept
as records ``(key, other)`` int64, stored with the partition of ``key``:

- ``prepare`` (a task per input edge file): drop self loops, write both directions.
- ``large-star`` (a task per partition; input: both directions, so each node sees all
  its neighbours): for each node ``u`` with ``m = min(u, N(u))``, emit ``(v, m)`` for
  every neighbour ``v > u``, keyed by ``v``.
- ``small-star`` (input: each edge once, keyed by its larger end): for each node ``u``
  with smaller neighbours ``S`` and ``m = min(S)``, emit ``(u, m)`` and ``(v, m)`` for
  ``v`` in ``S - {m}``, both directions.

Neither step increases the number of edges, and alternating them reaches a forest
of stars, each centred on its component's minimum node, in O(log^2 n) rounds
(Kiveris et al., Theorem 3; in practice a few rounds per doubling of the longest
path). Every large-star task also checks whether its nodes are already star-shaped
(a node has at most one smaller neighbour, and none if it has a larger one); when
every partition is, the graph is a star forest and a last pass writes the labels.
Duplicate records are removed where they meet (the task of their key), so the
check and the counts see each edge once.

Files (under ``work``): ``round-RRR/out-SSSSS.npy`` (records int64 (R, 2), sorted by
destination partition) with ``out-SSSSS.offsets.npy`` (int64 (P + 1,), written last:
the file pair is complete when it exists); ``labels/range-PPPPP.npy`` (int64, the
dense labels of partition ``p``'s node range) and ``labels/_DONE.json`` (node count,
bounds and input list; a rerun with the same inputs reuses the labels). Rounds older
than the one being read are deleted as the loop goes.

Memory per task: one partition's records (16 bytes each; about ``4 * E / P`` records
in a large-star round, ``2 * E / P`` otherwise, plus the sort's temporaries) and, in
the labels pass, 8 bytes per node of its range. Partitions are node ranges, so a node
of high degree (the centre of a large component, in the last rounds) brings all its
edges to one task: a component of ``c`` nodes costs about ``16 * c`` bytes in the task
of its minimum node.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import numpy as np

from engine.run.atomic import read_json, write_json_atomic, write_npy_atomic
from engine.run.memory import peak_rss_mib
from kernels.union_find import finish_labels_cpu, union_edges_cpu

PREPARE, LARGE_STAR, SMALL_STAR = "prepare", "large-star", "small-star"


def partition_bounds(n_nodes: int, n_partitions: int) -> np.ndarray:
    """int64 (P + 1,): partition ``p`` owns nodes ``[bounds[p], bounds[p + 1])``."""
    p = np.arange(n_partitions + 1, dtype=np.int64)
    return (p * np.int64(n_nodes)) // np.int64(n_partitions)


def _partition_of(nodes: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return np.searchsorted(bounds, nodes, side="right").astype(np.int64) - 1


def _out_files(round_dir: Path, source: int) -> tuple[Path, Path]:
    base = round_dir / f"out-{source:05d}"
    return base.with_suffix(".npy"), base.with_suffix(".offsets.npy")


def _write_records(keys, others, bounds, round_dir: Path, source: int) -> int:
    """Write records sorted by the partition of ``keys``; offsets file last."""
    n_partitions = len(bounds) - 1
    parts = _partition_of(keys, bounds)
    order = np.argsort(parts, kind="stable")
    records = np.stack([keys[order], others[order]], axis=1)
    offsets = np.searchsorted(parts[order], np.arange(n_partitions + 1)).astype(np.int64)
    data_path, offsets_path = _out_files(round_dir, source)
    write_npy_atomic(data_path, records)
    write_npy_atomic(offsets_path, offsets)
    return int(len(records))


def _read_partition(sources: list[str], partition: int) -> tuple[np.ndarray, np.ndarray]:
    """Records of one partition from every source file, sorted and unique by (key, other)."""
    chunks = []
    for data_path in sources:
        offsets = np.load(data_path[: -len(".npy")] + ".offsets.npy")
        lo, hi = int(offsets[partition]), int(offsets[partition + 1])
        if hi > lo:
            chunks.append(np.array(np.load(data_path, mmap_mode="r")[lo:hi]))
    if not chunks:
        empty = np.zeros(0, np.int64)
        return empty, empty
    records = np.concatenate(chunks)
    keys, others = records[:, 0], records[:, 1]
    order = np.lexsort((others, keys))
    keys, others = keys[order], others[order]
    fresh = np.ones(len(keys), dtype=bool)
    fresh[1:] = (keys[1:] != keys[:-1]) | (others[1:] != others[:-1])
    return keys[fresh], others[fresh]


def _group_starts(keys: np.ndarray) -> np.ndarray:
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else keys[:0]
    return starts.astype(np.int64)


def prepare_task(edge_file: str, n_nodes: int, bounds: np.ndarray, round_dir: str, source: int):
    """Round 0 for one input edge file (int64 (E, 2)): both directions, no self loops."""
    edges = np.load(edge_file)
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"{edge_file}: edges must be an (E, 2) array, got {edges.shape}")
    edges = edges.astype(np.int64, copy=False)
    if len(edges) and (int(edges.min()) < 0 or int(edges.max()) >= n_nodes):
        raise ValueError(f"{edge_file}: edge endpoints must be in [0, {n_nodes})")
    a, b = edges[:, 0], edges[:, 1]
    keep = a != b
    a, b = a[keep], b[keep]
    written = _write_records(np.r_[a, b], np.r_[b, a], bounds, Path(round_dir), source)
    return {"records": written, "star": False, "peak_rss_mib": peak_rss_mib()}


def star_round_task(
    mode: str, sources: list[str], partition: int, bounds: np.ndarray, round_dir: str
) -> dict:
    """One large-star or small-star step for one partition (see the module docstring).

    Returns ``records`` written, ``edges`` (unique undirected edges seen) and, for
    large-star, ``star``: whether every node of the partition is star-shaped.
    """
    keys, others = _read_partition(sources, partition)
    starts = _group_starts(keys)
    result = {"star": True}
    if mode == LARGE_STAR:
        smaller = others < keys
        result["edges"] = int(np.count_nonzero(smaller))
        if len(keys):
            n_smaller = np.add.reduceat(smaller.astype(np.int64), starts)
            n_larger = np.add.reduceat((~smaller).astype(np.int64), starts)
            result["star"] = bool(np.all((n_smaller == 0) | ((n_smaller == 1) & (n_larger == 0))))
        # others are sorted within a group: the first is the smallest neighbour
        group_min = np.minimum(keys[starts], others[starts])
        minimum = np.repeat(group_min, np.diff(np.r_[starts, len(keys)]))
        emit = ~smaller  # neighbours v > u get (v, m(u)), keyed by v
        out_keys, out_others = others[emit], minimum[emit]
    elif mode == SMALL_STAR:
        result["edges"] = int(len(keys))
        result["star"] = False
        minimum = np.repeat(others[starts], np.diff(np.r_[starts, len(keys)]))
        move = others != minimum  # (v, m) for smaller neighbours v other than m
        hi = np.r_[keys[starts], others[move]]
        lo = np.r_[others[starts], minimum[move]]  # and (u, m) once per node
        out_keys, out_others = np.r_[hi, lo], np.r_[lo, hi]
    else:
        raise ValueError(f"mode must be {LARGE_STAR!r} or {SMALL_STAR!r}, got {mode!r}")
    result["records"] = _write_records(out_keys, out_others, bounds, Path(round_dir), partition)
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def labels_task(sources: list[str], partition: int, bounds: np.ndarray, labels_dir: str):
    """Dense labels of one node range from a star forest keyed by leaf: (leaf, centre)."""
    keys, others = _read_partition(sources, partition)
    lo, hi = int(bounds[partition]), int(bounds[partition + 1])
    labels = np.arange(lo, hi, dtype=np.int64)
    labels[keys - lo] = others
    write_npy_atomic(Path(labels_dir) / f"range-{partition:05d}.npy", labels)
    return {"nodes": hi - lo, "peak_rss_mib": peak_rss_mib()}


def max_rounds(n_nodes: int) -> int:
    """A safety limit on star rounds, well above the O(log^2 n) bound's constant."""
    log_n = math.ceil(math.log2(max(n_nodes, 2)))
    return 4 * log_n * log_n + 16


def distributed_components(
    edge_files: list[Path],
    n_nodes: int,
    *,
    work: Path,
    runner,
    n_partitions: int,
    progress: bool | None = None,
) -> Path:
    """Connected components of the edges in ``edge_files`` (each int64 (E, 2) .npy).

    Returns the folder of labels: ``range-PPPPP.npy``, int64, the label of each node
    of partition ``p``'s range (:func:`partition_bounds`) in node order; a label is
    the smallest node of the component, an isolated node is labelled by itself.
    ``work`` is this computation's own folder (removed and rebuilt unless it holds
    finished labels for the same inputs). ``runner``: an :func:`engine.run.dask_runner.session`
    runner; ``progress``: show a progress bar per round.

    Example:
        >>> with session("threads", 2) as runner:  # doctest: +SKIP
        ...     folder = distributed_components(files, n, work=tmp, runner=runner,
        ...                                     n_partitions=8)
        >>> labels = read_labels(folder, n)  # doctest: +SKIP
    """
    if n_nodes < 0:
        raise ValueError(f"n_nodes must be >= 0, got {n_nodes}")
    if n_partitions < 1:
        raise ValueError(f"n_partitions must be >= 1, got {n_partitions}")
    work = Path(work)
    labels_dir = work / "labels"
    claim = {
        "n_nodes": int(n_nodes),
        "n_partitions": int(n_partitions),
        "edge_files": [str(p) for p in edge_files],
    }
    done = read_json(labels_dir / "_DONE.json")
    if done is not None and {k: done.get(k) for k in claim} == claim:
        return labels_dir
    shutil.rmtree(work, ignore_errors=True)
    bounds = partition_bounds(n_nodes, n_partitions)
    stats: list[dict] = []
    started = time.perf_counter()

    def run_round(name: str, func, args_list) -> list[dict]:
        return runner.stage(f"components {name}", func, args_list, show=bool(progress))

    round_dir = work / "round-000"
    results = run_round(
        PREPARE,
        prepare_task,
        [(str(f), n_nodes, bounds, str(round_dir), i) for i, f in enumerate(edge_files)],
    )
    sources = [str(_out_files(round_dir, i)[0]) for i in range(len(edge_files))]
    stats.append({"round": PREPARE, "records": sum(r["records"] for r in results)})
    limit = max_rounds(n_nodes)
    for index in range(1, limit + 1):
        mode = LARGE_STAR if index % 2 == 1 else SMALL_STAR
        next_dir = work / f"round-{index:03d}"
        results = run_round(
            mode,
            star_round_task,
            [(mode, sources, p, bounds, str(next_dir)) for p in range(n_partitions)],
        )
        stats.append(
            {
                "round": mode,
                "edges": sum(r["edges"] for r in results),
                "records": sum(r["records"] for r in results),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
            }
        )
        shutil.rmtree(round_dir, ignore_errors=True)
        round_dir = next_dir
        sources = [str(_out_files(round_dir, p)[0]) for p in range(n_partitions)]
        if mode == LARGE_STAR and all(r["star"] for r in results):
            break
    else:
        raise RuntimeError(
            f"connected components did not converge in {limit} rounds; this is a bug"
        )
    run_round(
        "labels",
        labels_task,
        [(sources, p, bounds, str(labels_dir)) for p in range(n_partitions)],
    )
    shutil.rmtree(round_dir, ignore_errors=True)
    write_json_atomic(
        labels_dir / "_DONE.json",
        {
            **claim,
            "bounds": bounds.tolist(),
            "rounds": stats,
            "seconds": round(time.perf_counter() - started, 4),
        },
    )
    return labels_dir


def read_labels(labels_dir: Path, n_nodes: int) -> np.ndarray:
    """All labels, int64 (n_nodes,), read range by range from :func:`distributed_components`."""
    done = read_json(Path(labels_dir) / "_DONE.json")
    if done is None or done.get("n_nodes") != n_nodes:
        raise ValueError(f"{labels_dir} holds no finished labels for {n_nodes} nodes")
    labels = np.empty(n_nodes, dtype=np.int64)
    bounds = done["bounds"]
    for p in range(len(bounds) - 1):
        labels[bounds[p] : bounds[p + 1]] = np.load(Path(labels_dir) / f"range-{p:05d}.npy")
    return labels


def driver_components(edge_files: list[Path], n_nodes: int) -> np.ndarray:
    """Connected components by union-find in this process, int64 labels (n_nodes,)
    (the smallest node of each component); edges streamed one file at a time, so
    memory is 8 bytes per node plus one file's edges."""
    labels = np.arange(n_nodes, dtype=np.int64)
    for path in edge_files:
        edges = np.load(path)
        union_edges_cpu(
            labels, np.ascontiguousarray(edges[:, 0]), np.ascontiguousarray(edges[:, 1])
        )
    return finish_labels_cpu(labels)


def components_partitions(n_nodes: int, n_edges: int, size: int, workers: int) -> int:
    """Node ranges for distributed components, so that one range's records (two of 16
    bytes per edge in a large-star round, twice that while sorting) and its labels
    (8 bytes per node) fit in ``size`` bytes; at least one range per worker."""
    per_range = max(64 * n_edges, 8 * n_nodes)
    return max(1, workers, -(-per_range // max(1, size)))
