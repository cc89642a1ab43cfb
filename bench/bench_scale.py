"""Whole-dedup throughput, time per stage and peak memory on generated corpora.

    python -m bench.bench_scale --size 0.5GB,1GB,2GB,5GB [--scheduler local] [--workers 2]

For each size, generates ``bench/.cache/scaled_<size>.jsonl`` from real human text
once (:func:`bench.corpus.make_scaled_corpus`, needs ``python -m bench prepare-text``),
runs ``ouroboros dedup`` on it in a child process and reports wall time, MB/s of text,
per-stage seconds from summary.json, the peak RSS of the busiest worker task and of
the driver (summary.json ``memory``), and the peak RSS of the whole process tree.
Prints a Markdown table.
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

from engine.io import parse_size

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
        "--scheduler",
        args.scheduler,
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
    parser.add_argument("--size", default="1GB", help="corpus sizes, comma-separated: 1GB,2GB")
    parser.add_argument("--partition-size", default="256MB")
    parser.add_argument("--backend", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--scheduler", default="local")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rows = []
    for size in args.size.split(","):
        path = ensure_corpus(size.strip(), args.seed)
        out = Path(tempfile.mkdtemp(prefix="ouroboros-scale-"))
        try:
            wall, tree_peak_mib, summary = run_dedup(path, out, args)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        rows.append((path, wall, tree_peak_mib, summary))
        _print_table(rows, args)
    return 0


def _print_table(rows, args) -> None:
    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, backend {args.backend}, scheduler "
        f"{args.scheduler}, partition {args.partition_size}, load {load[0]:.1f}"
    )
    print()
    print(
        "| corpus | documents | text MB | parts | ranges | wall s | MB/s | signatures s | "
        "shuffle s | edges s | components s | write s | task peak MiB | driver peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path, wall, _tree_peak, summary in rows:
        counts, t, mem = summary["counts"], summary["timings_s"], summary["memory"]
        mb = counts["bytes"] / 1e6
        print(
            f"| {path.name} | {counts['documents']} | {mb:.0f} | {counts['partitions']} | "
            f"{counts['shuffle_ranges']} | {wall:.1f} | {mb / wall:.1f} | "
            f"{t['signatures']:.1f} | {t['shuffle']:.1f} | {t['edges']:.1f} | "
            f"{t['components']:.2f} | {t['write']:.1f} | {mem['task_peak_rss_mib']:.0f} | "
            f"{mem['driver_peak_rss_mib']:.0f} |"
        )
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
