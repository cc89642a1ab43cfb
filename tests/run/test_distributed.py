"""Real multi-process runs: a `dask scheduler` and `dask worker` processes on 127.0.0.1,
a worker killed mid-run, and the whole run killed with SIGKILL and resumed."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import engine
from tests.dask_processes import dask_processes, wait_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "docs.jsonl.gz"
CLI = [sys.executable, "-m", "engine.cli"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "docs.jsonl"
    path.write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    return path


@pytest.fixture(scope="module")
def reference(corpus):
    return engine.dedup([str(corpus)], progress=False, scheduler="threads").clusters


@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and two single-threaded workers (no nanny), as separate processes."""
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    with dask_processes(scheduler_file, env) as workers:
        yield scheduler_file, workers


def _clusters(out: Path):
    return pq.read_table(out / "clusters.parquet")


def test_cli_on_a_running_dask_cluster(dask_cluster, corpus, reference, tmp_path):
    scheduler_file, _ = dask_cluster
    address = json.loads(scheduler_file.read_text())["address"]
    assert address.startswith("tcp://127.0.0.1:")
    out = tmp_path / "out"
    subprocess.run(
        CLI
        + [
            "dedup",
            str(corpus),
            "--out",
            str(out),
            "-q",
            "--scheduler",
            address,
            "--partition-size",
            "100KB",
        ],
        check=True,
        timeout=300,
    )
    assert _clusters(out).equals(reference)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scheduler"] == address and summary["counts"]["partitions"] > 5


def test_worker_killed_mid_run_still_finishes_identically(
    dask_cluster, corpus, reference, tmp_path
):
    scheduler_file, workers = dask_cluster
    out = tmp_path / "out"
    run = subprocess.Popen(
        CLI
        + [
            "dedup",
            str(corpus),
            "--out",
            str(out),
            "-q",
            "--scheduler",
            str(scheduler_file),
            "--partition-size",
            "8KB",
        ],
    )
    signatures = out / "_work" / "signatures"
    wait_for(
        lambda: signatures.exists() and any(signatures.glob("part-*.arrow")),
        120,
        "the first finished partition",
    )
    workers[0].send_signal(signal.SIGKILL)
    assert run.poll() is None, "the run ended before a worker could be killed"
    assert run.wait(timeout=300) == 0
    assert _clusters(out).equals(reference)


def test_whole_run_killed_then_rerun_resumes(corpus, reference, tmp_path):
    out = tmp_path / "out"
    command = CLI + [
        "dedup",
        str(corpus),
        "--out",
        str(out),
        "-q",
        "--scheduler",
        "threads",
        "--workers",
        "1",
        "--partition-size",
        "8KB",
    ]
    run = subprocess.Popen(command)
    signatures = out / "_work" / "signatures"
    wait_for(
        lambda: signatures.exists() and len(list(signatures.glob("part-*.arrow"))) >= 3,
        120,
        "three finished partitions",
    )
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert not (out / "clusters.parquet").exists()
    subprocess.run(command, check=True, timeout=300)
    assert _clusters(out).equals(reference)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["partitions_reused"] >= 3
