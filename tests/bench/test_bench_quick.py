"""``python -m bench all --quick`` runs end to end and its report has every section.

A smoke test for CI: no timing assertions. Without ``bench/.cache`` it runs on the
bundled ``sample/`` corpus (no network).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("datasketch", reason="the bench extra is not installed")


def test_bench_all_quick(tmp_path):
    out = tmp_path / "r.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "all", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = out.read_text()
    assert report.startswith("### ") and "(quick)" in report.splitlines()[0]
    for heading in (
        "#### Signatures",
        "#### Near-duplicate dedup",
        "#### Suffix array",
        "#### Repeated substrings and provenance flagging",
    ):
        assert heading in report, heading
    assert "FAILED" not in report, report
    for row in (
        "Ouroboros `engine.minhash`",
        "datasketch `MinHash.bulk`",
        "Ouroboros `engine.dedup`",
        "datasketch `MinHashLSH`",
        "text-dedup 0.4.0 MinHash",
        'Ouroboros `suffix_array(backend="cpu")`',
        "Ouroboros `engine.substr`",
    ):
        assert row in report, row
    assert "Machine: cpu " in report and "load average" in report
    # every dedup row is scored against the planted truth
    dedup = report.split("#### Near-duplicate dedup")[1].split("####")[0]
    scored = [line for line in dedup.splitlines() if line.startswith("| ") and "0." in line]
    assert len(scored) >= 4
