"""Device traffic accounting: bytes copied each way, host synchronisations, kernel launches.

One process-wide, thread-safe counter fed from a few places only:

- ``kernels.backend.to_device`` (host-to-device bytes) and ``kernels.backend.to_host``
  (device-to-host bytes, plus one synchronisation: the host waits for the copy);
- :func:`launch`, which every kernel in ``kernels/`` goes through instead of
  ``kernel[blocks, threads](...)``;
- the counted host reads below: :func:`read_scalar` (``int(device_value)``),
  :func:`nonzero` and :func:`select` (results whose size the host must learn first, so the
  host waits) and :func:`synchronize`.

Counting is off until someone measures: every note starts with one check of a module
global, so kernels pay nothing when no :func:`measure` block is open.

Under the CUDA simulator the same code paths run, so the counts are real there too, with
one difference: device arrays are NumPy there, so a function that copies "host" inputs
(``isinstance(x, np.ndarray)``) copies a device array again and counts it, where a device
would not copy.

Example:
    >>> from kernels import traffic
    >>> with traffic.measure() as seen:
    ...     with traffic.stage("band"):
    ...         traffic.note(syncs=1)
    >>> seen.syncs, seen.stages["band"].syncs, seen.stages["band"].entries
    (1, 1, 1)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from types import SimpleNamespace

_lock = threading.Lock()
_open: list[Traffic] = []  # measurements in progress, in any thread
_measuring = False  # the cheap check: True while _open is not empty
_local = threading.local()  # .stages: names of the stages this thread is inside


@dataclass
class Traffic:
    """Counts of one measured block (or of one named stage inside it).

    Attributes:
        h2d_bytes: bytes copied host -> device (int, bytes).
        d2h_bytes: bytes copied device -> host (int, bytes).
        syncs: times the host waited for the device (copies back, scalar reads,
            data-dependent sizes, explicit synchronisations).
        launches: kernel launches.
        entries: times the stage was entered (0 for a whole measurement).
        stages: counts per stage name entered inside the block.
    """

    h2d_bytes: int = 0
    d2h_bytes: int = 0
    syncs: int = 0
    launches: int = 0
    entries: int = 0
    stages: dict[str, Traffic] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain dict (JSON-ready), stages nested under ``"stages"`` when any."""
        out = {
            "h2d_bytes": self.h2d_bytes,
            "d2h_bytes": self.d2h_bytes,
            "syncs": self.syncs,
            "launches": self.launches,
        }
        if self.entries:
            out["entries"] = self.entries
        if self.stages:
            out["stages"] = {name: s.as_dict() for name, s in self.stages.items()}
        return out

    def _add(self, h2d_bytes: int, d2h_bytes: int, syncs: int, launches: int) -> None:
        self.h2d_bytes += h2d_bytes
        self.d2h_bytes += d2h_bytes
        self.syncs += syncs
        self.launches += launches


def _stage_stack() -> list[str]:
    stack = getattr(_local, "stages", None)
    if stack is None:
        stack = _local.stages = []
    return stack


def note(*, h2d_bytes: int = 0, d2h_bytes: int = 0, syncs: int = 0, launches: int = 0) -> None:
    """Add counts to every open measurement and to the calling thread's open stages."""
    if not _measuring:
        return
    names = set(_stage_stack())
    with _lock:
        for seen in _open:
            seen._add(h2d_bytes, d2h_bytes, syncs, launches)
            for name in names:
                seen.stages.setdefault(name, Traffic())._add(h2d_bytes, d2h_bytes, syncs, launches)


@contextmanager
def measure() -> Iterator[Traffic]:
    """Count the traffic of a block: ``with measure() as seen: ...``; ``seen`` fills live.

    Counts every thread's traffic while the block is open (stages: per entering thread).
    """
    global _measuring
    seen = Traffic()
    with _lock:
        _open.append(seen)
        _measuring = True
    try:
        yield seen
    finally:
        with _lock:
            _open.remove(seen)
            _measuring = bool(_open)


@contextmanager
def _stage(name: str) -> Iterator[None]:
    stack = _stage_stack()
    with _lock:
        for seen in _open:
            seen.stages.setdefault(name, Traffic()).entries += 1
    stack.append(name)
    try:
        yield
    finally:
        stack.pop()


def stage(name: str):
    """Context manager attributing the block's counts to ``name`` in open measurements.

    Entering it adds one to the stage's ``entries`` (so a loop body wrapped in it gives
    per-iteration budgets: ``syncs / entries``). Free when nothing measures.
    """
    if not _measuring:
        return nullcontext()
    return _stage(name)


# --------------------------------------------------------------------------- counted ops


def launch(kernel, grid: tuple[int, int], *args) -> None:
    """Launch a Numba CUDA kernel on ``grid = (blocks, threads_per_block)``; counted."""
    kernel[grid](*args)
    if _measuring:
        note(launches=1)


def read_scalar(value):
    """A device scalar (0-d or one-element array) as a Python scalar: one sync, its bytes
    counted device -> host."""
    if _measuring:
        note(d2h_bytes=int(getattr(value, "nbytes", 8)), syncs=1)
    return value.item()


def nonzero(xp, mask):
    """``xp.flatnonzero(mask)``: one sync on a device (the host learns the count before
    it can allocate the result)."""
    if _measuring:
        note(syncs=1)
    return xp.flatnonzero(mask)


def select(array, mask):
    """``array[mask]`` for a bool mask: one sync on a device (data-dependent size)."""
    if _measuring:
        note(syncs=1)
    return array[mask]


def synchronize() -> None:
    """Wait for the device (``numba.cuda.synchronize``); counted."""
    from numba import cuda

    cuda.synchronize()
    if _measuring:
        note(syncs=1)


# The host-read operations for a backend: counted on "cuda", plain on "cpu", where the
# same glue runs on host arrays that never wait for a device.
COUNTED = SimpleNamespace(read_scalar=read_scalar, nonzero=nonzero, select=select)
PLAIN = SimpleNamespace(
    read_scalar=lambda value: value,
    nonzero=lambda xp, mask: xp.flatnonzero(mask),
    select=lambda array, mask: array[mask],
)


def host_ops(backend: str) -> SimpleNamespace:
    """:data:`COUNTED` for ``"cuda"``, :data:`PLAIN` for ``"cpu"``."""
    return PLAIN if backend == "cpu" else COUNTED
