"""bench/gpu_check.py runs end to end under the CUDA simulator (tiny sizes), by phase.

The script re-executes itself with ``NUMBA_ENABLE_CUDASIM=1``, so it runs in a
subprocess here; every kernel row must say "equal" (its CUDA kernel gave the same bits
as its CPU twin) and both output files must be written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_check(tmp_path, *extra):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_check.py"), str(tmp_path), "--sim", *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def load(tmp_path, stem):
    md = (tmp_path / f"{stem}.md").read_text()
    raw = json.loads((tmp_path / f"{stem}.json").read_text())
    assert raw["device"]["mode"].startswith("CUDA simulator")
    assert raw["complete"] is True and "Partial" not in md
    # the pre-flight passes under the simulator, is recorded, and comes first in the report
    assert raw["preflight"]["ok"] is True
    assert [c["name"] for c in raw["preflight"]["checks"]] == ["driver", "nvvm", "cupy", "kernel"]
    assert {c["status"] for c in raw["preflight"]["checks"]} == {"simulator"}
    assert md.index("## Pre-flight") < md.index("## Kernels vs CPU twins")
    return md, raw


def check_skewed_rows(kernels):
    """Long-tail and duplicate-heavy batches: text kernels and suffix array vs CPU twins."""
    for name in ("long-tail", "duplicate-heavy"):
        rows = {r["kernel"].split(" ")[0]: r for r in kernels if r.get("input") == name}
        assert set(rows) == {"tokenize_kernel", "signatures()", "suffix_array", "lcp_array"}, rows
        for row in rows.values():
            assert row["check"].startswith("equal"), row
    dup = [r for r in kernels if r.get("input") == "duplicate-heavy"]
    assert any(r["check"] == "equal (copies share signatures)" for r in dup)
    lcp = next(r for r in dup if r["kernel"].startswith("lcp_array"))
    assert lcp["longest_lcp"] >= 100  # copies make long shared prefixes


def test_gpu_check_sim_kernels_phase_alone(tmp_path):
    proc = run_check(tmp_path, "--phase", "kernels")
    assert proc.stdout.index("pre-flight passed") < proc.stdout.index("tokenize_kernel")
    assert not (tmp_path / "gpu_check.json").exists()
    md, raw = load(tmp_path, "gpu_check_kernels")
    assert raw["phase"] == "kernels" and raw["pipelines"] == []
    check_skewed_rows(raw["kernels"])


def test_gpu_check_sim_pipelines_phase_alone(tmp_path):
    run_check(tmp_path, "--phase", "pipelines")
    md, raw = load(tmp_path, "gpu_check_pipelines")
    assert raw["phase"] == "pipelines" and raw["kernels"] == []
    checks = {p["pipeline"]: p["check"] for p in raw["pipelines"]}
    assert checks["dedup slice: clusters cuda vs cpu"] == "equal"
    assert checks["substr slice: spans cuda vs cpu"] == "equal"


def test_gpu_check_sim(tmp_path):
    run_check(tmp_path)
    md, raw = load(tmp_path, "gpu_check")
    assert raw["phase"] == "all"
    kernels = raw["kernels"]
    check_skewed_rows(kernels)
    names = {row["kernel"].split(" ")[0] for row in kernels}
    for expected in (
        "tokenize_kernel",
        "shingle_kernel",
        "shingle_count_kernel",
        "minhash_kernel",
        "signatures()",
        "band_keys_kernel",
        "bucket_edges_kernel",
        "connected_components",
        "_initial_keys_kernel",
        "_heads_from_keys_kernel",
        "_ranks_from_heads_kernel",
        "_scatter_ranks_kernel",
        "_unsorted_mask_kernel",
        "_pair_keys_kernel",
        "_narrow_keys_kernel",
        "_apply_order_kernel",
        "_refine_heads_kernel",
        "suffix_array",
        "_phi_kernel",
        "_plcp_chunks_kernel",
        "_gather_lcp_kernel",
        "lcp_array",
    ):
        assert expected in names, f"{expected} missing from the kernel rows"
    for row in kernels:
        assert row["check"].startswith("equal"), row
        assert row["median_ms"] is None  # no CUDA events under the simulator
        assert f"| {row['kernel']} |" in md
    assert "not measured" in md
    assert raw["bandwidth_gb_per_s"] is None
    pipelines = {p["pipeline"]: p for p in raw["pipelines"]}
    assert pipelines["dedup slice: clusters cuda vs cpu"]["check"] == "equal"
    assert pipelines["substr slice: spans cuda vs cpu"]["check"] == "equal"
    provenance = pipelines["provenance slice: flags cuda vs cpu (ReferenceIndex.match)"]
    assert provenance["check"] == "equal" and provenance["flagged"] > 0
    assert all(p["check"] in ("equal", "ran") for p in raw["pipelines"]), raw["pipelines"]


def test_gpu_check_stops_when_the_preflight_fails(tmp_path):
    """Without a device (the CPU lane): exit 2, the missing piece named, outputs written."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    probe = subprocess.run(
        [sys.executable, "-c", "from kernels.preflight import run_preflight as r; print(r().ok)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.stdout.strip() == "True":
        pytest.skip("a CUDA device is usable here")
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_check.py"), str(tmp_path), "--phase", "kernels"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "pre-flight failed at" in proc.stderr and "Fix:" in proc.stderr
    raw = json.loads((tmp_path / "gpu_check_kernels.json").read_text())
    assert raw["preflight"]["ok"] is False and raw["complete"] is False
    assert "Stopped: the pre-flight failed" in (tmp_path / "gpu_check_kernels.md").read_text()
