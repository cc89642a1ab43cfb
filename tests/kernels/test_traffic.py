"""The device traffic counter (kernels.traffic) on the CPU lane: no device needed."""

from __future__ import annotations

import threading
from contextlib import nullcontext

import numpy as np
import pytest

from kernels import traffic
from kernels.backend import to_device, to_host


class FakeKernel:
    """Stands in for a Numba CUDA kernel: ``kernel[grid](*args)`` records the call."""

    def __init__(self):
        self.calls = []

    def __getitem__(self, grid):
        return lambda *args: self.calls.append((grid, args))


class FakeDeviceArray:
    """A CuPy-like array: ``.get()`` copies to the host."""

    def __init__(self, host: np.ndarray):
        self.host = host
        self.nbytes = host.nbytes

    def get(self) -> np.ndarray:
        return self.host.copy()


@pytest.fixture
def no_simulator(monkeypatch):
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)


def test_nothing_is_counted_outside_a_measurement():
    traffic.note(h2d_bytes=10, syncs=1)
    with traffic.measure() as seen:
        pass
    assert seen.as_dict() == {"h2d_bytes": 0, "d2h_bytes": 0, "syncs": 0, "launches": 0}
    assert not traffic._measuring


def test_stage_is_free_when_nothing_measures():
    assert isinstance(traffic.stage("x"), nullcontext)
    with traffic.measure() as seen:
        assert not isinstance(traffic.stage("x"), nullcontext)
    assert seen.stages == {}  # a stage made but never entered counts nothing


def test_measure_counts_and_nested_measurements_both_see_inner_traffic():
    with traffic.measure() as outer:
        traffic.note(h2d_bytes=100)
        with traffic.measure() as inner:
            traffic.note(d2h_bytes=8, syncs=1)
            traffic.note(launches=2)
        traffic.note(syncs=1)
    assert (outer.h2d_bytes, outer.d2h_bytes, outer.syncs, outer.launches) == (100, 8, 2, 2)
    assert (inner.h2d_bytes, inner.d2h_bytes, inner.syncs, inner.launches) == (0, 8, 1, 2)
    traffic.note(syncs=5)
    assert outer.syncs == 2


def test_stages_count_entries_and_nest():
    with traffic.measure() as seen:
        for _ in range(3):
            with traffic.stage("round"):
                traffic.note(syncs=1)
                with traffic.stage("inner"):
                    traffic.note(launches=2)
        traffic.note(syncs=7)  # outside any stage
    assert seen.syncs == 10
    assert seen.stages["round"].entries == 3
    assert seen.stages["round"].syncs == 3
    assert seen.stages["round"].launches == 6
    assert seen.stages["inner"].launches == 6
    assert seen.stages["inner"].syncs == 0
    assert seen.as_dict()["stages"]["round"] == {
        "h2d_bytes": 0,
        "d2h_bytes": 0,
        "syncs": 3,
        "launches": 6,
        "entries": 3,
    }


def test_stages_belong_to_the_thread_that_entered_them():
    started = threading.Event()
    done = threading.Event()

    def other_thread():
        started.wait()
        traffic.note(syncs=1)  # counted in the totals, not in this thread's stage
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with traffic.measure() as seen:
        with traffic.stage("mine"):
            started.set()
            done.wait(5)
            traffic.note(syncs=2)
    worker.join()
    assert seen.syncs == 3
    assert seen.stages["mine"].syncs == 2


def test_counts_from_many_threads_add_up():
    def work():
        for _ in range(1000):
            traffic.note(h2d_bytes=1)

    with traffic.measure() as seen:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert seen.h2d_bytes == 4000


def test_launch_counts_and_forwards_grid_and_args():
    kernel = FakeKernel()
    with traffic.measure() as seen:
        traffic.launch(kernel, (3, 32), "a", 1)
        traffic.launch(kernel, (1, 8))
    assert kernel.calls == [((3, 32), ("a", 1)), ((1, 8), ())]
    assert seen.launches == 2


def test_read_scalar_nonzero_select_count_syncs():
    with traffic.measure() as seen:
        assert traffic.read_scalar(np.int32(7)) == 7
        assert traffic.nonzero(np, np.array([0, 1, 1])).tolist() == [1, 2]
        assert traffic.select(np.arange(3), np.array([True, False, True])).tolist() == [0, 2]
    assert seen.syncs == 3
    assert seen.d2h_bytes == 4  # the int32 scalar


def test_plain_ops_count_nothing():
    ops = traffic.host_ops("cpu")
    assert ops is traffic.PLAIN and traffic.host_ops("cuda") is traffic.COUNTED
    with traffic.measure() as seen:
        assert int(ops.read_scalar(np.int64(3))) == 3
        assert ops.nonzero(np, np.array([1, 0])).tolist() == [0]
        assert ops.select(np.arange(2), np.array([False, True])).tolist() == [1]
    assert seen.syncs == 0


def test_transfers_on_cpu_count_nothing(no_simulator):
    host = np.arange(10, dtype=np.int64)
    with traffic.measure() as seen:
        to_host(to_device(host, "cpu"))
    assert (seen.h2d_bytes, seen.d2h_bytes, seen.syncs) == (0, 0, 0)


def test_a_device_array_brought_back_counts_its_bytes_and_one_sync(no_simulator):
    device = FakeDeviceArray(np.zeros((5, 4), dtype=np.uint32))
    with traffic.measure() as seen:
        host = to_host(device)
    assert host.shape == (5, 4)
    assert (seen.d2h_bytes, seen.syncs) == (5 * 4 * 4, 1)


def test_under_the_simulator_numpy_arrays_count_both_ways(monkeypatch):
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    host = np.arange(6, dtype=np.int32)
    with traffic.measure() as seen:
        device = to_device(host, "cuda")
        to_host(device)
    assert (seen.h2d_bytes, seen.d2h_bytes, seen.syncs) == (24, 24, 1)
