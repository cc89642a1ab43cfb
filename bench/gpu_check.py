#!/usr/bin/env python3
"""One-shot GPU check: every CUDA kernel against its CPU twin, timed, plus whole runs.

    python bench/gpu_check.py OUTDIR [--sim] [--phase kernels|pipelines|all]
        [--max-bytes 2GB] [--budget-s 420]

What it does, in one process, with no network:

1. If ``.gpu_wheels/`` exists in the repository root, installs from it (``pip install
   --no-index --find-links .gpu_wheels``) whichever of dask, distributed, warcio,
   zstandard, pydivsufsort and tqdm the interpreter lacks (fill the folder here with
   ``bash bench/gpu_check_wheels.sh``).
2. Measures the device's copy bandwidth (device-to-device memcpy, bytes read + written).
3. Runs every CUDA kernel (tokenize, shingle, shingle_count, minhash, the fused
   ``signatures``, band_keys, bucket_edges, union-find hook/jump through
   ``connected_components``, each suffix-array step kernel and the whole GPU suffix
   array, the three LCP kernels and ``lcp_array``) on random inputs at several sizes up
   to ``--max-bytes``, compares each output with its CPU twin bit for bit (on the
   largest sizes: a sample of documents/positions, or a planted truth, when the CPU
   twin would be too slow; the row says which), and times it with CUDA events (one
   warm-up excluded, median of several runs).
4. Generates a corpus of a few GB (random words, planted near-duplicate copies, JSONL
   files), runs ``engine.dedup(..., backend="cuda")`` and
   ``engine.substr(..., backend="cuda")`` on it (``scheduler="local-cuda"``
   when dask-cuda is importable, else ``"threads"``), and compares clusters and spans
   with the cpu backend on the first file; also provenance flags
   (``ReferenceIndex.match``: suffix-array seeds on the GPU against the cpu hash join)
   for a slice of the first file against references taken from it.
5. Writes ``OUTDIR/gpu_check.md`` (Markdown tables: kernels, pipelines, targets) and
   ``OUTDIR/gpu_check.json`` (raw figures). Flat files only. Both are rewritten after
   every phase (``"complete": false`` until the end), so a run stopped at its time
   limit still returns what it measured. Exit status 1 when any check differs.

Sizes are bounded by ``--max-bytes`` (bytes of the main input of one kernel call) and by
the time budget: a step that would not fit in what is left is recorded as skipped.

``--sim`` sets ``NUMBA_ENABLE_CUDASIM=1`` before numba is imported (re-executing
itself if numba was already imported) and runs the same code at tiny sizes on NumPy;
CUDA-event times and bandwidth are then recorded as "not measured".

Phases (``--phase``, default ``all``): ``kernels`` (bandwidth, every kernel on random
text, then the long-tail and duplicate-heavy batches: bench/gpu_skewed.py) and
``pipelines`` (dedup, substr, provenance on a generated corpus). Before either, the
pre-flight (kernels/preflight.py: driver, NVVM, CuPy, one tiny kernel) is run and
written to the outputs; when it fails the run stops with exit status 2 and the message
names the missing piece. Outputs are ``gpu_check.md/json`` for ``--phase all``, else
``gpu_check_kernels.*`` / ``gpu_check_pipelines.*``.

How to run it on a GPU machine without network, as two calls that each fit a limited
time on the device:

    1. here, once:   bash bench/gpu_check_wheels.sh        # fills .gpu_wheels/ (~30 MB)
    2. device run 1: command  = "set -o pipefail; PYTHONUNBUFFERED=1 bench/gpu_check $OUT
                                 --phase kernels --max-bytes 2GB --budget-s 240
                                 2>&1 | tee $OUT/gpu_check_kernels.log"
                     with .gpu_wheels/ copied beside the checkout
                     timeout_s = 330
    3. device run 2: the same with --phase pipelines (log gpu_check_pipelines.log)
    4. read $OUT/gpu_check_<phase>.md (tables), .json (raw), .log.

Targets printed next to the measured numbers (GPU, one device): signatures >= 5 GB/s
of text (word 5-grams, 128 permutations); suffix array >= 1 GB/s on 1 GB; connected
components on 100M edges < 1 s; whole dedup >= 1 GB/s.
"""

from __future__ import annotations

import os
import sys

if "--sim" in sys.argv[1:] and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    if "numba" in sys.modules:  # too late to switch in this process: start again
        os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.gpu_common import TARGETS, Check, install_wheels, log, parse_bytes  # noqa: E402
