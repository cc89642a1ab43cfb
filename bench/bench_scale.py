"""Whole-dedup throughput and peak memory on a generated corpus of a given size.

    python -m bench.bench_scale --size 1GB [--partition-size 256MB] [--backend cpu]

Generates ``bench/.cache/scaled_<size>.jsonl`` from real human text once
(:func:`bench.corpus.make_scaled_corpus`, needs ``python -m bench prepare-text``), then
runs ``ouroboros dedup`` on it in a child process and reports wall time, MB/s of JSONL
text, per-stage timings from summary.json and the child's peak RSS. Prints a Markdown
table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.inputs import parse_size

CACHE = Path(__file__).resolve().parent / ".cache"


def ensure_corpus(size: str, seed: int) -> Path:
    path = CACHE / f"scaled_{size}.jsonl"
    if not path.exists():
        from bench.corpus import make_scaled_corpus

        print(f"generating {path} ...", file=sys.stderr)
        make_scaled_corpus(parse_size(size), path, seed=seed)
    return path


def run_dedup(path: Path, out: Path, args: argparse.Namespace) -> tuple[float, float, dict]:
    """Run the CLI in a child; returns (wall seconds, child peak RSS in MiB, summary)."""
    command = [
        sys.executable,
        "-m",
        "engine.cli",
        "dedup",
        str(path),
        "--out",
        str(out),
        "-q",
        "--backend",
        args.backend,
        "--partition-size",
        args.partition_size,
    ]
    if args.workers:
        command += ["--workers", str(args.workers)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = json.loads((out / "summary.json").read_text())
    return wall, peak_mib, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GB", help="corpus text size, e.g. 100MB, 1GB")
    parser.add_argument("--partition-size", default="256MB")
    parser.add_argument("--backend", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    path = ensure_corpus(args.size, args.seed)
    out = Path(tempfile.mkdtemp(prefix="ouroboros-scale-"))
    try:
        wall, peak_mib, summary = run_dedup(path, out, args)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    counts = summary["counts"]
    mb = counts["bytes"] / 1e6
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, backend {summary['backend']}"
    )
    print()
    print(
        "| corpus | documents | text MB | partitions | wall s | MB/s | peak RSS MiB | stages (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    stages = ", ".join(f"{k} {v:.1f}" for k, v in summary["timings_s"].items())
    print(
        f"| {path.name} | {counts['documents']} | {mb:.0f} | {counts['partitions']} | "
        f"{wall:.1f} | {mb / wall:.1f} | {peak_mib:.0f} | {stages} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
