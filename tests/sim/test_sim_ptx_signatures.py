"""The compile lane's signature table equals the types the pipeline launches kernels with.

Under the simulator every kernel launch is recorded (kernel name and the numba type of
each argument) while whole dedup and substr runs and the public kernel functions run on
the cuda backend. Every recorded launch must be in ``bench.ptx.signature_table()`` (the
lane compiles what production runs), and every table entry must have been launched (no
made-up entries). Arrays are compared by dtype, dimensions and layout.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import engine
from bench import ptx
from engine.substrings.pipeline import substr
from kernels.backend import cuda_simulated

warnings.simplefilter("ignore", RuntimeWarning)  # numpy scalar overflow under the simulator

pytestmark = pytest.mark.skipif(not cuda_simulated(), reason="records simulator launches")

BASE = "the committee approved the annual budget after a long debate about schools and roads"


def _corpus(tmp_path):
    texts = [BASE, BASE.replace("long", "lengthy"), "an unrelated note on tomatoes", "", BASE]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def _public_functions():
    """The public kernel functions, covering what a tiny pipeline run may not reach."""
    from kernels.lcp import lcp_array
    from kernels.suffix_array import suffix_array_prefix_doubling_cuda
    from kernels.union_find import connected_components

    rng = np.random.default_rng(5)
    for dtype, alphabet in ((np.uint8, 3), (np.uint16, 300)):
        text = rng.integers(0, alphabet, 40).astype(dtype)
        for wide_keys in (False, True):
            sa = suffix_array_prefix_doubling_cuda(text, wide_keys=wide_keys)
        lcp_array(text, sa, backend="cuda")
        lcp_array(text, sa, backend="cuda", max_lcp=4, chunk=8)
    edges = np.array([[0, 3], [3, 5], [1, 2]], dtype=np.int64)
    connected_components(6, edges[:, 0], edges[:, 1], backend="cuda")
    from kernels.preflight import add_one

    values = np.arange(64, dtype=np.int32)
    add_one[2, 32](values)  # the pre-flight's test kernel, launched as its probe does
    assert values.tolist() == list(range(1, 65))


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
    """{kernel name: {short signature}} of every simulated launch."""
    from numba import typeof
    from numba.cuda.simulator.kernel import FakeCUDAKernel

    seen: dict[str, set[str]] = {}
    original = FakeCUDAKernel.__call__

    def recording_call(self, *args):
        if not self._device:
            name = f"{self.fn.__module__}.{self.fn.__name__}"
            types = tuple(typeof(arg) for arg in args)
            seen.setdefault(name, set()).add(ptx.short_signature(types))
        return original(self, *args)

    FakeCUDAKernel.__call__ = recording_call
    try:
        path = _corpus(tmp_path_factory.mktemp("ptx"))
        common = dict(backend="cuda", progress=False, scheduler="threads")
        engine.dedup([str(path)], num_perm=16, ngram=2, threshold=0.5, **common)
        for shingle in ("word", "char"):
            engine.dedup([str(path)], num_perm=8, ngram=3, shingle=shingle, **common)
        substr([str(path)], min_span=12, **common)
        _public_functions()
    finally:
        FakeCUDAKernel.__call__ = original
    return seen


def _table() -> dict[str, set[str]]:
    return {
        name: {ptx.short_signature(argtypes) for argtypes in signatures}
        for name, signatures in ptx.signature_table().items()
    }


def test_every_launch_is_in_the_signature_table(launches):
    table = _table()
    unknown = {
        name: sorted(types - table.get(name, set()))
        for name, types in launches.items()
        if types - table.get(name, set())
    }
    assert unknown == {}, "launched with types the compile lane does not compile"


def test_every_table_entry_is_launched(launches):
    unused = {
        name: sorted(types - launches.get(name, set()))
        for name, types in _table().items()
        if types - launches.get(name, set())
    }
    assert unused == {}, "signature_table() entries no run launches"
