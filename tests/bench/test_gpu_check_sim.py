"""bench/gpu_check.py runs end to end under the CUDA simulator (tiny sizes).

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

REPO = Path(__file__).resolve().parents[2]


def test_gpu_check_sim(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "gpu_check.py"), str(tmp_path), "--sim"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    md = (tmp_path / "gpu_check.md").read_text()
    raw = json.loads((tmp_path / "gpu_check.json").read_text())
    assert raw["device"]["mode"].startswith("CUDA simulator")
    assert raw["complete"] is True and "Partial" not in md
    kernels = raw["kernels"]
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
