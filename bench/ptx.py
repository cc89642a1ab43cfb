"""The compile lane: every CUDA kernel in ``kernels/`` compiled to PTX and assembled, no GPU.

    python -m bench ptx [--out DIR] [--report FILE] [--ptxas PATH]

Needs the ``ptx`` extra (``pip install -e '.[ptx]'``): numba-cuda with NVIDIA's compiler
wheels (NVVM for PTX, ``ptxas`` from the nvcc wheel). No driver and no device are used.

What it does:

1. Finds every ``@cuda.jit`` kernel by importing each module of the ``kernels`` package
   and collecting its CUDA dispatchers (a kernel is named ``module.function``).
2. Looks each one up in :func:`signature_table`: the argument types the pipeline launches
   it with (dtype, dimensions and C layout of every array, int64 for Python ints). A
   kernel without an entry, an entry without a kernel, or an entry whose argument count
   differs from the kernel's fails the lane by name.
3. Compiles each (kernel, signature) to PTX for every arch in :data:`ARCHES` with
   ``numba.cuda.compile_ptx`` and assembles it with ``ptxas -v``, whose report gives
   registers, spill stores/loads, stack frame (local memory) and shared memory.
4. Scans the PTX for float64 instructions and local-memory accesses.
5. Writes a Markdown table (``bench/ptx_report.md``) and exits 1 when a kernel fails:

   - it does not compile (NVVM or ptxas error), or a device helper it calls needs a live
     driver to link (shared ``@numba.njit`` helpers must be ``inline="always"``);
   - ptxas reports a spill (any kernel);
   - it uses local memory (PTX ``.local`` accesses, or a ptxas stack frame / lmem) and
     is not in :data:`LOCAL_MEMORY_ALLOWED`. Every kernel here runs once per document,
     bucket, edge, node or text position over the whole corpus, so every kernel counts
     as hot; an allow-list entry says why its local array is by design;
   - it has float64 instructions and is not in :data:`FLOAT64_ALLOWED`. Every kernel
     here is meant to be integer-only; float64 in one is almost always an int64/uint64
     mix that numba silently promotes to float64.

Exit status: 0 all kernels pass, 1 a kernel fails (one line per failure on stderr,
``kernel [arch]: reason``), 2 the toolchain is missing (the message says what to install).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ARCHES = ((8, 0), (9, 0))
REPORT = Path(__file__).resolve().parent / "ptx_report.md"
INSTALL_HINT = "pip install -e '.[ptx]'  (numba-cuda with the CUDA 13 compiler wheels)"

# Kernels whose local memory is by design: name -> why.
LOCAL_MEMORY_ALLOWED = {
    "kernels.lsh.bucket_edges_kernel": (
        "per-thread anchor list, cuda.local.array(64, int64) = 512 bytes: one bucket's "
        "anchors must stay private to its thread and indexable by a runtime count"
    ),
}
# Kernels allowed float64 instructions: name -> why. None: every kernel is integer-only.
FLOAT64_ALLOWED: dict[str, str] = {}


class ToolchainMissing(RuntimeError):
    """numba-cuda, NVVM or ptxas is not installed; the message names the install step."""


# --------------------------------------------------------------------------- the table


def signature_table() -> dict[str, list[tuple]]:
    """Argument types of every kernel, as the pipeline launches it.

    Returns:
        ``{"kernels.module.kernel": [argtypes, ...]}``, each ``argtypes`` a tuple of
        numba types, one per kernel parameter. Arrays are C-contiguous (CuPy allocations
        and the results of fancy indexing); Python ints and NumPy int64 scalars type as
        int64. ``tests/sim/test_sim_ptx_signatures.py`` checks this table against the
        types actually launched by the public functions under the simulator.
    """
    from numba import types as nt

    def arr(dtype, ndim=1):
        return nt.Array(dtype, ndim, "C")

    u8, u16, u32, u64 = arr(nt.uint8), arr(nt.uint16), arr(nt.uint32), arr(nt.uint64)
    i32, i64, flags = arr(nt.int32), arr(nt.int64), arr(nt.boolean)
    sig2d, keys2d = arr(nt.uint32, 2), arr(nt.uint64, 2)
    n = nt.int64  # Python ints and np.int64 scalars
    return {
        # kernels.lsh.band_keys: signatures (n, K) -> band keys (n, bands)
        "kernels.lsh.band_keys_kernel": [(sig2d, n, n, keys2d)],
        # kernels.preflight.probe_kernel: 64 int32 values, each + 1
        "kernels.preflight.add_one": [(i32,)],
        # kernels.lsh._edges_in_sorted_buckets: members, bucket_starts, signatures,
        # min_matches, max_anchors, src, unverified
        "kernels.lsh.bucket_edges_kernel": [(i64, i64, sig2d, n, n, i64, flags)],
        # kernels.minhash.signatures: shingles, offsets, shingle_counts, a, b, out
        "kernels.minhash.minhash_kernel": [(u64, i64, i64, u64, u64, sig2d)],
        # kernels.minhash.signatures: data, offsets, codepoint table, mode, tokens, counts
        "kernels.shingle.tokenize_kernel": [(u8, i64, u32, n, u64, i64)],
        "kernels.shingle.shingle_kernel": [(u64, i64, i64, n, u64)],
        "kernels.shingle.shingle_count_kernel": [(i64, n, i64)],
        # kernels.suffix_array._cuda_steps: uint8 bytes and uint16 tokens
        "kernels.suffix_array._initial_keys_kernel": [(u8, u64, n, n), (u16, u64, n, n)],
        "kernels.suffix_array._heads_from_keys_kernel": [(u64, u8)],
        "kernels.suffix_array._ranks_from_heads_kernel": [(i64, i64, i64)],
        "kernels.suffix_array._scatter_ranks_kernel": [(i64, i64, i64, i64)],
        "kernels.suffix_array._unsorted_mask_kernel": [(u8, u8)],
        "kernels.suffix_array._pair_keys_kernel": [(i64, i64, i64, i64, n, i64, i64)],
        "kernels.suffix_array._narrow_keys_kernel": [(i64, i64, u64)],
        "kernels.suffix_array._apply_order_kernel": [(i64, i64, i64, i64, i64, i64)],
        "kernels.suffix_array._refine_heads_kernel": [(i64, i64, i64, u8)],
        # kernels.lcp._lcp_phi_cuda: uint8 bytes and uint16 tokens
        "kernels.lcp._phi_kernel": [(i64, i64)],
        "kernels.lcp._plcp_chunks_kernel": [(u8, i64, n, n, i64), (u16, i64, n, n, i64)],
        "kernels.lcp._gather_lcp_kernel": [(i64, i64, i64)],
        # kernels.union_find.connected_components: src, dst, parent, changed (int32)
        "kernels.union_find.hook_kernel": [(i64, i64, i64, i32)],
        "kernels.union_find.jump_kernel": [(i64, i32)],
    }


def short_type(numba_type) -> str:
    """Compact name of a numba type: ``u8[]`` (1-d array), ``u32[,]`` (2-d), ``i64``."""
    names = {"uint": "u", "int": "i", "float": "f", "boolean": "bool", "bool": "bool"}

    def scalar(t) -> str:
        text = str(t)
        for long, short in names.items():
            if text.startswith(long) and text[len(long) :].isdigit():
                return short + text[len(long) :]
        return names.get(text, text)

    ndim = getattr(numba_type, "ndim", None)
    if ndim is None:
        return scalar(numba_type)
    layout = "" if numba_type.layout == "C" else f" {numba_type.layout}"
    return f"{scalar(numba_type.dtype)}[{',' * (ndim - 1)}]{layout}"


def short_signature(argtypes) -> str:
    return "(" + ", ".join(short_type(t) for t in argtypes) + ")"


# --------------------------------------------------------------------------- discovery


def _kernel_types() -> tuple[type, ...]:
    """The classes ``@cuda.jit`` kernels are instances of (real target or simulator)."""
    from numba.cuda import config

    if config.ENABLE_CUDASIM:
        from numba.cuda.simulator.kernel import FakeCUDAKernel

        return (FakeCUDAKernel,)
    from numba.cuda.dispatcher import CUDADispatcher

    return (CUDADispatcher,)


def discover_kernels(package: str = "kernels") -> dict[str, object]:
    """Every CUDA kernel defined in a module of ``package`` (imported by name).

    Returns:
        ``{"package.module.function": dispatcher}``, sorted by name. A kernel imported
        into another module is listed once, under the module that defines it; device
        functions (``device=True``) are not kernels and are left out.
    """
    kinds = _kernel_types()
    root = importlib.import_module(package)
    found = {}
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{info.name}")
        for value in vars(module).values():
            if not isinstance(value, kinds):
                continue
            py_func = value.py_func
            if py_func.__module__ != module.__name__:
                continue
            if getattr(value, "targetoptions", {}).get("device") or getattr(
                value, "_device", False
            ):
                continue
            found[f"{module.__name__}.{py_func.__name__}"] = value
    return dict(sorted(found.items()))


def cuda_jit_functions(source: str) -> list[str]:
    """Names of the functions in Python ``source`` decorated with ``cuda.jit`` (any
    form: ``@cuda.jit``, ``@cuda.jit(...)``, ``@numba.cuda.jit``) but not device ones."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if ast.unparse(target).split(".")[-2:] != ["cuda", "jit"]:
                continue
            device = call and any(
                k.arg == "device" and ast.unparse(k.value) == "True" for k in call.keywords
            )
            if not device:
                names.append(node.name)
    return names


