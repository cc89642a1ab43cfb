"""GPU lane (``pytest -m gpu`` on a machine with a CUDA device): real-device runs at
sizes the simulator cannot reach, compared bit for bit with the CPU backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine
from engine.io.texts import as_large_string_array, pack
from kernels.backend import to_host
from kernels.lsh import band_keys, candidate_edges
from kernels.minhash import signatures
from kernels.union_find import connected_components

pytestmark = pytest.mark.gpu

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "docs.jsonl.gz"


def _random_texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    words = ["alpha", "βeta", "gamma", "δέλτα", "日本", "émoji😀", "x", "straße", "İz"]
    return [" ".join(rng.choice(words, size=int(rng.integers(0, 400))).tolist()) for _ in range(n)]


@pytest.mark.parametrize("shingle", ["word", "char"])
def test_signatures_equal_cpu_on_device(shingle):
    data, offsets = pack(as_large_string_array(_random_texts(3000, 1)))
    gpu = to_host(signatures(data, offsets, num_perm=128, shingle=shingle, backend="cuda"))
    cpu = signatures(data, offsets, num_perm=128, shingle=shingle, backend="cpu")
    np.testing.assert_array_equal(gpu, cpu)


def test_edges_and_components_equal_cpu_on_device():
    rng = np.random.default_rng(2)
    base = rng.integers(0, 2**32, size=(500, 64), dtype=np.uint32)
    sig = base[rng.integers(0, 500, size=20000)]
    noise = rng.random(sig.shape) < 0.05
    sig[noise] = rng.integers(0, 2**32, size=int(noise.sum()), dtype=np.uint32)
    keys = band_keys(sig, 8, 8, backend="cpu")
    cpu = candidate_edges(keys, sig, threshold=0.8, backend="cpu")
    gpu = candidate_edges(keys, sig, threshold=0.8, backend="cuda")
    np.testing.assert_array_equal(to_host(gpu[0]), cpu[0])
    np.testing.assert_array_equal(to_host(gpu[1]), cpu[1])
    n = 2_000_000
    src = rng.integers(0, n, size=3_000_000)
    dst = rng.integers(0, n, size=3_000_000)
    np.testing.assert_array_equal(
        to_host(connected_components(n, src, dst, backend="cuda")),
        connected_components(n, src, dst, backend="cpu"),
    )


def test_dedup_on_device_equals_cpu(tmp_path):
    cpu = engine.dedup([str(SAMPLE)], backend="cpu", progress=False)
    gpu = engine.dedup([str(SAMPLE)], backend="cuda", progress=False)
    assert gpu.clusters.equals(cpu.clusters)
