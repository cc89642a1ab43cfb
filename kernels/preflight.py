"""Pre-flight for the ``cuda`` backend: which piece of the GPU stack is missing, if any.

Four checks, in order; the first failure stops the run and its message names the
missing piece and how to get it:

1. ``driver``: the NVIDIA driver library (``libcuda``) loads, reports its CUDA version,
   and ``numba.cuda.is_available()`` sees a device (name, compute capability).
2. ``nvvm``: numba-cuda finds ``libnvvm`` (the compiler behind ``@cuda.jit``), from the
   ``nvidia-nvvm`` / ``nvidia-cuda-nvcc`` wheels or a toolkit under ``CUDA_HOME``.
3. ``cupy``: CuPy imports, and the CUDA major version it was built for is not newer than
   the driver's (a CUDA 12 driver cannot run ``cupy-cuda13x``; a CUDA 13 driver runs
   both ``cupy-cuda12x`` and ``cupy-cuda13x``).
4. ``kernel``: one tiny ``@cuda.jit`` kernel (add one to 64 int32 values) is compiled,
   launched, synchronized, read back and checked.

Under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) every check reports
``"simulator"`` and the pre-flight passes. It lives in ``kernels`` (not in ``bench``)
because ``kernels.backend.cuda_usable`` uses it and ``kernels`` imports nothing from
``engine`` or ``bench``.

Example::

    >>> from kernels.preflight import run_preflight
    >>> result = run_preflight()
    >>> result.ok, result.message          # doctest: +SKIP
    (False, 'NVIDIA driver: libcuda could not be loaded ... Fix: ...')
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata

import numpy as np
from numba import cuda  # importable without a driver; kernels compile on first launch

CHECKS = ("driver", "nvvm", "cupy", "kernel")
PIECES = {
    "driver": "NVIDIA driver",
    "nvvm": "NVVM (libnvvm, the CUDA compiler numba-cuda needs)",
    "cupy": "CuPy",
    "kernel": "CUDA kernel launch",
}


class PreflightFailure(Exception):
    """A check failed: ``detail`` says what was found, ``fix`` how to get the piece."""

    def __init__(self, detail: str, fix: str):
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


@dataclass(frozen=True)
class CheckStatus:
    """One check: ``status`` is ``"ok" | "failed" | "not run" | "simulator"``."""

    name: str
    status: str
    detail: str = ""
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "simulator")


@dataclass(frozen=True)
class PreflightResult:
    """Every check in order; ``ok`` when all passed; ``message`` names the first failure."""

    checks: tuple[CheckStatus, ...]
    facts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> CheckStatus | None:
        return next((c for c in self.checks if c.status == "failed"), None)

    @property
    def message(self) -> str:
        bad = self.failed
        if bad is None:
            return "pre-flight passed: " + "; ".join(f"{c.name}: {c.detail}" for c in self.checks)
        return f"pre-flight failed at {PIECES[bad.name]}: {bad.detail} Fix: {bad.fix}"

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "message": self.message,
            "checks": [
                {"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix}
                for c in self.checks
            ],
            "facts": dict(self.facts),
        }


# --------------------------------------------------------------------------- probes
# Each probe returns a short detail and fills ``facts``, or raises PreflightFailure.
# Tests replace them (monkeypatch) to simulate a missing piece.


def _load_libcuda():
    names = ["libcuda.so.1", "libcuda.so", ctypes.util.find_library("cuda"), "nvcuda.dll"]
    errors = []
    for name in [n for n in names if n]:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            errors.append(f"{name}: {exc}")
    raise PreflightFailure(
        "libcuda could not be loaded (" + "; ".join(errors[:2]) + ").",
        "install the NVIDIA driver (nvidia-smi must work) on a machine with an NVIDIA GPU; "
        "inside a container, start it with the GPU exposed (docker run --gpus all). "
        "Without a GPU use --backend cpu.",
    )


def probe_driver(facts: dict) -> str:
    """libcuda loads, reports its CUDA version; numba sees a device."""
    lib = _load_libcuda()
    version = ctypes.c_int(0)
    if lib.cuDriverGetVersion(ctypes.byref(version)) != 0 or version.value <= 0:
        raise PreflightFailure(
            "libcuda loaded but cuDriverGetVersion failed.",
            "reinstall the NVIDIA driver so that its user library matches the kernel module.",
        )
    major, minor = version.value // 1000, (version.value % 1000) // 10
    facts["driver_cuda"] = f"{major}.{minor}"
    facts["driver_cuda_major"] = major
    from numba import cuda

    if not cuda.is_available():
        raise PreflightFailure(
            f"the driver (CUDA {major}.{minor}) loads but numba.cuda.is_available() is "
            "False: no device is visible to this process.",
            "check nvidia-smi and CUDA_VISIBLE_DEVICES; make sure no other process holds "
            "the device in exclusive mode.",
        )
    device = cuda.get_current_device()
    name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
    cc = ".".join(str(x) for x in device.compute_capability)
    facts["device"] = name
    facts["compute_capability"] = cc
    return f"{name}, compute capability {cc}, driver CUDA {major}.{minor}"


def _nvvm_wheels() -> list[str]:
    found = []
    for dist in ("nvidia-nvvm", "nvidia-cuda-nvcc", "nvidia-cuda-nvcc-cu12", "cuda-toolkit"):
        try:
            found.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return found


def probe_nvvm(facts: dict) -> str:
    """numba-cuda can open libnvvm."""
    cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or ""
    wheels = _nvvm_wheels()
    facts["cuda_home"] = cuda_home or None
    facts["nvvm_wheels"] = wheels
    major = facts.get("driver_cuda_major", 13)
    try:
        from numba.cuda.cudadrv import nvvm

        version = nvvm.NVVM().get_version()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no usable NVVM"
        where = f"CUDA_HOME={cuda_home!r}" if cuda_home else "CUDA_HOME is not set"
        have = ", ".join(wheels) if wheels else "no nvidia-nvvm / nvidia-cuda-nvcc wheel"
        raise PreflightFailure(
            f"numba-cuda could not load libnvvm ({type(exc).__name__}: {str(exc)[:200]}); "
            f"{where}; {have}.",
            f"pip install 'numba-cuda[cu{major}]' (brings the nvidia-nvvm wheel), or point "
            "CUDA_HOME at a CUDA toolkit that has nvvm/lib64/libnvvm.so.",
        ) from None
    facts["nvvm_version"] = ".".join(str(x) for x in version)
    return f"libnvvm {facts['nvvm_version']}"


def probe_cupy(facts: dict) -> str:
    """CuPy imports; its CUDA major is not newer than the driver's."""
    major = facts.get("driver_cuda_major")
    wanted = f"cupy-cuda{major}x" if major else "cupy-cuda12x or cupy-cuda13x"
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken CUDA library
        raise PreflightFailure(
            f"import cupy failed ({type(exc).__name__}: {str(exc)[:200]}).",
            f"pip install {wanted} (matching the driver's CUDA major version), or install "
            f"the extra: pip install 'ouroboros-dedup[{'gpu-cu13' if major == 13 else 'gpu'}]'.",
        ) from None
    runtime = cupy.cuda.runtime.runtimeGetVersion()
    cupy_major = runtime // 1000
    facts["cupy"] = cupy.__version__
    facts["cupy_cuda_major"] = cupy_major
    if major is not None and cupy_major > major:
        raise PreflightFailure(
            f"CuPy {cupy.__version__} is built for CUDA {cupy_major} but the driver "
            f"supports CUDA {major} at most.",
            f"pip uninstall cupy-cuda{cupy_major}x && pip install {wanted}, or upgrade "
            "the NVIDIA driver.",
        )
    return f"CuPy {cupy.__version__} (CUDA {cupy_major} runtime)"