def check_table(kernels: dict[str, object], table: dict[str, list[tuple]]) -> list[str]:
    """Failures (one message each) where the signature table and the kernels disagree."""
    failures = []
    for name, kernel in kernels.items():
        if name not in table:
            failures.append(
                f"{name}: no argument types in bench/ptx.py signature_table(); add the "
                "types the pipeline launches it with"
            )
            continue
        n_params = len(inspect.signature(kernel.py_func).parameters)
        for argtypes in table[name]:
            if len(argtypes) != n_params:
                failures.append(
                    f"{name}: signature_table() gives {len(argtypes)} argument types, "
                    f"the kernel takes {n_params}"
                )
    for name in table:
        if name not in kernels:
            failures.append(f"{name}: in signature_table() but no such kernel in kernels/")
    return failures


# --------------------------------------------------------------------------- PTX and ptxas


@dataclass(frozen=True)
class PtxScan:
    """What the PTX text of one kernel shows.

    ``f64_instructions``: instructions with a ``.f64`` operand type (count);
    ``local_instructions``: ``ld.local``/``st.local`` instructions (count);
    ``local_depot_bytes``: bytes of ``__local_depot`` arrays declared (bytes).
    """

    f64_instructions: int
    local_instructions: int
    local_depot_bytes: int


_F64 = re.compile(r"\.f64\b")
_LOCAL_OP = re.compile(r"^\s*(?:@!?%\w+\s+)?(?:ld|st|atom|red)\.local\b")
_DEPOT = re.compile(r"\.local\s+\.align\s+\d+\s+\.b8\s+__local_depot\d+\[(\d+)\]")


