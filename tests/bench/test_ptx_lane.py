"""The compile lane's parts that need no CUDA toolchain (bench/ptx.py).

Discovery against the kernels' source, the signature table against the kernels'
parameters, the ptxas report parser on captured output, and the float64 / local-memory
detection on PTX captured from NVVM. The compile itself runs as ``python -m bench ptx``
in a venv with the ``ptx`` extra.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from bench import ptx

ROOT = Path(__file__).resolve().parents[2]

# ptxas 13.5 -v (names shortened, cmem trimmed): the anchor walk with its local list and
# a kernel that spills; then a CUDA 11-style Used line with lmem and smem.
PTXAS_SAMPLE = """\
ptxas info    : 8 bytes gmem, 8 bytes cmem[4]
ptxas info    : Compiling entry function '_ZN7kernels3lsh19bucket_edges_kernelB2v1E' for 'sm_80'
ptxas info    : Function properties for _ZN7kernels3lsh19bucket_edges_kernelB2v1E
    512 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 40 registers, used 0 barriers, 512 bytes cumulative stack size
ptxas info    : Compile time = 30.281 ms
ptxas info    : Compiling entry function '_ZN7kernels6spills6kernelE' for 'sm_90'
ptxas info    : Function properties for _ZN7kernels6spills6kernelE
    24 bytes stack frame, 16 bytes spill stores, 12 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 2048 bytes smem, 24 bytes cumulative stack size