@cuda.jit
def add_one(values):
    """The pre-flight's test kernel: int32 (n,) ``values`` each + 1, in place."""
    i = cuda.grid(1)
    if i < values.shape[0]:
        values[i] += np.int32(1)


def probe_kernel(facts: dict) -> str:
    """Compile, launch and check one tiny kernel (:func:`add_one`)."""
    host = np.arange(64, dtype=np.int32)
    try:
        device = cuda.to_device(host)
        add_one[2, 32](device)
        cuda.synchronize()
        got = device.copy_to_host()
    except Exception as exc:  # noqa: BLE001 - compile, launch or copy failure
        raise PreflightFailure(
            f"a 64-element add-one kernel failed ({type(exc).__name__}: {str(exc)[:300]}).",
            "check that numba-cuda supports this GPU's compute capability "
            f"({facts.get('compute_capability', '?')}) and that the NVVM version is not "
            "newer than the driver's CUDA version (pip install 'numba-cuda[cu12]' on a "
            "CUDA 12 driver).",
        ) from None
    if not np.array_equal(got, host + 1):
        raise PreflightFailure(
            "the add-one kernel ran but returned wrong values.",
            "the device or driver is faulty: run nvidia-smi -q and the CUDA samples.",
        )
    return "add-one kernel on 64 int32 values: correct"


PROBES = {"driver": probe_driver, "nvvm": probe_nvvm, "cupy": probe_cupy, "kernel": probe_kernel}


def run_preflight() -> PreflightResult:
    """Run the four checks in order, stopping at the first failure (never raises)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        checks = tuple(
            CheckStatus(name, "simulator", "CUDA simulator: kernels run on the CPU")
            for name in CHECKS
        )
        return PreflightResult(checks, {"mode": "simulator"})
    facts: dict = {"mode": "device"}
    checks: list[CheckStatus] = []
    for name in CHECKS:
        if checks and not checks[-1].ok:
            checks.append(CheckStatus(name, "not run", "an earlier check failed"))
            continue
        try:
            detail = PROBES[name](facts)
        except PreflightFailure as exc:
            checks.append(CheckStatus(name, "failed", exc.detail, exc.fix))
        except Exception as exc:  # noqa: BLE001 - an unexpected error still names the piece
            checks.append(
                CheckStatus(name, "failed", f"{type(exc).__name__}: {str(exc)[:300]}.", "see above")
            )
        else:
            checks.append(CheckStatus(name, "ok", detail))
    return PreflightResult(tuple(checks), facts)


@lru_cache(maxsize=1)
def preflight() -> PreflightResult:
    """``run_preflight()``, once per process."""
    return run_preflight()