def scan_ptx(ptx: str) -> PtxScan:
    """Count float64 instructions and local-memory use in PTX text (see :class:`PtxScan`).

    Directives (``.reg .f64``, ``.param``), comments and labels are not instructions.
    """
    f64 = local_ops = depot = 0
    for raw in ptx.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        match = _DEPOT.search(line)
        if match:
            depot += int(match.group(1))
            continue
        if line.startswith((".", "{", "}")) or line.endswith(":"):
            continue
        if _F64.search(line):
            f64 += 1
        if _LOCAL_OP.match(line):
            local_ops += 1
    return PtxScan(f64, local_ops, depot)


@dataclass
class PtxasUsage:
    """One entry function in a ``ptxas -v`` report. Sizes in bytes."""

    entry: str
    arch: str
    registers: int = 0
    spill_stores: int = 0
    spill_loads: int = 0
    stack_frame: int = 0
    lmem: int = 0
    smem: int = 0
    barriers: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def local_bytes(self) -> int:
        """Local memory per thread: the larger of the stack frame and ``lmem``."""
        return max(self.stack_frame, self.lmem)


_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\w+)'")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_SIZES = {"lmem": re.compile(r"(\d+) bytes lmem"), "smem": re.compile(r"(\d+) bytes smem")}
_BARRIERS = re.compile(r"used (\d+) barriers")


