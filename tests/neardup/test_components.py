"""Distributed connected components (large-star/small-star) against union-find."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.neardup.components import distributed_components, partition_bounds, read_labels
from engine.run.atomic import write_npy_atomic
from engine.run.dask_runner import session
from kernels.union_find import connected_components

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "docs.jsonl.gz"
PARTITIONS = (1, 3, 8)


@pytest.fixture(scope="module")
def runner():
    with session("threads", 2) as r:
        yield r


def _write_edges(folder: Path, edges: np.ndarray, n_files: int) -> list[Path]:
    files = []
    for i, chunk in enumerate(np.array_split(edges, n_files) if n_files else []):
        files.append(folder / f"edges-{i}.npy")
        write_npy_atomic(files[-1], chunk.astype(np.int64).reshape(-1, 2))
    return files


def _check(runner, n_nodes: int, edges: np.ndarray, n_partitions: int, n_files: int = 2):
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    want = connected_components(n_nodes, edges[:, 0].copy(), edges[:, 1].copy(), backend="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = _write_edges(tmp, edges, n_files if len(edges) else 0)
        folder = distributed_components(
            files, n_nodes, work=tmp / "cc", runner=runner, n_partitions=n_partitions
        )
        got = read_labels(folder, n_nodes)
        rounds = json.loads((folder / "_DONE.json").read_text())["rounds"]
    np.testing.assert_array_equal(got, want)
    return rounds


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 40))
    node = st.integers(0, n - 1)
    edges = draw(st.lists(st.tuples(node, node), max_size=60))  # self loops, duplicates
    if draw(st.booleans()):  # a path in a drawn order: long paths need many rounds
        order = draw(st.permutations(range(n)))
        edges += list(zip(order[:-1], order[1:]))
    return n, np.array(edges, dtype=np.int64).reshape(-1, 2)


@settings(max_examples=60)
@given(graph=graphs(), n_partitions=st.sampled_from(PARTITIONS), n_files=st.integers(1, 3))
def test_random_graphs_match_union_find(runner, graph, n_partitions, n_files):
    n, edges = graph
    _check(runner, n, edges, n_partitions, n_files)


@pytest.mark.parametrize("n_partitions", PARTITIONS)
def test_shapes_match_union_find(runner, n_partitions):
    n = 50
    reverse_path = np.stack([np.arange(n - 1, 0, -1), np.arange(n - 2, -1, -1)], axis=1)
    rounds = _check(runner, n, reverse_path, n_partitions)
    assert len(rounds) > 3  # a path needs several rounds
    star = np.stack([np.full(20, 37), np.arange(20)], axis=1)  # centre is not the minimum
    _check(runner, n, star, n_partitions)
    loops_and_twins = np.array([[3, 3], [4, 9], [9, 4], [4, 9], [10, 10]])
    _check(runner, n, loops_and_twins, n_partitions)  # 10 is isolated but for a loop
    _check(runner, n, np.zeros((0, 2)), n_partitions)  # no edges: every node alone
    _check(runner, 5, np.array([[4, 0]]), 8)  # more partitions than nodes


def test_labels_are_written_per_node_range_and_reused(runner, tmp_path):
    edges = np.array([[5, 1], [1, 7], [8, 9]])
    files = _write_edges(tmp_path, edges, 1)
    folder = distributed_components(files, 10, work=tmp_path / "cc", runner=runner, n_partitions=3)
    bounds = partition_bounds(10, 3)
    for p in range(3):
        part = np.load(folder / f"range-{p:05d}.npy")
        assert part.dtype == np.int64 and len(part) == bounds[p + 1] - bounds[p]
    stamp = (folder / "_DONE.json").stat().st_mtime_ns
    again = distributed_components(files, 10, work=tmp_path / "cc", runner=runner, n_partitions=3)
    assert (again / "_DONE.json").stat().st_mtime_ns == stamp  # reused, not recomputed
    np.testing.assert_array_equal(read_labels(again, 10), [0, 1, 2, 3, 4, 1, 6, 1, 8, 8])


def test_bad_edges_are_refused(runner, tmp_path):
    files = _write_edges(tmp_path, np.array([[0, 12]]), 1)
    with pytest.raises(ValueError, match=r"in \[0, 10\)"):
        distributed_components(files, 10, work=tmp_path / "cc", runner=runner, n_partitions=2)
    with pytest.raises(ValueError, match="n_partitions"):
        distributed_components(files, 10, work=tmp_path / "cc", runner=runner, n_partitions=0)


def test_dedup_distributed_components_equal_driver(tmp_path):
    common = dict(backend="cpu", scheduler="threads", workers=2, progress=False)
    driver = engine.dedup([str(SAMPLE)], out=tmp_path / "d", components="driver", **common)
    distributed = engine.dedup(
        [str(SAMPLE)], out=tmp_path / "s", components="distributed", **common
    )
    assert driver.clusters.equals(distributed.clusters)
    assert driver.summary["counts"]["duplicates"] > 0
    assert list((tmp_path / "s" / "_work").glob("components-*/labels/range-*.npy"))
    with pytest.raises(ValueError, match="components must be one of"):
        engine.dedup([str(SAMPLE)], components="gpu", **common)
