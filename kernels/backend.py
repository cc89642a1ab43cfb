"""The one place that maps a backend name to an array module.

Backends:

- ``"cpu"``: NumPy arrays, ``@numba.njit(parallel=True)`` twins.
- ``"cuda"``: CuPy arrays and Numba CUDA kernels. Under the CUDA simulator
  (``NUMBA_ENABLE_CUDASIM=1``, set before numba is imported) the kernels run on
  the CPU and the array module is NumPy, because CuPy needs a real device.
- ``"auto"``: ``"cuda"`` when a real device is usable, else ``"cpu"``.

Asking for ``"cuda"`` without a usable device raises; there is never a silent
fallback.
"""

from __future__ import annotations

import os
from functools import lru_cache
from types import ModuleType

import numpy as np

from kernels import traffic

BACKENDS = ("auto", "cpu", "cuda")


def cuda_simulated() -> bool:
    """True when the Numba CUDA simulator is switched on for this process."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


@lru_cache(maxsize=1)
def cuda_usable() -> bool:
    """True when CUDA kernels can run: a real device with CuPy, or the simulator.

    Runs the pre-flight (``kernels.preflight``: driver, NVVM, CuPy, one tiny kernel) once
    per process; ``kernels.preflight.preflight().message`` says what is missing.
    """
    if cuda_simulated():
        return True
    from kernels.preflight import preflight

    return preflight().ok


def resolve_backend(name: str) -> str:
    """Map ``"auto" | "cpu" | "cuda"`` to ``"cpu"`` or ``"cuda"``.

    Raises:
        ValueError: for an unknown name.
        RuntimeError: for ``"cuda"`` when no device (nor the simulator) is usable.
    """
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        if not cuda_usable():
            from kernels.preflight import preflight

            raise RuntimeError(
                "backend='cuda' was asked for but no CUDA device is usable: "
                f"{preflight().message} "
                "Install the GPU extra (pip install 'ouroboros-dedup[gpu]') on a machine "
                "with an NVIDIA GPU, or use --backend cpu / auto."
            )
        return "cuda"
    return "cuda" if (cuda_usable() and not cuda_simulated()) else "cpu"


def array_module(backend: str) -> ModuleType:
    """The array module for a resolved backend: NumPy, or CuPy on a real device."""
    if backend == "cuda" and not cuda_simulated():
        import cupy

        return cupy
    return np


def to_device(array: np.ndarray, backend: str):
    """Copy a host array to the backend's memory.

    On ``cpu`` this returns the array itself (contiguous). Under the simulator it
    returns a writable NumPy copy: the simulator copies kernel arguments back to them,
    which fails on read-only arrays (``np.frombuffer`` views, cached tables).
    """
    xp = array_module(backend)
    if backend == "cpu":
        return np.ascontiguousarray(array)
    if xp is np:
        copy = np.array(array, copy=True, order="C")
        traffic.note(h2d_bytes=copy.nbytes)
        return copy
    if isinstance(array, np.ndarray):  # a device array given back is not copied
        traffic.note(h2d_bytes=array.nbytes)
    return xp.asarray(array)


def to_host(array) -> np.ndarray:
    """Return a NumPy array for a NumPy or CuPy array.

    A device array's bytes are counted device -> host, with one synchronisation
    (``kernels.traffic``); under the simulator every NumPy array counts, since device
    arrays are NumPy there.
    """
    if isinstance(array, np.ndarray):
        if cuda_simulated():
            traffic.note(d2h_bytes=array.nbytes, syncs=1)
        return array
    get = getattr(array, "get", None)
    if get is not None:
        traffic.note(d2h_bytes=int(array.nbytes), syncs=1)
        return get()
    return np.asarray(array)


def launch_config(n_items: int, threads_per_block: int = 128) -> tuple[int, int]:
    """Grid for one thread per item: (blocks, threads_per_block); small under the simulator."""
    if cuda_simulated():
        threads_per_block = min(threads_per_block, 32)
    blocks = max(1, (n_items + threads_per_block - 1) // threads_per_block)
    return blocks, threads_per_block