def parse_ptxas(text: str) -> list[PtxasUsage]:
    """Entry functions and their resources from ``ptxas -v`` output (stdout + stderr).

    Understands the CUDA 11-13 formats: ``Used N registers, N bytes smem, ...`` with or
    without ``used N barriers`` and ``N bytes cumulative stack size``, and the
    ``N bytes stack frame, N bytes spill stores, N bytes spill loads`` line.
    """
    entries: list[PtxasUsage] = []
    for line in text.splitlines():
        match = _ENTRY.search(line)
        if match:
            entries.append(PtxasUsage(entry=match.group(1), arch=match.group(2)))
            continue
        if not entries:
            continue
        current = entries[-1]
        if "warning" in line.lower():
            current.warnings.append(line.strip())
        frame = _FRAME.search(line)
        if frame:
            current.stack_frame, current.spill_stores, current.spill_loads = (
                int(g) for g in frame.groups()
            )
        used = _USED.search(line)
        if used:
            current.registers = int(used.group(1))
            for name, pattern in _SIZES.items():
                size = pattern.search(line)
                if size:
                    setattr(current, name, int(size.group(1)))
            barriers = _BARRIERS.search(line)
            if barriers:
                current.barriers = int(barriers.group(1))
    return entries


def find_ptxas(explicit: str | None = None) -> str:
    """Path of ``ptxas``: ``explicit``, the nvcc wheel's, or the one on PATH."""
    if explicit:
        return explicit
    try:
        from cuda.pathfinder import find_nvidia_binary_utility

        found = find_nvidia_binary_utility("ptxas")
    except ImportError:
        found = None
    found = found or shutil.which("ptxas")
    if not found:
        raise ToolchainMissing(f"ptxas not found; install the lane's extra: {INSTALL_HINT}")
    return found


def compile_ptx(kernel, argtypes, cc: tuple[int, int]) -> str:
    """PTX text of ``kernel`` (a CUDA dispatcher) for ``argtypes`` and compute capability
    ``cc``, with the kernel's own fastmath/lineinfo/debug/opt options. Needs no driver."""
    from numba import cuda
    from numba.core import types

    options = getattr(kernel, "targetoptions", {})
    kwargs = {k: options[k] for k in ("fastmath", "lineinfo", "debug", "opt") if k in options}
    ptx, _ = cuda.compile_ptx(kernel.py_func, types.void(*argtypes), cc=cc, **kwargs)
    return ptx


def assemble(ptxas: str, ptx_path: Path, arch: str) -> tuple[PtxasUsage, str]:
    """Run ``ptxas -v`` on one PTX file; returns its usage and the raw report.

    Raises:
        RuntimeError: ptxas failed (its message included).
    """
    cubin = ptx_path.with_suffix(".cubin")
    result = subprocess.run(
        [ptxas, f"-arch={arch}", "-v", str(ptx_path), "-o", str(cubin)],
        capture_output=True,
        text=True,
        check=False,
    )
    text = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"ptxas failed: {text.strip()[:800]}")
    entries = parse_ptxas(text)
    if len(entries) != 1:
        raise RuntimeError(f"expected one entry function in ptxas -v output, got {len(entries)}")
    return entries[0], text


