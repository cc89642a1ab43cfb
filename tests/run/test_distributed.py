"""Real multi-process runs: a `dask scheduler` and `dask worker` processes on 127.0.0.1,
a worker killed mid-run, and the whole run killed with SIGKILL and resumed."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import engine

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


def _wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.01):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and two single-threaded workers (no nanny), as separate processes."""
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    ]
    try:
        _wait_for(scheduler_file.exists, 60, "the scheduler file")
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "dask",
                        "worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
            )
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield scheduler_file, procs[1:]
    finally:
        for proc in reversed(procs):
            proc.kill()
            proc.wait()


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
    _wait_for(
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
    _wait_for(
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
