"""The pre-flight names the missing piece of the GPU stack; cuda_usable() runs it once."""

from __future__ import annotations

import pytest

from kernels import backend, preflight
from kernels.preflight import PreflightFailure


@pytest.fixture
def no_sim(monkeypatch):
    """A process without the simulator, with fresh caches before and after."""
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    backend.cuda_usable.cache_clear()
    preflight.preflight.cache_clear()
    yield
    backend.cuda_usable.cache_clear()
    preflight.preflight.cache_clear()


def _ok(detail):
    def probe(facts):
        facts.setdefault("driver_cuda_major", 13)
        return detail

    return probe


def _fail(detail, fix):
    def probe(facts):
        raise PreflightFailure(detail, fix)

    return probe


def _install(monkeypatch, **probes):
    calls = []
    for name in preflight.CHECKS:
        probe = probes.get(name, _ok(f"{name} fine"))

        def wrapped(facts, probe=probe, name=name):
            calls.append(name)
            return probe(facts)

        monkeypatch.setitem(preflight.PROBES, name, wrapped)
    return calls


def test_all_checks_pass_in_order(no_sim, monkeypatch):
    calls = _install(monkeypatch)
    result = preflight.run_preflight()
    assert result.ok and result.failed is None
    assert calls == list(preflight.CHECKS)
    assert [c.status for c in result.checks] == ["ok"] * 4
    assert result.message.startswith("pre-flight passed")
    assert result.as_dict()["checks"][0]["name"] == "driver"


@pytest.mark.parametrize(
    ("piece", "label"),
    [
        ("driver", "NVIDIA driver"),
        ("nvvm", "NVVM"),
        ("cupy", "CuPy"),
        ("kernel", "CUDA kernel launch"),
    ],
)
def test_first_failure_stops_and_names_the_piece(no_sim, monkeypatch, piece, label):
    calls = _install(monkeypatch, **{piece: _fail(f"{piece} is gone.", f"install {piece}")})
    result = preflight.run_preflight()
    assert not result.ok
    assert result.failed.name == piece
    assert result.message.startswith(f"pre-flight failed at {label}")
    assert f"{piece} is gone." in result.message and f"Fix: install {piece}" in result.message
    position = preflight.CHECKS.index(piece)
    assert calls == list(preflight.CHECKS[: position + 1])
    statuses = [c.status for c in result.checks]
    assert statuses == ["ok"] * position + ["failed"] + ["not run"] * (3 - position)


def test_missing_libcuda_gives_the_driver_message(no_sim, monkeypatch):
    def no_lib(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(preflight.ctypes, "CDLL", no_lib)
    result = preflight.run_preflight()
    assert result.failed.name == "driver"
    assert "libcuda could not be loaded" in result.message
    assert "install the NVIDIA driver" in result.message


def test_missing_nvvm_names_cuda_home_and_the_wheel(no_sim, monkeypatch):
    from numba.cuda.cudadrv import nvvm

    def broken():
        raise OSError("libnvvm.so: cannot open shared object file")

    monkeypatch.setattr(nvvm, "NVVM", broken)
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    _install(monkeypatch, nvvm=preflight.probe_nvvm)
    result = preflight.run_preflight()
    assert result.failed.name == "nvvm"
    assert "CUDA_HOME is not set" in result.message
    assert "numba-cuda[cu13]" in result.message and "libnvvm.so" in result.message


def test_cupy_missing_or_too_new(no_sim, monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    _install(monkeypatch, cupy=preflight.probe_cupy)
    result = preflight.run_preflight()
    assert result.failed.name == "cupy"
    assert "import cupy failed" in result.message and "cupy-cuda13x" in result.message

    runtime = types.SimpleNamespace(runtimeGetVersion=lambda: 13000)
    fake = types.SimpleNamespace(__version__="14.0.0", cuda=types.SimpleNamespace(runtime=runtime))
    monkeypatch.setitem(sys.modules, "cupy", fake)

    def driver_12(facts):
        facts["driver_cuda_major"] = 12
        return "driver 12"

    _install(monkeypatch, driver=driver_12, cupy=preflight.probe_cupy)
    result = preflight.run_preflight()
    assert result.failed.name == "cupy"
    assert "built for CUDA 13" in result.message and "cupy-cuda12x" in result.message


def test_unexpected_error_still_names_the_piece(no_sim, monkeypatch):
    def boom(facts):
        raise KeyError("odd")

    _install(monkeypatch, kernel=boom)
    result = preflight.run_preflight()
    assert result.failed.name == "kernel" and "KeyError" in result.message


def test_simulator_passes(monkeypatch):
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    calls = _install(monkeypatch, driver=_fail("no", "no"))
    result = preflight.run_preflight()
    assert result.ok and calls == []
    assert {c.status for c in result.checks} == {"simulator"}


def test_cuda_usable_runs_the_preflight_once(no_sim, monkeypatch):
    calls = _install(monkeypatch, nvvm=_fail("libnvvm not found.", "pip install nvidia-nvvm"))
    assert backend.cuda_usable() is False
    assert backend.cuda_usable() is False
    assert backend.resolve_backend("auto") == "cpu"
    assert calls == ["driver", "nvvm"]  # once per process, whatever the number of calls
    with pytest.raises(RuntimeError, match="NVVM .*libnvvm not found.*pip install nvidia-nvvm"):
        backend.resolve_backend("cuda")
    assert calls == ["driver", "nvvm"]


def test_cuda_usable_true_when_every_check_passes(no_sim, monkeypatch):
    _install(monkeypatch)
    assert backend.cuda_usable() is True
    assert backend.resolve_backend("cuda") == "cuda"