# --------------------------------------------------------------------------- judging


@dataclass
class Row:
    """One (kernel, signature, arch) of the report."""

    kernel: str
    types: str
    arch: str
    usage: PtxasUsage | None = None
    scan: PtxScan | None = None
    failures: list[str] = field(default_factory=list)


def judge(kernel: str, scan: PtxScan, usage: PtxasUsage) -> list[str]:
    """Reasons this compiled kernel fails the lane (empty when it passes)."""
    reasons = []
    if usage.spill_stores or usage.spill_loads:
        reasons.append(
            f"register spill ({usage.spill_stores} bytes stored, {usage.spill_loads} "
            f"bytes loaded at {usage.registers} registers)"
        )
    uses_local = usage.local_bytes or scan.local_instructions or scan.local_depot_bytes
    if uses_local and kernel not in LOCAL_MEMORY_ALLOWED:
        reasons.append(
            f"local memory in a hot kernel ({usage.local_bytes} bytes per thread, "
            f"{scan.local_instructions} .local instructions); keep per-thread state in "
            "scalars or allow-list it in LOCAL_MEMORY_ALLOWED with the reason"
        )
    if scan.f64_instructions and kernel not in FLOAT64_ALLOWED:
        reasons.append(
            f"{scan.f64_instructions} float64 instructions in an integer-only kernel "
            "(an int64/uint64 mix promotes to float64: type constants and operands "
            "explicitly, e.g. np.uint64(x))"
        )
    return reasons


def _first_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    lines = [line for line in text.splitlines() if line.strip()]
    summary = " ".join(lines[:3])
    if "driver" in text.lower():
        summary += (
            " (a device helper is compiled as a separate function and linking it asks "
            "the driver: make shared @numba.njit helpers inline='always')"
        )
    return summary


def run_lane(kernels, table, ptxas: str, work: Path, arches=ARCHES) -> list[Row]:
    """Compile and assemble every (kernel, signature, arch); one :class:`Row` each."""
    rows = []
    for name, kernel in kernels.items():
        for index, argtypes in enumerate(table.get(name, [])):
            for cc in arches:
                arch = f"sm_{cc[0]}{cc[1]}"
                row = Row(name, short_signature(argtypes), arch)
                rows.append(row)
                stem = f"{name.split('.', 1)[1]}.{index}.{arch}"
                try:
                    ptx = compile_ptx(kernel, argtypes, cc)
                except Exception as error:  # NVVM, typing and linking errors alike
                    row.failures.append(f"compile error: {_first_line(error)}")
                    continue
                ptx_path = work / f"{stem}.ptx"
                ptx_path.write_text(ptx)
                try:
                    row.usage, report = assemble(ptxas, ptx_path, arch)
                except RuntimeError as error:
                    row.failures.append(str(error))
                    continue
                (work / f"{stem}.ptxas.txt").write_text(report)
                row.scan = scan_ptx(ptx)
                row.failures.extend(judge(name, row.scan, row.usage))
    return rows


# --------------------------------------------------------------------------- report