ptxas info    : Compiling entry function '_Z3oldPj' for 'sm_70'
ptxas info    : Used 18 registers, 64 bytes lmem, 1024 bytes smem, 360 bytes cmem[0]
"""

# NVVM output for ``out[i] = np.uint64(x[i] / np.int64(3))`` (uint64 arrays), trimmed:
# a .f64 register declaration (a directive, not counted) and three f64 instructions.
PTX_F64 = """\
.visible .entry _ZN8__main__1fE(
\t.param .u64 _ZN8__main__1fE_param_0
)
{
\t.reg .pred \t%p<2>;
\t.reg .f64 \t%fd<3>;
\t.reg .b64 \t%rd<21>;
\tld.global.u64 \t%rd14, [%rd13];
\tcvt.rn.f64.u64 \t%fd1, %rd14;
\tdiv.rn.f64 \t%fd2, %fd1, 0d4008000000000000;
\tcvt.rzi.u64.f64 \t%rd15, %fd2;  // back to integer
\tst.global.u64 \t[%rd20], %rd15;
$L__BB0_2:
\tret;
}
"""

# NVVM output for a kernel with ``cuda.local.array(16, int64)`` indexed at run time.
PTX_LOCAL = """\
{
\t.local .align 16 .b8 \t__local_depot0[128];
\t.reg .b64 \t%SP;
\tmov.u64 \t%SPL, __local_depot0;
\tst.local.v2.u64 \t[%rd5], {%rd7, %rd6};
\tst.local.v2.u64 \t[%rd5+16], {%rd9, %rd8};
\t@%p1 ld.local.u64 \t%rd27, [%rd26];
\tld.global.u64 \t%rd28, [%rd27];
}
"""


# --------------------------------------------------------------------------- discovery


def _source_kernels() -> set[str]:
    """``kernels.module.function`` for every cuda.jit kernel written in kernels/*.py."""
    names = set()
    for path in sorted((ROOT / "kernels").glob("*.py")):
        for function in ptx.cuda_jit_functions(path.read_text()):
            names.add(f"kernels.{path.stem}.{function}")
    return names


def test_discovery_finds_every_kernel_written_in_kernels():
    found = ptx.discover_kernels()
    expected = _source_kernels()
    assert len(expected) >= 20
    assert set(found) == expected


def test_signature_table_covers_exactly_the_kernels_with_matching_arity():
    kernels = ptx.discover_kernels()
    assert ptx.check_table(kernels, ptx.signature_table()) == []


def test_cuda_jit_functions_reads_every_decorator_form():
    source = textwrap.dedent(
        """
        from numba import cuda
        import numba

        @cuda.jit
        def a(x): pass

        @cuda.jit("void(int64[:])")
        def b(x): pass

        @numba.cuda.jit(fastmath=False)
        def c(x): pass

        @cuda.jit(device=True)
        def helper(x): return x

        @numba.njit
        def twin(x): return x
        """
    )
    assert ptx.cuda_jit_functions(source) == ["a", "b", "c"]


@pytest.fixture
def extra_package(tmp_path, monkeypatch):
    """A package ``fakekernels`` with one table-less kernel and one device function."""
    package = tmp_path / "fakekernels"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "extra.py").write_text(
        textwrap.dedent(
            """
            from numba import cuda

            @cuda.jit(device=True)
            def helper(x):
                return x + 1

            @cuda.jit
            def extra_kernel(values, out):
                i = cuda.grid(1)
                if i < values.shape[0]:
                    out[i] = helper(values[i])
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fakekernels"
    for name in [m for m in sys.modules if m.startswith("fakekernels")]:
        del sys.modules[name]


def test_a_kernel_missing_from_the_table_fails_by_name(extra_package):
    found = ptx.discover_kernels(extra_package)
    assert list(found) == ["fakekernels.extra.extra_kernel"]  # the device function is not
    failures = ptx.check_table(found, ptx.signature_table())
    missing = [f for f in failures if f.startswith("fakekernels.extra.extra_kernel:")]
    assert len(missing) == 1 and "no argument types" in missing[0]
    # every real kernel's entry is now stale for this package: each is named too
    assert any(f.startswith("kernels.lsh.band_keys_kernel:") for f in failures)


def test_a_table_entry_with_the_wrong_arity_fails(extra_package):
    from numba import types as nt

    found = ptx.discover_kernels(extra_package)
    table = {"fakekernels.extra.extra_kernel": [(nt.Array(nt.int64, 1, "C"),)]}
    assert ptx.check_table(found, table) == [
        "fakekernels.extra.extra_kernel: signature_table() gives 1 argument types, "
        "the kernel takes 2"
    ]


def test_short_signature():
    from numba import types as nt

    argtypes = (nt.Array(nt.uint32, 2, "C"), nt.int64, nt.Array(nt.boolean, 1, "A"))
    assert ptx.short_signature(argtypes) == "(u32[,], i64, bool[] A)"


# --------------------------------------------------------------------------- ptxas report


def test_parse_ptxas_reads_registers_spills_local_and_shared_memory():
    anchors, spills, old = ptx.parse_ptxas(PTXAS_SAMPLE)
    assert (anchors.entry, anchors.arch) == ("_ZN7kernels3lsh19bucket_edges_kernelB2v1E", "sm_80")
    assert (anchors.registers, anchors.stack_frame, anchors.local_bytes) == (40, 512, 512)
    assert (anchors.spill_stores, anchors.spill_loads, anchors.smem) == (0, 0, 0)
    assert (spills.arch, spills.registers, spills.barriers) == ("sm_90", 255, 1)
    assert (spills.spill_stores, spills.spill_loads, spills.smem) == (16, 12, 2048)
    assert (old.registers, old.lmem, old.local_bytes, old.smem) == (18, 64, 64, 1024)


def test_parse_ptxas_ignores_text_before_the_first_entry():
    assert ptx.parse_ptxas("ptxas info    : 8 bytes gmem\n") == []


# --------------------------------------------------------------------------- PTX scan


def test_scan_ptx_counts_f64_instructions_not_directives():
    scan = ptx.scan_ptx(PTX_F64)
    assert scan.f64_instructions == 3
    assert (scan.local_instructions, scan.local_depot_bytes) == (0, 0)


def test_scan_ptx_finds_local_memory():
    scan = ptx.scan_ptx(PTX_LOCAL)
    assert (scan.local_instructions, scan.local_depot_bytes) == (3, 128)
    assert scan.f64_instructions == 0


def _usage(**sizes) -> ptx.PtxasUsage:
    return ptx.PtxasUsage(entry="e", arch="sm_90", registers=32, **sizes)


def test_judge_fails_f64_local_memory_and_spills():
    clean = ptx.PtxScan(0, 0, 0)
    assert ptx.judge("kernels.x.k", clean, _usage()) == []
    [f64] = ptx.judge("kernels.x.k", ptx.scan_ptx(PTX_F64), _usage())
    assert "3 float64 instructions" in f64
    [local] = ptx.judge("kernels.x.k", ptx.scan_ptx(PTX_LOCAL), _usage(stack_frame=128))
    assert "local memory in a hot kernel (128 bytes" in local
    [spill] = ptx.judge("kernels.x.k", clean, _usage(spill_stores=8, spill_loads=8))
    assert spill.startswith("register spill")


def test_judge_allows_local_memory_only_for_allow_listed_kernels():
    allowed = "kernels.lsh.bucket_edges_kernel"
    assert allowed in ptx.LOCAL_MEMORY_ALLOWED
    scan = ptx.scan_ptx(PTX_LOCAL)
    assert ptx.judge(allowed, scan, _usage(stack_frame=512)) == []
    # an allow-listed kernel still fails on a spill
    assert ptx.judge(allowed, scan, _usage(stack_frame=512, spill_stores=4)) != []


def test_report_has_one_row_per_compile_and_lists_failures():
    usage = _usage(stack_frame=0)
    rows = [
        ptx.Row("kernels.a.k", "(i64[])", "sm_80", usage, ptx.PtxScan(0, 0, 0)),
        ptx.Row("kernels.a.k", "(i64[])", "sm_90", failures=["compile error: boom"]),
    ]
    text = ptx.render_report(rows, ["kernels.b.k: no argument types"], {"ptxas": "13.5"})
    table = [line for line in text.splitlines() if line.startswith("| `")]
    assert table == [
        "| `kernels.a.k` | `(i64[])` | sm_80 | 32 | 0 | 0 | 0 | 0 | 0 | ok |",
        "| `kernels.a.k` | `(i64[])` | sm_90 | - | - | - | - | - | - | FAIL |",
    ]
    assert "Failures: 2" in text
    assert "- kernels.a.k [sm_90]: compile error: boom" in text


def test_lane_without_the_toolchain_exits_2_with_the_install_hint(tmp_path, capsys, monkeypatch):
    def missing():
        raise ptx.ToolchainMissing(f"numba-cuda is missing; {ptx.INSTALL_HINT}")

    monkeypatch.setattr(ptx, "_check_toolchain", missing)
    assert ptx.main(["--report", str(tmp_path / "r.md")]) == 2
    assert ".[ptx]" in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()