from bench.gpu_kernels_sa import (  # noqa: E402
    check_suffix_array_lcp,
    check_suffix_array_steps,
    check_union_find,
)
from bench.gpu_kernels_text import (  # noqa: E402
    check_lsh_kernels,
    check_text_kernels,
    measure_bandwidth,
)
from bench.gpu_pipelines import check_pipelines, pipeline_row  # noqa: E402
from bench.gpu_report import device_info, markdown, preflight_markdown  # noqa: E402
from bench.gpu_skewed import check_skewed_inputs  # noqa: E402

PHASES = ("kernels", "pipelines", "all")
KERNEL_STEPS = (
    measure_bandwidth,
    check_text_kernels,
    check_lsh_kernels,
    check_union_find,
    check_suffix_array_steps,
    check_suffix_array_lcp,
    check_skewed_inputs,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--sim", action="store_true", help="CUDA simulator, tiny sizes")
    parser.add_argument(
        "--phase",
        choices=PHASES,
        default="all",
        help="kernels, pipelines, or all (default); run the two alone to fit a device's time",
    )
    parser.add_argument("--max-bytes", default="2GB", help="largest kernel input (default 2GB)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="time budget, seconds")
    parser.add_argument(
        "--skip-pipelines", action="store_true", help="same as --phase kernels (kept for old calls)"
    )
    args = parser.parse_args(argv)
    if args.skip_pipelines:
        args.phase = "kernels"
    args.max_bytes = parse_bytes(args.max_bytes)
    return args


def output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """(Markdown, JSON) paths: gpu_check.* for --phase all, gpu_check_<phase>.* otherwise."""
    stem = "gpu_check" if args.phase == "all" else f"gpu_check_{args.phase}"
    return args.outdir / f"{stem}.md", args.outdir / f"{stem}.json"


def write_preflight_only(args: argparse.Namespace, preflight: dict) -> None:
    """The outputs as they stand before any kernel runs: the pre-flight alone."""
    md_path, json_path = output_paths(args)
    md_path.write_text(
        "# Ouroboros GPU check\n\n"
        + preflight_markdown(preflight)
        + "\n"
        + ("" if preflight["ok"] else "**Stopped: the pre-flight failed.**\n")
    )
    raw = {"argv": sys.argv[1:], "phase": args.phase, "complete": False, "preflight": preflight}
    json_path.write_text(json.dumps(raw, indent=1, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = output_paths(args)

    from kernels.preflight import run_preflight

    preflight = run_preflight().as_dict()
    write_preflight_only(args, preflight)
    log(preflight["message"])
    if not preflight["ok"]:
        hint = "" if args.sim else "\nOn a machine without a GPU, run with --sim."
        print(f"gpu_check: {preflight['message']}{hint}", file=sys.stderr)
        return 2
    wheels = install_wheels() if not args.sim else {"action": "not needed (simulator)"}
    try:
        c = Check(args)
    except RuntimeError as exc:
        print(f"gpu_check: {exc}\nOn a machine without a GPU, run with --sim.", file=sys.stderr)
        return 2
    info = device_info(c)
    log(f"mode: {info['mode']}; phase {args.phase}; budget {args.budget_s:.0f} s")
    if c.sim:
        c.notes.append("simulator: CUDA-event times and bandwidth not measured; tiny sizes")

    def write(final: bool) -> str:
        """Write both output files (after every step: a killed run still leaves them)."""
        report = markdown(c, info, wheels, preflight=preflight, phase=args.phase)
        if not final:
            report += "\n**Partial: the run was still going when these files were written.**\n"
        md_path.write_text(report)
        raw = {
            "argv": sys.argv[1:],
            "phase": args.phase,
            "complete": final,
            "preflight": preflight,
            "device": info,
            "wheels": wheels,
            "bandwidth_gb_per_s": c.bandwidth_gbs,
            "kernels": c.kernels,
            "pipelines": c.pipelines,
            "notes": c.notes,
            "targets": TARGETS,
            "elapsed_s": time.perf_counter() - c.started,
        }
        json_path.write_text(json.dumps(raw, indent=1, default=str) + "\n")
        return report

    write(final=False)
    if args.phase in ("kernels", "all"):
        for step in KERNEL_STEPS:
            step(c)
            write(final=False)
    c.on_row = lambda: write(final=False)
    if args.phase in ("pipelines", "all"):
        work = Path(tempfile.mkdtemp(prefix="ouroboros-gpu-check-"))
        try:
            check_pipelines(c, work)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            pipeline_row(c, "pipelines", check=f"ERROR {exc!r}"[:300])
        finally:
            shutil.rmtree(work, ignore_errors=True)
    report = write(final=True)
    print(report)
    bad = [r for r in c.kernels if not str(r.get("check", "")).startswith(("equal", "skipped"))]
    bad += [p for p in c.pipelines if str(p.get("check", "")).startswith(("DIFF", "ERROR"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