def toolchain_versions(ptxas: str) -> dict[str, str]:
    """Versions of numba, numba-cuda, NVVM and ptxas (strings)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("numba", "numba-cuda"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    try:
        from numba.cuda.cudadrv import nvvm

        versions["NVVM"] = ".".join(map(str, nvvm.NVVM().get_version()))
    except Exception as error:  # reported, not fatal: the compile itself will fail loudly
        versions["NVVM"] = f"unknown ({type(error).__name__})"
    out = subprocess.run([ptxas, "--version"], capture_output=True, text=True, check=False)
    release = [line for line in out.stdout.splitlines() if "release" in line]
    versions["ptxas"] = release[-1].strip() if release else "unknown"
    return versions


def render_report(rows: list[Row], table_failures: list[str], versions: dict) -> str:
    """The Markdown report: toolchain, one table row per (kernel, types, arch), failures."""
    lines = [
        "# Compile lane: CUDA kernels to PTX and SASS",
        "",
        "Generated by `python -m bench ptx` (bench/ptx.py); no GPU involved. Sizes in "
        "bytes per thread except shared memory (bytes per block, static).",
        "",
        "Toolchain: " + "; ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "| kernel | argument types | arch | registers | spill stores | spill loads "
        "| local bytes | shared bytes | f64 instructions | result |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        usage, scan = row.usage, row.scan
        figures = (
            [usage.registers, usage.spill_stores, usage.spill_loads, usage.local_bytes]
            + [usage.smem, scan.f64_instructions]
            if usage and scan
            else ["-"] * 6
        )
        result = "FAIL" if row.failures else "ok"
        if not row.failures and row.kernel in LOCAL_MEMORY_ALLOWED and usage.local_bytes:
            result = "ok (local memory allowed)"
        cells = [f"`{row.kernel}`", f"`{row.types}`", row.arch, *map(str, figures), result]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Fails on: a compile error, a spill, float64 instructions (every kernel is "
        "integer-only), local memory outside the allow-list (every kernel runs once per "
        "document, bucket, edge, node or text position, so every kernel is hot).",
        "",
        "Local memory allowed by design:",
        "",
    ]
    lines += [f"- `{name}`: {why}" for name, why in LOCAL_MEMORY_ALLOWED.items()]
    failures = table_failures + [f"{r.kernel} [{r.arch}]: {f}" for r in rows for f in r.failures]
    lines += ["", f"Failures: {len(failures)}", ""]
    lines += [f"- {failure}" for failure in failures]
    return "\n".join(lines).rstrip() + "\n"


def _check_toolchain() -> None:
    """Raise :class:`ToolchainMissing` unless numba-cuda and its NVVM are usable.

    numba's own deprecated ``numba.cuda`` (no numba-cuda installed) is refused even when
    a system CUDA makes it work: devices run numba-cuda, so the lane compiles with it.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("numba-cuda")
    except PackageNotFoundError as error:
        raise ToolchainMissing(f"numba-cuda is not installed; {INSTALL_HINT}") from error
    try:
        from numba.cuda.cudadrv import nvvm

        nvvm.NVVM()
    except ImportError as error:
        raise ToolchainMissing(f"numba-cuda is missing ({error}); {INSTALL_HINT}") from error
    except Exception as error:
        raise ToolchainMissing(f"NVVM is not usable ({error}); {INSTALL_HINT}") from error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ptx", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="keep the .ptx, .cubin and ptxas reports here")
    parser.add_argument("--report", type=Path, default=REPORT, help=f"default: {REPORT}")
    parser.add_argument("--ptxas", help="path of ptxas (default: the nvcc wheel's, or PATH)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        _check_toolchain()
        ptxas = find_ptxas(args.ptxas)
    except ToolchainMissing as error:
        print(f"bench ptx: {error}", file=sys.stderr)
        return 2
    kernels = discover_kernels()
    table = signature_table()
    table_failures = check_table(kernels, table)
    with tempfile.TemporaryDirectory(prefix="ouroboros-ptx-") as scratch:
        work = args.out or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        rows = run_lane(kernels, table, ptxas, work)
    report = render_report(rows, table_failures, toolchain_versions(ptxas))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report)
    failures = table_failures + [f"{r.kernel} [{r.arch}]: {f}" for r in rows for f in r.failures]
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(
        f"bench ptx: {len(kernels)} kernels, {len(rows)} compiles, {len(failures)} failures "
        f"in {elapsed:.1f} s; report: {args.report}",
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
