"""Shared pieces of the GPU check: the run's state (``Check``), logging, comparisons."""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WHEEL_DIR = REPO / ".gpu_wheels"
# import name -> distribution name, for what the engine needs and the device image lacks
NEEDED = {
    "dask": "dask",
    "distributed": "distributed",
    "warcio": "warcio",
    "zstandard": "zstandard",
    "pydivsufsort": "pydivsufsort",
    "tqdm": "tqdm",
}
TARGETS = {
    "signatures": "GPU target >= 5 GB/s of text (word 5-grams, 128 permutations)",
    "suffix_array": "GPU target >= 1 GB/s on 1 GB",
    "connected_components": "GPU target < 1 s on 100M edges",
    "dedup": "GPU target >= 1 GB/s per GPU",
}


def log(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def install_wheels() -> dict:
    """Install the missing engine dependencies from ``.gpu_wheels/`` (no network)."""
    missing = [dist for mod, dist in NEEDED.items() if importlib.util.find_spec(mod) is None]
    info = {"wheel_dir": str(WHEEL_DIR), "exists": WHEEL_DIR.is_dir(), "missing": missing}
    if not missing:
        info["action"] = "nothing to install"
        return info
    if not WHEEL_DIR.is_dir():
        info["action"] = "no .gpu_wheels/ folder: missing packages stay missing"
        log(f"missing {missing} and no {WHEEL_DIR}; run bench/gpu_check_wheels.sh here first")
        return info
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-cache-dir"]
    cmd = pip + ["--find-links", str(WHEEL_DIR), *missing]
    log("installing from .gpu_wheels: " + " ".join(missing))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        # read-only environment or resolver trouble: unpack every wheel into a side folder
        site = Path(tempfile.gettempdir()) / "ouroboros_gpu_site"
        wheels = sorted(str(p) for p in WHEEL_DIR.glob("*.whl"))
        cmd2 = pip + ["--no-deps", "--target", str(site), *wheels]
        proc2 = subprocess.run(cmd2, capture_output=True, text=True)
        info["fallback_target"] = str(site)
        info["pip_error"] = proc.stderr[-2000:]
        if proc2.returncode == 0:
            sys.path.insert(0, str(site))
            os.environ["PYTHONPATH"] = os.pathsep.join(
                [str(site), os.environ.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep)
        else:
            info["pip_error_fallback"] = proc2.stderr[-2000:]
    importlib.invalidate_caches()
    info["still_missing"] = [
        dist for mod, dist in NEEDED.items() if importlib.util.find_spec(mod) is None
    ]
    info["action"] = "installed" if not info["still_missing"] else "partly installed"
    return info


def parse_bytes(text: str) -> int:
    text = text.strip().upper().replace("IB", "B")
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "B": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(float(text))


# --------------------------------------------------------------------------- state


class Check:
    """Holds the backend, the clock, and every row measured so far."""

    def __init__(self, args):
        import numpy as np

        from kernels.backend import array_module, cuda_simulated, resolve_backend

        self.np = np
        self.sim = cuda_simulated()
        resolve_backend("cuda")  # raises with a clear message when no device is usable
        self.xp = array_module("cuda")
        self.args = args
        self.started = time.perf_counter()
        self.deadline = self.started + args.budget_s
        self.max_bytes = args.max_bytes
        self.kernels: list[dict] = []
        self.pipelines: list[dict] = []
        self.notes: list[str] = []
        self.bandwidth_gbs: float | None = None
        self.repeats = 1 if self.sim else 5
        self.on_row = None  # called after each pipeline row (writes partial outputs)

    # ---- clock
    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def fits(self, estimate_s: float) -> bool:
        return self.sim or estimate_s < self.left()

    # ---- device helpers
    def free_pool(self) -> None:
        """Give CuPy's cached device memory back between sizes."""
        if not self.sim:
            import cupy

            cupy.get_default_memory_pool().free_all_blocks()

    def sync(self) -> None:
        if not self.sim:
            import cupy

            cupy.cuda.Device().synchronize()

    def host(self, array):
        from kernels.backend import to_host

        return to_host(array)

    def dev(self, array):
        from kernels.backend import to_device

        return to_device(array, "cuda")

    def time_ms(self, fn, repeats: int | None = None):
        """Median and all CUDA-event times (ms) of ``fn()`` after one warm-up call.

        Under the simulator: runs ``fn`` once, returns ``(None, [])``.
        """
        if self.sim:
            fn()
            return None, []
        import cupy

        fn()
        self.sync()
        times = []
        for _ in range(repeats or self.repeats):
            start, end = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, end))
        return statistics.median(times), times

    # ---- rows
    def add_kernel(
        self,
        name: str,
        size: str,
        items: int,
        bytes_moved: float,
        ops: float,
        timing,
        check: str,
        target: str = "",
    ) -> dict:
        median_ms, times = timing
        row = {
            "kernel": name,
            "size": size,
            "items": int(items),
            "bytes_moved": float(bytes_moved),
            "ops": float(ops),
            "ops_per_byte": float(ops) / bytes_moved if bytes_moved else None,
            "median_ms": median_ms,
            "times_ms": times,
            "check": check,
            "target": target,
        }
        if median_ms:
            seconds = median_ms / 1e3
            row["gb_per_s"] = bytes_moved / seconds / 1e9
            row["gops_per_s"] = ops / seconds / 1e9
            if self.bandwidth_gbs:
                row["roofline_fraction"] = row["gb_per_s"] / self.bandwidth_gbs
        self.kernels.append(row)
        log(
            f"{name} [{size}]: {check}; "
            + (f"{median_ms:.3f} ms" if median_ms else "time not measured (simulator)")
        )
        return row

    def add_skip(self, name: str, size: str, reason: str) -> None:
        self.kernels.append({"kernel": name, "size": size, "check": f"skipped: {reason}"})
        log(f"{name} [{size}]: skipped ({reason})")

    def add_failure(self, name: str, size: str, exc: BaseException) -> None:
        text = f"ERROR {type(exc).__name__}: {exc}"[:300]
        self.kernels.append({"kernel": name, "size": size, "check": text})
        log(f"{name} [{size}]: {text}")
        traceback.print_exc()


def human(n_bytes: float) -> str:
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n_bytes >= factor:
            return f"{n_bytes / factor:.3g} {unit}"
    return f"{int(n_bytes)} B"


def equal_or_diff(got, want) -> str:
    import numpy as np

    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return f"DIFFERENT: shapes {got.shape} vs {want.shape}"
    if np.array_equal(got, want):
        return "equal"
    bad = np.flatnonzero((got != want).reshape(-1))
    return f"DIFFERENT: {bad.size} of {got.size} elements, first at flat index {int(bad[0])}"


def merge_checks(*results: str) -> str:
    for r in results:
        if not r.startswith("equal"):
            return r
    return results[0] if results else "equal"
